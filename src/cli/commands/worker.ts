/** `appproxy worker list|drain|undrain`: the workers known to the manager. */

import type { Command } from 'commander';
import { renderWorkers } from '../render.ts';
import { type Action, emptyNote } from './context.ts';

export function registerWorkerCommands(program: Command, action: Action): void {
  // `appproxy worker` itself is the server command (runs a worker) when registered first;
  // `list` is added under it, or under a client-only `worker` group when there is none.
  const worker =
    program.commands.find((c) => c.name() === 'worker') ??
    program.command('worker').description('workers (the data plane) known to the manager');
  worker
    .command('list')
    .alias('ls')
    .description('list workers known to the manager (GET /v1/workers)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listWorkers();
        if (emptyNote(ctx, 'workers', res.items)) return;
        ctx.emit(res, () => renderWorkers(res.items, ctx.p, ctx.now));
      }),
    );

  for (const [name, draining] of [
    ['drain', true],
    ['undrain', false],
  ] as const) {
    worker
      .command(name)
      .description(
        draining
          ? 'drain a worker: no new circuits go to it; its circuits keep running (POST /v1/workers/{authority}/drain)'
          : 'undrain a worker: it gets new circuits again (POST /v1/workers/{authority}/undrain)',
      )
      .argument('<authority>', 'worker authority (see `appproxy worker list`)')
      .action(
        action(async (ctx, authority: string) => {
          const w = draining
            ? await ctx.client.drainWorker(authority)
            : await ctx.client.undrainWorker(authority);
          ctx.emit(w, () => `worker ${w.authority} ${w.draining ? 'is draining' : 'accepts new circuits'}\n`);
        }),
      );
  }
}
