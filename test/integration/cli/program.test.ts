import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { buildProgram, run } from '../../../src/cli/main.ts';
import { defaultIo, Runtime } from '../../../src/cli/runtime.ts';
import { emptyDataDir, FakeManager, worker } from '../../support/cli.ts';

/** Stands in for ./up.ts: server commands added with addCommand(), a `worker` among them. */
function fakeServerCommands(ran: string[]) {
  return (program: Command): void => {
    program.addCommand(
      new Command('worker')
        .description('run a worker')
        .option('--listen <addr>', 'where to listen')
        .action(() => void ran.push('worker')),
    );
    program.addCommand(new Command('up').description('run everything').action(() => void ran.push('up')));
  };
}

function harness(env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  const rt = new Runtime(
    defaultIo({
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
      env: { APPPROXY_DATA_DIR: emptyDataDir(), ...env },
    }),
    '0.0.0-test',
  );
  return { rt, out };
}

describe('program assembly with server commands', () => {
  it('server commands run, and their usage errors exit 2 instead of killing the process', async () => {
    const ran: string[] = [];
    const { rt, out } = harness();
    const program = buildProgram(rt, fakeServerCommands(ran));
    assert.equal(await run(program, rt, ['worker', '--listen', ':7080']), 0);
    assert.deepEqual(ran, ['worker']);

    const again = harness();
    assert.equal(await run(buildProgram(again.rt, fakeServerCommands(ran)), again.rt, ['up', '--nope']), 2);
    assert.match(again.out.stderr, /unknown option '--nope'/);
    assert.equal(out.stderr, '');
  });

  it('`worker list` is attached under the server `worker` command', async () => {
    const fake = await new FakeManager().start();
    try {
      fake.on('GET /v1/workers', { body: { items: [worker()] } });
      const ran: string[] = [];
      const { rt, out } = harness({ APPPROXY_URL: fake.url });
      const program = buildProgram(rt, fakeServerCommands(ran));
      assert.equal(program.commands.filter((c) => c.name() === 'worker').length, 1);
      assert.equal(await run(program, rt, ['worker', 'list', '--json']), 0, out.stderr);
      assert.deepEqual(ran, []);
      assert.equal(JSON.parse(out.stdout).items[0].authority, '127.0.0.1:7080');
    } finally {
      await fake.stop();
    }
  });
});
