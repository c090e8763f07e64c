// Options of the llm-sim engine: one table gives each option its flag, environment variable,
// default and meaning, so the parser, `--help` and the documentation cannot drift apart.
// Precedence: default < environment (LLMSIM_<NAME>, e.g. LLMSIM_TIME_SCALE) < flag.

/** @typedef {{ key: string, flag: string, kind: 'int' | 'num' | 'str', def: unknown, min?: number, doc: string }} OptionSpec */

/** @type {OptionSpec[]} */
export const OPTIONS = [
  { key: 'host', flag: 'host', kind: 'str', def: '127.0.0.1', doc: 'address to bind' },
  { key: 'port', flag: 'port', kind: 'int', def: 8000, min: 0, doc: 'port to bind (0: any free port)' },
  { key: 'model', flag: 'model', kind: 'str', def: 'sim-model', doc: 'served model name' },
  {
    key: 'maxNumSeqs',
    flag: 'max-num-seqs',
    kind: 'int',
    def: 16,
    min: 1,
    doc: 'most requests in the running set',
  },
  {
    key: 'stepBudget',
    flag: 'step-budget',
    kind: 'int',
    def: 2048,
    min: 1,
    doc: 'tokens one step processes (decodes + prefill chunks)',
  },
  { key: 'numBlocks', flag: 'num-blocks', kind: 'int', def: 1024, min: 1, doc: 'KV cache blocks' },
  { key: 'blockSize', flag: 'block-size', kind: 'int', def: 16, min: 1, doc: 'tokens per KV block' },
  {
    key: 'timeScale',
    flag: 'time-scale',
    kind: 'num',
    def: 1,
    min: 0,
    doc: 'wall time per simulated millisecond (0.1: ten times faster than real)',
  },
  { key: 'seed', flag: 'seed', kind: 'int', def: 0, min: 0, doc: 'seed of the generated words' },
  { key: 't0Ms', flag: 't0-ms', kind: 'num', def: 5, min: 0, doc: 'fixed cost of a step (ms)' },
  {
    key: 'perSeqMs',
    flag: 'per-seq-ms',
    kind: 'num',
    def: 0.5,
    min: 0,
    doc: 'cost per request scheduled in the step (ms)',
  },
  {
    key: 'perPrefillTokenMs',
    flag: 'per-prefill-token-ms',
    kind: 'num',
    def: 0.02,
    min: 0,
    doc: 'cost per uncached prompt token prefilled in the step (ms)',
  },
  {
    key: 'streamInterval',
    flag: 'stream-interval',
    kind: 'int',
    def: 1,
    min: 1,
    doc: 'tokens per streamed chunk (the last chunk may hold fewer)',
  },
  {
    key: 'startupDelayMs',
    flag: 'startup-delay-ms',
    kind: 'int',
    def: 0,
    min: 0,
    doc: '/health answers 503 (and completions 503) for this long after start: a model loading',
  },
  {
    key: 'fault',
    flag: 'fault',
    kind: 'str',
    def: '',
    doc: 'fault at start: crash | hang | slow:FACTOR | status:503 | status:429 | broken, or the JSON body of POST /_sim/fault',
  },
];

export class OptionError extends Error {}

/** Parses argv (after the script) and the environment into a frozen options object. */
export function parseOptions(argv, env = process.env) {
  const out = {};
  for (const o of OPTIONS) {
    const fromEnv = env[`LLMSIM_${o.flag.toUpperCase().replaceAll('-', '_')}`];
    out[o.key] = fromEnv === undefined ? o.def : convert(o, fromEnv, 'environment');
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      out.help = true;
      continue;
    }
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    const spec = m && OPTIONS.find((o) => o.flag === m[1]);
    if (!spec) throw new OptionError(`unknown option ${arg} (see --help)`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new OptionError(`--${spec.flag} needs a value`);
    out[spec.key] = convert(spec, value, `--${spec.flag}`);
  }
  return Object.freeze(out);
}

function convert(spec, raw, where) {
  if (spec.kind === 'str') return raw;
  const n = Number(raw);
  const ok = raw.trim() !== '' && Number.isFinite(n) && (spec.kind === 'num' || Number.isSafeInteger(n));
  if (!ok || n < (spec.min ?? Number.NEGATIVE_INFINITY)) {
    const what = spec.kind === 'int' ? 'an integer' : 'a number';
    throw new OptionError(`${where}: ${spec.flag} must be ${what} >= ${spec.min}, got "${raw}"`);
  }
  return n;
}

export function usage() {
  const lines = OPTIONS.map((o) => `  --${o.flag.padEnd(22)} ${o.doc} (default ${JSON.stringify(o.def)})`);
  return `usage: node server.mjs [options]\n${lines.join('\n')}\nEach option may also come from LLMSIM_<OPTION> in the environment (flags win).\n`;
}
