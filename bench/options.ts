/**
 * The command line of `npm run bench` (see the header of bench/run.ts) and what follows from it:
 * the sections to run, rounds, durations and the counts of each section.
 */
import { parseArgs } from 'node:util';
import { NOFILE_HARD } from './lib/proc.ts';

export const SECTIONS = [
  'http',
  'ws',
  'tcp',
  'control',
  'revocation',
  'inference',
  'memory',
  'leak',
] as const;
export type Section = (typeof SECTIONS)[number];
/**
 * What runs without --only: the inference section takes ~8 min (2–3 min quick) on its own and
 * would more than double a quick run, so it runs when named (`--only inference`, or in a list).
 */
const DEFAULT_SECTIONS = SECTIONS.filter((s) => s !== 'inference');

/** Connections of the HTTP and WebSocket loads and of the TCP connection rate. */
export const CONNS = 50;
/** The proxy under test gets CPU 0; the load generator, the upstream and the harness CPU 1. */
export const PROXY_CPU = '0';
export const LOAD_CPU = '1';

/** A type, not an interface: the report takes it as a record. */
export type Counts = {
  tcpBytes: number;
  circuitLevels: number[];
  controlSamples: number;
  /** Live login sessions (each with a cookie and a WebSocket) in the revocation section, and how many are ended. */
  revocationSessions: number;
  revocationSamples: number;
  terminateSamples: number;
  idleWs: number;
  idleCircuits: number;
  leakRequests: number;
  /** llm-sim replicas behind the endpoint, rounds over the policies, seconds of arrivals per run. */
  inferenceReplicas: number;
  inferenceRounds: number;
  inferenceRunS: number;
  /** Client aborts sent to an endpoint at the end of the inference section (fd and engine check). */
  endpointAborts: number;
};

/** Workloads of the inference section (`--workloads`). */
export const INFERENCE_WORKLOADS = ['high-reuse', 'low-reuse', 'slow-replica', 'replica-kill'] as const;

/** Balancing policies of an endpoint the inference section can compare (`--policies`). */
export const POLICIES = ['round-robin', 'random', 'weighted', 'least-inflight', 'prefix', 'llm'] as const;

export interface Options {
  quick: boolean;
  /** The selected sections, in the order given. */
  only: Set<Section>;
  rounds: number;
  /** Seconds per measurement. */
  duration: number;
  /** Rounds of the half-load p99 measurement (it needs a calibration run each). */
  halfRounds: number;
  install: boolean;
  /** Whether docs/performance.md and bench/results/latest.json are written (not `--no-write`). */
  write: boolean;
  /** Endpoint policies the inference section compares (round-robin and least-inflight always run). */
  policies: string[];
  /** Workloads the inference section runs (`--workloads`; all by default). */
  workloads: string[];
  counts: Counts;
}

/** The options of this process's command line, or 'help' for `--help`. */
export function parseOptions(): Options | 'help' {
  const { values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      install: { type: 'boolean', default: false },
      policies: { type: 'string' },
      workloads: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (args.help) return 'help';
  const quick = args.quick!;
  const only = new Set<Section>(
    args.only ? (args.only.split(',').map((s) => s.trim()) as Section[]) : DEFAULT_SECTIONS,
  );
  for (const s of only) if (!SECTIONS.includes(s)) throw new Error(`--only: unknown section ${s}`);
  const policies = args.policies ? args.policies.split(',').map((s) => s.trim()) : [...POLICIES];
  for (const p of policies)
    if (!(POLICIES as readonly string[]).includes(p)) throw new Error(`--policies: unknown policy ${p}`);
  const workloads = args.workloads
    ? args.workloads.split(',').map((s) => s.trim())
    : [...INFERENCE_WORKLOADS];
  for (const w of workloads)
    if (!(INFERENCE_WORKLOADS as readonly string[]).includes(w))
      throw new Error(`--workloads: unknown workload ${w}`);
  // --quick trades precision for a run under two minutes: one round, smaller counts.
  const rounds = Number(args.rounds ?? (quick ? 1 : 3));
  return {
    quick,
    only,
    rounds,
    duration: parseSeconds(args.duration ?? (quick ? '1s' : '10s')),
    halfRounds: quick ? 1 : rounds,
    install: args.install!,
    write: !args['no-write'],
    policies,
    workloads,
    counts: {
      tcpBytes: quick ? 128 * 1024 * 1024 : 1024 * 1024 * 1024,
      circuitLevels: quick ? [500] : [1000, 10_000],
      controlSamples: quick ? 15 : 200,
      terminateSamples: quick ? 8 : 100,
      revocationSessions: quick ? 100 : 1000,
      revocationSamples: quick ? 10 : 100,
      // The proxy holds 2 fds per WebSocket and may not raise its limit past the hard one.
      idleWs: Math.min(quick ? 1000 : 10_000, Math.floor((NOFILE_HARD - 200) / 2)),
      idleCircuits: quick ? 1000 : 10_000,
      leakRequests: quick ? 2_000 : 100_000,
      inferenceReplicas: 4,
      // Two rounds in opposite orders by default: ~8 min with every policy (seven rows × four runs).
      inferenceRounds: args.rounds ? rounds : quick ? 1 : 2,
      inferenceRunS: quick ? 1.5 : 3,
      endpointAborts: quick ? 5_000 : 100_000,
    },
  };
}

function parseSeconds(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`--duration: cannot read ${s}`);
  const v = Number(m[1]);
  return m[2] === 'ms' ? v / 1000 : m[2] === 'm' ? v * 60 : v;
}
