/** Template configuration: schema strictness, availability, placeholders. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { LocalAgent } from '../../../src/agent/local-agent.ts';
import {
  builtinTemplates,
  expandPlaceholders,
  parseTemplates,
  type TemplateSpec,
  templateInfo,
  withBuiltins,
} from '../../../src/agent/templates.ts';

const minimal = (): TemplateSpec => ({
  name: 'mini',
  description: 'minimal',
  services: [
    { name: 'web', protocol: 'http', command: ['{node}', 'app.mjs'], readiness: { kind: 'http', path: '/' } },
  ],
});

test('the built-ins pass the schema; demo is always available', () => {
  const builtins = parseTemplates(builtinTemplates());
  assert.deepEqual(
    builtins.map((t) => t.name),
    ['demo', 'jupyter', 'ssh', 'llm-sim'],
  );
  const demo = templateInfo(builtins[0]!);
  assert.equal(demo.available, true);
  assert.equal(demo.unavailableReason, null);
  assert.deepEqual(demo.services, [
    { name: 'web', protocol: 'http' },
    { name: 'echo', protocol: 'tcp' },
  ]);
});

test('a template whose executables are missing is unavailable, with a reason naming them', async () => {
  const t = { ...minimal(), requires: ['appproxy-no-such-tool', '/nonexistent/bin/tool', 'node'] };
  const info = templateInfo(t, `${process.env.PATH}`);
  assert.equal(info.available, false);
  assert.match(info.unavailableReason ?? '', /appproxy-no-such-tool/);
  assert.match(info.unavailableReason ?? '', /\/nonexistent\/bin\/tool/);
  assert.doesNotMatch(info.unavailableReason ?? '', /\bnode\b/);

  const agent = new LocalAgent({
    templates: [t],
    dataDir: '/nonexistent',
    logger: pino({ level: 'silent' }),
  });
  assert.equal(agent.templates()[0]!.available, false);
  await assert.rejects(agent.launch('x', 'mini'), { code: 'AP_ERR_TEMPLATE_UNAVAILABLE' });
  await agent.close();
});

test('jupyter is unavailable exactly when jupyter-notebook is not on PATH', () => {
  const jupyter = builtinTemplates().find((t) => t.name === 'jupyter')!;
  const info = templateInfo(jupyter, '/nonexistent');
  assert.equal(info.available, false);
  assert.match(info.unavailableReason ?? '', /jupyter-notebook/);
});

test('unknown keys are rejected with the key and where it is', () => {
  const cases: [unknown, RegExp][] = [
    [[{ ...minimal(), extra: 1 }], /\/0: unknown key "extra"/],
    [
      [{ ...minimal(), services: [{ ...minimal().services[0], cmd: ['x'] }] }],
      /\/0\/services\/0: unknown key "cmd"/,
    ],
    [
      [{ ...minimal(), services: [{ ...minimal().services[0], readiness: { kind: 'tcp', path: '/' } }] }],
      /unknown key "path"/,
    ],
  ];
  for (const [input, message] of cases) {
    assert.throws(
      () => parseTemplates(input),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'AP_ERR_CONFIG_INVALID');
        assert.match(err.message, message);
        return true;
      },
    );
  }
});

test('other malformed configurations are rejected', () => {
  const bad: unknown[] = [
    [{ ...minimal(), services: [] }],
    [{ ...minimal(), name: 'Has Spaces' }],
    [{ ...minimal(), services: [{ ...minimal().services[0], command: [] }] }],
    [{ ...minimal(), services: [{ ...minimal().services[0], protocol: 'udp' }] }],
    [{ ...minimal(), services: [{ ...minimal().services[0], env: { 'BAD-NAME': 'x' } }] }],
    [minimal(), minimal()],
    [{ ...minimal(), services: [minimal().services[0], minimal().services[0]] }],
  ];
  for (const input of bad) assert.throws(() => parseTemplates(input), { code: 'AP_ERR_CONFIG_INVALID' });
});

test('configured templates replace built-ins of the same name', () => {
  const mine = { ...minimal(), name: 'demo', description: 'mine' };
  const all = withBuiltins([mine]);
  assert.deepEqual(
    all.map((t) => [t.name, t.description === 'mine']),
    [
      ['jupyter', false],
      ['ssh', false],
      ['llm-sim', false],
      ['demo', true],
    ],
  );
});

test('placeholders: the known ones are replaced, other braces are left alone', () => {
  const v = { port: 8123, host: '127.0.0.1', node: '/usr/bin/node', dataDir: '/d', secret: 'abc' };
  assert.equal(expandPlaceholders('--ip={host} --port={port}', v), '--ip=127.0.0.1 --port=8123');
  assert.equal(expandPlaceholders('{dataDir}/x {secret} {node}', v), '/d/x abc /usr/bin/node');
  assert.equal(expandPlaceholders('f({a: 1}) {unknown} {port}', v), 'f({a: 1}) {unknown} 8123');
});

test('idle defaults: validated, and passed through to what the manager sees', () => {
  const t = { ...minimal(), idle: { connectionIdleTimeoutMs: 60_000, circuitIdleTimeoutMs: null } };
  assert.deepEqual(templateInfo(parseTemplates([t])[0]!).idle, {
    connectionIdleTimeoutMs: 60_000,
    circuitIdleTimeoutMs: null,
  });
  assert.equal(templateInfo(minimal()).idle, undefined);
  for (const idle of [
    { connectionIdleTimeoutMs: 0 },
    { circuitIdleTimeout: 5 },
    { sessionIdleTimeoutMs: '1h' },
  ]) {
    assert.throws(() => parseTemplates([{ ...minimal(), idle }]), { code: 'AP_ERR_CONFIG_INVALID' });
  }
});
