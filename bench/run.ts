/**
 * `npm run bench`: AppProxy's worker (the data plane) against real peers, side by side on
 * loopback. See bench/README.md for what is measured and how; the latest summary goes to
 * docs/performance.md, every run's numbers to bench/results/.
 *
 * Options: --quick, --only http,ws,tcp,control,revocation,inference,memory,leak, --rounds N,
 *          --duration 10s, --install (apt-get install missing peers), --no-write (leave docs/ alone),
 *          --policies round-robin,random,weighted,least-inflight,prefix,llm (inference section;
 *          round-robin and least-inflight always run: the ratios are taken against them),
 *          --workloads high-reuse,low-reuse,slow-replica,replica-kill (inference section)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Children, type Context, createContext, startTargets } from './context.ts';
import { machine } from './lib/machine.ts';
import { canPin, ROOT } from './lib/proc.ts';
import { type Report, renderMarkdown, renderTerminal } from './lib/report.ts';
import { LOAD_CPU, type Options, PROXY_CPU, parseOptions, type Section } from './options.ts';
import * as control from './sections/control.ts';
import * as http from './sections/http.ts';
import * as inference from './sections/inference.ts';
import * as leak from './sections/leak.ts';
import * as memory from './sections/memory.ts';
import * as revocation from './sections/revocation.ts';
import * as tcp from './sections/tcp.ts';
import * as ws from './sections/ws.ts';

/** The sections in the order they run (whatever the order of --only). */
const RUN_ORDER: [Section, (ctx: Context) => Promise<void>][] = [
  ['http', http.run],
  ['ws', ws.run],
  ['tcp', tcp.run],
  ['memory', memory.run],
  ['control', control.run],
  ['revocation', revocation.run],
  ['inference', inference.run],
  ['leak', leak.run],
];

/** A section that fails is reported as failed; the others still run. */
async function guarded(ctx: Context, name: Section, section: (ctx: Context) => Promise<void>): Promise<void> {
  const ts = performance.now();
  try {
    await section(ctx);
    console.log(`  (${name}: ${((performance.now() - ts) / 1000).toFixed(0)} s)`);
  } catch (err) {
    ctx.out.skipped[name] = `failed: ${String(err).replace(/\s+/g, ' ').slice(0, 400)}`;
    console.log(`  ${name} ${ctx.out.skipped[name]}`);
  }
}

/** The terminal summary, this run's JSON and (unless --no-write) latest.json and docs/performance.md. */
function write(report: Report, opts: Options): void {
  console.log(`\n${renderTerminal(report)}`);
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const name = `${report.date.replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`;
  writeFileSync(join(dir, name), json);
  console.log(`results: bench/results/${name}`);
  // latest.json is kept in git beside docs/performance.md: both come from the same run.
  if (opts.write) {
    writeFileSync(join(dir, 'latest.json'), json);
    writeFileSync(join(ROOT, 'docs/performance.md'), renderMarkdown(report));
    console.log('summary: docs/performance.md');
  }
}

async function main(): Promise<void> {
  const opts = parseOptions();
  if (opts === 'help') {
    console.log(readFileSync(new URL(import.meta.url), 'utf8').split('*/')[0]);
    return;
  }
  const started = new Date();
  const t0 = performance.now();
  const children = new Children();
  process.on('SIGINT', () => void children.stopAll().then(() => process.exit(130)));
  const ctx = await createContext(opts, children);
  try {
    const { only } = opts;
    if (only.has('http') || only.has('ws') || only.has('memory')) await startTargets(ctx);
    for (const [name, section] of RUN_ORDER) if (only.has(name)) await guarded(ctx, name, section);
  } finally {
    await children.stopAll();
  }
  const report: Report = {
    date: started.toISOString(),
    quick: opts.quick,
    rounds: opts.rounds,
    durationS: opts.duration,
    elapsedS: (performance.now() - t0) / 1000,
    sections: [...opts.only],
    machine: machine(ctx.versions),
    pinning: canPin ? { proxy: PROXY_CPU, load: LOAD_CPU } : null,
    counts: opts.counts,
    results: ctx.out.results,
    skipped: ctx.out.skipped,
    notes: ctx.out.notes,
  };
  write(report, opts);
  console.log(`done in ${report.elapsedS.toFixed(0)} s`);
}

await main();
process.exit(0);
