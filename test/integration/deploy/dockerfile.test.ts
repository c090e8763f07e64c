/**
 * The Dockerfile and .dockerignore: linted with dockerfile-utils (the validator behind VS Code's
 * Docker extension; no Docker engine runs where the tests run, so the image is not built here),
 * and checked against the repository: the files it copies exist and are in the build context,
 * the runtime is the Node.js version the project pins, the command is the package's CLI, and the
 * ports and health check are the ones the processes use.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { test } from 'node:test';
import { ValidationSeverity, validate } from 'dockerfile-utils';
import { ManagerConfigSchema, WildcardWorkerSchema, WorkerConfigSchema } from '../../../src/config/schema.ts';
import { packageJson, ROOT, readRepo, servedHealthPaths } from './support.ts';

const text = readRepo('Dockerfile');

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  name: string | null;
  from: string;
  instructions: Instruction[];
}

/** Instructions (continuations joined, comments dropped), grouped by build stage. */
function parse(dockerfile: string): { args: Map<string, string>; stages: Stage[] } {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = dockerfile.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i] as string;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i] as string;
      line = line.slice(0, -1) + (/^\s*#/.test(next) ? '' : ` ${next.trim()}`);
    }
    const m = /^\s*(\w+)\s+(.*)$/.exec(line);
    assert.ok(m, `line ${start + 1}: not an instruction`);
    const ins = { keyword: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start + 1 };
    if (ins.keyword === 'FROM') {
      const [from, as, name] = ins.args.split(/\s+/);
      stages.push({
        name: as?.toUpperCase() === 'AS' ? (name ?? null) : null,
        from: from as string,
        instructions: [],
      });
    } else if (stages.length === 0) {
      assert.equal(ins.keyword, 'ARG', `line ${ins.line}: only ARG may come before the first FROM`);
      const [k, v] = ins.args.split('=');
      args.set(k as string, v ?? '');
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return { args, stages };
}

const { args: globalArgs, stages } = parse(text);
const runtime = stages.at(-1) as Stage;
const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);
const last = (s: Stage, keyword: string) => all(s, keyword).at(-1);
const json = (i: Instruction | undefined): string[] => JSON.parse(i?.args ?? 'null') as string[];
const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, k: string) => globalArgs.get(k) ?? '');

