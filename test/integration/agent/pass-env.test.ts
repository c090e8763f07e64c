/** A template's passEnv, seen from inside a real service process. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { harness } from './harness.ts';

test("passEnv hands the named variables of the agent's environment to the service, and nothing else", async (t) => {
  process.env.APPPROXY_TEST_PASSED = 'passed-value';
  process.env.APPPROXY_TEST_SECRET = 'not-for-services';
  t.after(() => {
    delete process.env.APPPROXY_TEST_PASSED;
    delete process.env.APPPROXY_TEST_SECRET;
  });
  const app =
    "require('http').createServer((q, r) => r.end(JSON.stringify([process.env.APPPROXY_TEST_PASSED, process.env.APPPROXY_TEST_SECRET]))).listen(+process.argv[1], process.argv[2])";
  const h = harness([
    {
      name: 'env',
      description: 'prints two variables',
      services: [
        {
          name: 'web',
          protocol: 'http',
          command: ['{node}', '-e', app, '{port}', '{host}'],
          passEnv: ['APPPROXY_TEST_PASSED'],
          readiness: { kind: 'http', path: '/' },
        },
      ],
    },
  ]);
  t.after(() => h.cleanup());
  await h.agent.launch('env-1', 'env');
  const running = await h.report('env-1', 'RUNNING');
  const res = await fetch(`http://127.0.0.1:${running.services![0]!.port}/`);
  assert.deepEqual(await res.json(), ['passed-value', null]);
});
