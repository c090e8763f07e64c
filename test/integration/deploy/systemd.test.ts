/**
 * deploy/systemd: the units verify with systemd's own parser (systemd-analyze verify, where the
 * machine has it), run real CLI commands with real flags, and the example configs they name load
 * with the project's config loaders.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import {
  type CliInvocation,
  isSecretEnv,
  listeningPorts,
  loadConfigFor,
  type ProcessConfig,
  ROOT,
  readRepo,
  resolveCli,
  sourcesMention,
} from './support.ts';

const DIR = 'deploy/systemd';
const CLI = '/usr/local/bin/appproxy';
/** Instances of the worker template that the examples configure (worker-<instance>.json). */
const WORKER_INSTANCES = readdirSync(join(ROOT, DIR, 'etc'))
  .map((f) => /^worker-(.+)\.json$/.exec(f)?.[1])
  .filter((x): x is string => x !== undefined);

type Unit = Map<string, [string, string][]>;

/** systemd's unit syntax: sections, `Key=value` lines (repeatable), comments, continuations. */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: [string, string][] | undefined;
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const [n, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head) {
      section = [];
      unit.set(head[1] as string, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `line ${n + 1}: "${line}" is neither a section nor Key=value`);
    section.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return unit;
}

function values(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

function value(unit: Unit, section: string, key: string): string | undefined {
  return values(unit, section, key).at(-1);
}

const unitFiles = readdirSync(join(ROOT, DIR)).filter((f) => f.endsWith('.service'));
const units = new Map(unitFiles.map((f) => [f, parseUnit(readRepo(`${DIR}/${f}`))]));

/** The repository file that stands for a path under /etc/appproxy on a host. */
function exampleFor(hostPath: string): string {
  const m = /^\/etc\/appproxy\/([^/]+)$/.exec(hostPath);
  assert.ok(m, `${hostPath} is not under /etc/appproxy`);
  const name = m[1] as string;
  const candidates = [`${DIR}/etc/${name}`, `${DIR}/etc/${name}.example`];
  const found = candidates.find((p) => existsSync(join(ROOT, p)));
  assert.ok(found, `no example for ${hostPath} in ${DIR}/etc (looked for ${candidates.join(', ')})`);
  return found;
}

/** `KEY=value` lines of an environment file, commented-out ones included (they document names). */
function envFile(path: string): { names: string[]; set: Record<string, string> } {
  const names: string[] = [];
  const set: Record<string, string> = {};
  for (const line of readRepo(path).split('\n')) {
    const m = /^(#)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    names.push(m[2] as string);
    if (!m[1]) set[m[2] as string] = m[3] as string;
  }
  return { names, set };
}

interface ServiceRun {
  unit: string;
  /** The unit name as started: the template with each example instance. */
  instance: string;
  invocation: CliInvocation;
  config: ProcessConfig;
}

/** Every process the units start, with its loaded config (instances of the template expanded). */
function serviceRuns(): ServiceRun[] {
  const runs: ServiceRun[] = [];
  for (const [file, unit] of units) {
    const instances = file.includes('@.') ? WORKER_INSTANCES : [''];
    for (const i of instances) {
      const expand = (s: string) => s.replaceAll('%i', i);
      const exec = expand(value(unit, 'Service', 'ExecStart') ?? '');
      const [bin, ...argv] = exec.split(/\s+/);
      assert.equal(bin, CLI, `${file}: ExecStart runs ${bin}, not the installed CLI ${CLI}`);
      const invocation = resolveCli(argv);
      const configPath = invocation.options.config;
      assert.equal(typeof configPath, 'string', `${file}: ExecStart gives no --config`);
      const env: Record<string, string> = {};
      for (const f of values(unit, 'Service', 'EnvironmentFile').map(expand)) {
        const optional = f.startsWith('-');
        const hostPath = optional ? f.slice(1) : f;
        if (optional && !existsSync(join(ROOT, DIR, 'etc', `${basename(hostPath)}.example`))) continue;
        Object.assign(env, envFile(exampleFor(hostPath)).set);
      }
      const config = loadConfigFor(invocation, readRepo(exampleFor(configPath as string)), env);
      runs.push({ unit: file, instance: file.replace('@.', `@${i}.`), invocation, config });
    }
  }
  return runs;
}

test('there is a unit for the manager, the workers and the agent', () => {
  assert.deepEqual([...units.keys()].sort(), [
    'appproxy-agent.service',
    'appproxy-manager.service',
    'appproxy-worker@.service',
  ]);
  assert.ok(WORKER_INSTANCES.length >= 2, 'example configs for a port-mode and a wildcard-mode worker');
});

test('units pass systemd-analyze verify', (t) => {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
  const systemUnits = '/usr/lib/systemd/system';
  if (which.status !== 0 || !existsSync(join(systemUnits, 'multi-user.target'))) {
    t.skip('systemd-analyze is not installed here; the parser-based checks below still run');
    return;
  }
  // An alternate root holding systemd's own units, the units under test and a stand-in for the
  // CLI (verify checks that ExecStart's program exists), so nothing on this machine is touched.
  const root = mkdtempSync(join(tmpdir(), 'appproxy-systemd-'));
  try {
    cpSync(systemUnits, join(root, 'usr/lib/systemd/system'), { recursive: true });
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    writeFileSync(join(root, CLI), '#!/bin/sh\n');
    chmodSync(join(root, CLI), 0o755);
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    for (const f of unitFiles) cpSync(join(ROOT, DIR, f), join(root, 'etc/systemd/system', f));
    const names = unitFiles.flatMap((f) =>
      f.includes('@.') ? WORKER_INSTANCES.map((i) => f.replace('@.', `@${i}.`)) : [f],
    );
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', ...names], {
      encoding: 'utf8',
    });
    // Unknown keys and bad values are only warnings ("…, ignoring") with exit code 0: any
    // output at all is a failure.
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'systemd-analyze verify reported problems');
    assert.equal(r.status, 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('units: network ordering, a dedicated user, secrets from files, restarts, hardening', () => {
  for (const [file, u] of units) {
    const at = (s: string, k: string) => value(u, s, k);
    assert.ok(at('Unit', 'Description'), `${file}: Description`);
    assert.match(at('Unit', 'After') ?? '', /\bnetwork-online\.target\b/, `${file}: After=`);
    assert.match(at('Unit', 'Wants') ?? '', /\bnetwork-online\.target\b/, `${file}: Wants=`);
    assert.equal(at('Install', 'WantedBy'), 'multi-user.target', `${file}: WantedBy=`);
    const user = at('Service', 'User');
    assert.ok(user && user !== 'root' && user !== '0', `${file}: runs as a dedicated user, not root`);
    assert.ok(values(u, 'Service', 'EnvironmentFile').length > 0, `${file}: EnvironmentFile=`);
    assert.equal(at('Service', 'Restart'), 'on-failure', `${file}: Restart=on-failure`);
    assert.equal(at('Service', 'NoNewPrivileges'), 'yes', `${file}: NoNewPrivileges=yes`);
    assert.equal(at('Service', 'PrivateTmp'), 'yes', `${file}: PrivateTmp=yes (tsx caches there)`);
    assert.equal(at('Service', 'CapabilityBoundingSet'), '', `${file}: no capabilities`);
    assert.equal(at('Service', 'MemoryDenyWriteExecute'), undefined, `${file}: V8's JIT needs W+X memory`);
    for (const [k, v] of u.get('Service') ?? []) {
      if (k === 'Environment') {
        for (const name of v.split(/\s+/).map((a) => a.replace(/^"|=.*$/g, ''))) {
          assert.ok(!isSecretEnv(name), `${file}: ${name} is a secret: EnvironmentFile=, not Environment=`);
        }
      }
    }
    if (file === 'appproxy-agent.service') {
      // Sessions inherit the agent's sandbox: it is hardened less, deliberately (see the unit).
      assert.equal(at('Service', 'ProtectSystem'), 'full');
      assert.equal(at('Service', 'PrivateDevices'), undefined, 'sessions use GPUs');
      assert.equal(at('Service', 'KillMode'), 'mixed', 'the agent stops its sessions itself');
    } else {
      assert.equal(at('Service', 'ProtectSystem'), 'strict', `${file}: ProtectSystem=strict`);
      assert.equal(at('Service', 'ProtectHome'), 'yes', `${file}: ProtectHome=yes`);
      assert.equal(at('Service', 'PrivateDevices'), 'yes', `${file}: PrivateDevices=yes`);
      assert.equal(at('Service', 'SystemCallFilter'), '@system-service', `${file}: SystemCallFilter=`);
    }
  }
  const nofile = Number(value(units.get('appproxy-worker@.service') as Unit, 'Service', 'LimitNOFILE'));
  assert.ok(nofile >= 65536, `workers hold two sockets per connection: LimitNOFILE=${nofile} is too low`);
});

test('units: the manager, the workers and the agent each run as a user of their own', () => {
  const users = [...units].map(([f, u]) => [f, value(u, 'Service', 'User')] as const);
  assert.equal(new Set(users.map(([, u]) => u)).size, users.length, `users: ${JSON.stringify(users)}`);
  const sysusers = readRepo(`${DIR}/appproxy.sysusers.conf`);
  const declared = new Set([...sysusers.matchAll(/^u\s+(\S+)/gm)].map((m) => m[1]));
  for (const [f, u] of users) assert.ok(declared.has(u), `${f}: user ${u} is not in appproxy.sysusers.conf`);
  for (const [f, unit] of units) {
    assert.equal(value(unit, 'Service', 'Group'), value(unit, 'Service', 'User'), `${f}: Group=`);
  }
});

test('appproxy.sysusers.conf is valid for systemd-sysusers', (t) => {
  if (spawnSync('sh', ['-c', 'command -v systemd-sysusers']).status !== 0) {
    t.skip('systemd-sysusers is not installed here');
    return;
  }
  const root = mkdtempSync(join(tmpdir(), 'appproxy-sysusers-'));
  try {
    const out = execFileSync(
      'systemd-sysusers',
      [`--root=${root}`, '--dry-run', join(ROOT, DIR, 'appproxy.sysusers.conf')],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    assert.doesNotMatch(out, /Failed|ignoring/i);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('ExecStart runs a real subcommand with real flags, and the example config it names loads', () => {
  const runs = serviceRuns();
  const kinds = runs.map((r) => `${r.instance}: ${r.invocation.path.join(' ')}`);
  assert.deepEqual(
    runs.map((r) => r.invocation.path.join(' ')).sort(),
    ['agent', 'manager', ...WORKER_INSTANCES.map(() => 'worker')].sort(),
    kinds.join('\n'),
  );
  const modes = runs.flatMap((r) => (r.config.kind === 'worker' ? [r.config.config.frontendMode] : []));
  assert.deepEqual(modes.sort(), ['port', 'wildcard']);
});

test('the example configs agree with the units and with each other', () => {
  const runs = serviceRuns();
  const manager = runs.find((r) => r.config.kind === 'manager');
  const agent = runs.find((r) => r.config.kind === 'agent');
  assert.ok(manager?.config.kind === 'manager' && agent?.config.kind === 'agent');
  const m = manager.config.config;
  // The signing key comes in as a systemd credential: its path is the credential's.
  const creds = values(units.get(manager.unit) as Unit, 'Service', 'LoadCredential').map(
    (c) => c.split(':')[0],
  );
  assert.ok(
    creds.some((id) => m.setupTokenKeyFile === `/run/credentials/${manager.unit}/${id}`),
    `setupTokenKeyFile ${m.setupTokenKeyFile} is not a credential of ${manager.unit} (${creds})`,
  );
  assert.equal(m.agent.name, agent.config.config.name, 'managers name the agent');
  // The agent's dataDir is the state directory systemd creates and keeps writable for it.
  const state = value(units.get(agent.unit) as Unit, 'Service', 'StateDirectory');
  assert.equal(agent.config.config.dataDir, `/var/lib/${state}`);
  // One host runs the agent and the workers (its sessions listen on loopback): no port twice.
  const ports = runs.flatMap((r) => listeningPorts(r.config).map((p) => [p, r.instance] as const));
  const seen = new Map<number, string>();
  for (const [p, who] of ports) {
    assert.ok(!seen.has(p), `port ${p} is used by ${seen.get(p)} and ${who}`);
    seen.set(p, who);
  }
  const authorities = runs.flatMap((r) => (r.config.kind === 'worker' ? [r.config.config.authority] : []));
  assert.equal(new Set(authorities).size, authorities.length, 'worker authorities are unique');
  const kvs = runs.map((r) => (r.config.config.stores as { kv: { endpoints: string[] } }).kv.endpoints);
  for (const kv of kvs) assert.deepEqual(kv, kvs[0], 'every process lists the same etcd members');
});

test('environment files: only variables the code reads, placeholders only', () => {
  const files = readdirSync(join(ROOT, DIR, 'etc')).filter((f) => f.endsWith('.env.example'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const { names, set } = envFile(`${DIR}/etc/${f}`);
    assert.ok(names.length > 0, `${f} documents no variable`);
    for (const n of names) assert.ok(sourcesMention(n), `${f}: ${n} is not read anywhere in src/`);
    for (const [n, v] of Object.entries(set)) {
      if (isSecretEnv(n)) assert.match(v, /^CHANGE-ME/, `${f}: ${n} must hold a placeholder`);
    }
  }
});