test('dockerfile-utils finds no problem, with every optional rule as an error', () => {
  const problems = validate(text, {
    deprecatedMaintainer: ValidationSeverity.ERROR,
    directiveCasing: ValidationSeverity.ERROR,
    emptyContinuationLine: ValidationSeverity.ERROR,
    instructionCasing: ValidationSeverity.ERROR,
    instructionCmdMultiple: ValidationSeverity.ERROR,
    instructionEntrypointMultiple: ValidationSeverity.ERROR,
    instructionHealthcheckMultiple: ValidationSeverity.ERROR,
    instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
    instructionWorkdirRelative: ValidationSeverity.ERROR,
  });
  assert.deepEqual(
    problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`),
    [],
  );
});

test('stages: build with every dependency and the console, runtime on the pinned Node.js', () => {
  assert.deepEqual(
    stages.map((s) => s.name),
    ['build', 'deps', 'runtime'],
  );
  // The Node.js the project pins as its runtime (the `node` devDependency), on slim Debian.
  const version = packageJson.devDependencies.node;
  for (const s of stages) assert.equal(expand(s.from), `node:${version}-bookworm-slim`, `FROM of ${s.name}`);
  const build = stages[0] as Stage;
  const runs = all(build, 'RUN').map((r) => r.args);
  assert.ok(
    runs.some((r) => /^npm ci\b/.test(r)),
    'build: npm ci',
  );
  assert.ok(
    runs.some((r) => r === 'npm run build:console'),
    'build: npm run build:console',
  );
  assert.ok(packageJson.scripts['build:console'], 'the package has a build:console script');
  // The deps stage installs the production dependencies only; tsx is one (the CLI runs the
  // sources through it), so --omit=dev keeps it.
  const deps = stages[1] as Stage;
  assert.match(
    all(deps, 'RUN')
      .map((r) => r.args)
      .join('\n'),
    /npm ci --omit=dev/,
  );
  assert.ok(packageJson.dependencies.tsx, 'tsx is a dependency');
  assert.equal(packageJson.devDependencies.tsx, undefined);
  const copied = all(runtime, 'COPY').map((c) => c.args);
  assert.ok(copied.includes('--from=deps /app/node_modules ./node_modules'));
  assert.ok(
    !copied.some((c) => c.startsWith('--from=build') && c.includes('node_modules')),
    'no dev dependency reaches the runtime image',
  );
});

test('runtime: a non-root user, the package CLI as entrypoint, the console where the manager looks', () => {
  const user = last(runtime, 'USER')?.args ?? 'root';
  assert.match(user, /^[1-9]\d*(:[1-9]\d*)?$/, `USER ${user}: numeric and not root (runAsNonRoot checks it)`);
  const workdir = last(runtime, 'WORKDIR')?.args as string;
  const entrypoint = json(last(runtime, 'ENTRYPOINT'));
  assert.equal(entrypoint.at(-1), 'appproxy', 'ENTRYPOINT runs the appproxy command');
  assert.ok(Object.keys(packageJson.bin).includes('appproxy'));
  const link = all(runtime, 'RUN')
    .map((r) => /ln -s (\S+) \/usr\/local\/bin\/appproxy\b/.exec(r.args)?.[1])
    .find(Boolean);
  assert.equal(
    link,
    posix.join(workdir, packageJson.bin.appproxy as string),
    '/usr/local/bin/appproxy is the package bin',
  );
  // src/manager/http/console.ts serves console/dist next to src/ in the checkout.
  assert.match(readRepo('src/manager/http/console.ts'), /new URL\('\.\.\/\.\.\/\.\.\/console\/dist'/);
  const consoleCopy = all(runtime, 'COPY').find((c) => c.args.startsWith('--from=build'));
  assert.ok(consoleCopy);
  const [, from, to] = consoleCopy.args.split(/\s+/);
  assert.equal(from, `${last(stages[0] as Stage, 'WORKDIR')?.args}/console/dist`);
  assert.equal(posix.join(workdir, to as string), posix.join(workdir, 'console/dist'));
});

test('EXPOSE and HEALTHCHECK: the default ports of the config schema, a path the manager serves', () => {
  // Port() of the schema puts the default in the options, which TypeBox's types do not carry.
  const defaultOf = (schema: unknown) => (schema as { default: number }).default;
  const managerPort = defaultOf(ManagerConfigSchema.properties.listen.properties.port);
  const adminPort = defaultOf(WorkerConfigSchema.anyOf[0].properties.admin.properties.port);
  const wildcardPort = defaultOf(WildcardWorkerSchema.properties.port);
  const exposed = all(runtime, 'EXPOSE')
    .flatMap((e) => e.args.split(/\s+/))
    .map(Number)
    .sort((a, b) => a - b);
  assert.deepEqual(
    exposed,
    [managerPort, wildcardPort, adminPort].sort((a, b) => a - b),
  );
  const hc = last(runtime, 'HEALTHCHECK');
  assert.ok(hc, 'HEALTHCHECK');
  assert.match(hc.args, /\bCMD \[/, 'HEALTHCHECK CMD in exec form');
  const env = all(runtime, 'ENV')
    .map((e) => /^APPPROXY_HEALTHCHECK_URL=(\S+)$/.exec(e.args)?.[1])
    .find(Boolean);
  assert.ok(
    env && hc.args.includes('APPPROXY_HEALTHCHECK_URL'),
    'the check fetches APPPROXY_HEALTHCHECK_URL',
  );
  const url = new URL(env);
  assert.equal(Number(url.port), managerPort);
  assert.ok(servedHealthPaths().manager.has(url.pathname), `${url.pathname} is not served by the manager`);
  assert.equal(url.pathname, '/healthz', 'liveness, not readiness: a store outage is no reason to restart');
});

/** .dockerignore semantics: patterns anchored at the context root, `*`, `?`, `**`, `!` negation. */
function ignored(path: string): boolean {
  const rules = readRepo('.dockerignore')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  let out = false;
  for (const rule of rules) {
    const negate = rule.startsWith('!');
    const pattern = posix.normalize(negate ? rule.slice(1) : rule).replace(/^\/+|\/+$/g, '');
    const re = new RegExp(
      `^${pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?')}(?:/.*)?$`,
    );
    if (re.test(path)) out = !negate;
  }
  return out;
}

test('every file the build copies exists and is in the build context; local state is not', () => {
  for (const s of stages) {
    for (const c of all(s, 'COPY')) {
      if (c.args.startsWith('--from=')) continue;
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        assert.ok(existsSync(join(ROOT, src)), `COPY ${src} (line ${c.line}): no such file`);
        assert.ok(!ignored(src), `COPY ${src} (line ${c.line}): excluded by .dockerignore`);
      }
    }
  }
  // What the build and the processes read, deep inside the copied folders.
  for (const f of [
    'bin/appproxy.js',
    'src/cli/main.ts',
    'src/agent/apps/web.mjs',
    'src/stores/sql/migrations',
    'scripts/console.ts',
    'console/vite.config.ts',
    'console/src/main.tsx',
  ]) {
    assert.ok(existsSync(join(ROOT, f)), `${f} exists`);
    assert.ok(!ignored(f), `${f} is excluded by .dockerignore`);
  }
  for (const f of [
    '.git',
    'node_modules',
    'node_modules/tsx/package.json',
    '.appproxy/admin-token',
    '.appproxy-cluster/setup-token-key.jwk',
    'console/dist/index.html',
    'test-results/x.json',
    'npm-debug.log',
    'src/debug.log',
    '.env',
  ]) {
    assert.ok(ignored(f), `${f} must stay out of the build context`);
  }
});
