/**
 * The web console's build (console/, served by the manager at `/`).
 *
 *   node --import tsx scripts/console.ts types            regenerate console/src/api.gen.ts
 *   node --import tsx scripts/console.ts check            fail when api.gen.ts is stale
 *   node --import tsx scripts/console.ts build            check, then build console/dist
 *   node --import tsx scripts/console.ts build --if-stale build only when a source is newer
 *
 * The API types come from the manager's own OpenAPI document: an embedded system is started on a
 * temporary data folder (no port is opened beyond loopback), `/openapi.json` read, and
 * openapi-typescript turns it into types. A route or schema changed without regenerating them
 * fails `check` (run by `npm test` and by every build), so the console never compiles against an
 * API that is not there.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
import { validateEmbeddedConfig } from '../src/config/load.ts';
import { createLogger } from '../src/core/logger.ts';
import { startEmbedded } from '../src/processes/embedded.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const CONSOLE = join(ROOT, 'console');
const GENERATED = join(CONSOLE, 'src', 'api.gen.ts');
const DIST = join(CONSOLE, 'dist');
const STAMP = join(DIST, '.built');

const HEADER = `// Generated from the manager's OpenAPI document by \`npm run console:types\`; do not edit.
// \`npm test\` and every console build fail while it differs from what the API says.
/* eslint-disable */
`;

/** The manager's OpenAPI document, from an embedded system started for the purpose. */
async function openApiDocument(): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'appproxy-openapi-'));
  try {
    const config = validateEmbeddedConfig({
      dataDir,
      logLevel: 'error',
      manager: { port: 0 },
      workers: [{ authority: 'openapi', frontendMode: 'wildcard', port: 0 }],
    });
    const sys = await startEmbedded(config, {
      logger: createLogger({ level: 'error', destination: process.stderr }),
      env: { APPPROXY_ADMIN_TOKEN: `openapi-${process.pid}-${Date.now()}` },
    });
    try {
      const res = await fetch(`${sys.managerUrl}/openapi.json`);
      if (!res.ok) throw new Error(`/openapi.json answered ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    } finally {
      await sys.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function types(): Promise<void> {
  writeFileSync(GENERATED, await generatedFrom());
  console.log(`wrote ${GENERATED}`);
}

async function generatedFrom(): Promise<string> {
  const doc = await openApiDocument();
  const ast = await openapiTS(doc as never);
  return HEADER + astToString(ast);
}

async function check(): Promise<boolean> {
  const want = await generatedFrom();
  const have = existsSync(GENERATED) ? readFileSync(GENERATED, 'utf8') : '';
  if (want === have) return true;
  console.error(
    'console/src/api.gen.ts is stale: the manager API changed. Run `npm run console:types` and commit it.',
  );
  return false;
}

/** Newest modification time under a folder (files only). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function stale(): boolean {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  const sources = Math.max(
    newest(join(CONSOLE, 'src')),
    statSync(join(CONSOLE, 'index.html')).mtimeMs,
    statSync(join(CONSOLE, 'vite.config.ts')).mtimeMs,
  );
  return sources > built;
}

async function build(ifStale: boolean): Promise<void> {
  if (ifStale && !stale()) return;
  console.log('building the web console (console/ → console/dist)…');
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: join(CONSOLE, 'vite.config.ts'), logLevel: 'warn' });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  console.log('web console built');
}

const [cmd, flag] = process.argv.slice(2);
if (cmd === 'types') await types();
else if (cmd === 'check') process.exitCode = (await check()) ? 0 : 1;
else if (cmd === 'build') {
  // `--if-stale` (npm start) trusts the committed types: a fresh clone builds without starting a
  // system; `npm test` checks them.
  if (flag !== '--if-stale' && !(await check())) process.exit(1);
  await build(flag === '--if-stale');
} else {
  console.error('usage: scripts/console.ts types | check | build [--if-stale]');
  process.exitCode = 2;
}
