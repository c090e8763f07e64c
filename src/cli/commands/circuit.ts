/** `appproxy circuit …`: list, show, close circuits and read their activity and events. */

import type { Command } from 'commander';
import { flatten, formatKeyValues } from '../format.ts';
import { renderCircuit, renderCircuits, renderEvents } from '../render.ts';
import { type Action, emptyNote, resolveSession } from './context.ts';

export function registerCircuitCommands(program: Command, action: Action): void {
  const circuit = program.command('circuit').description('inspect and close circuits (app addresses)');

  circuit
    .command('list')
    .alias('ls')
    .description('list circuits (GET /v1/circuits)')
    .option('--session <session>', 'only circuits of this session (id or name)')
    .action(
      action(async (ctx, opts: { session?: string }) => {
        const sessionId = opts.session ? (await resolveSession(ctx.client, opts.session)).id : undefined;
        const res = await ctx.client.listCircuits(sessionId ? { sessionId } : {});
        if (emptyNote(ctx, 'circuits', res.items)) return;
        ctx.emit(res, () => renderCircuits(res.items, ctx.p, ctx.now));
      }),
    );

  circuit
    .command('get')
    .description('show one circuit (GET /v1/circuits/{id})')
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const c = await ctx.client.getCircuit(id);
        ctx.emit(c, () => renderCircuit(c, ctx.p, ctx.now));
      }),
    );

  circuit
    .command('delete')
    .alias('rm')
    .description('close a circuit; its app address stops working (DELETE /v1/circuits/{id})')
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const c = await ctx.client.deleteCircuit(id);
        ctx.emit(c, () => `circuit ${c.id} ${c.state === 'CLOSED' ? 'closed' : `is ${c.state}`}\n`);
      }),
    );

  circuit
    .command('activity')
    .description('show what counts as activity on a circuit and when it will be collected')
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const a = await ctx.client.circuitActivity(id);
        ctx.emit(a, () => formatKeyValues(flatten(a), ctx.p));
      }),
    );

  circuit
    .command('events')
    .description(
      'what the lifecycle and the idle policies did to a circuit, oldest first (GET /v1/circuits/{id}/events)',
    )
    .argument('<id>', 'circuit id')
    .action(
      action(async (ctx, id: string) => {
        const res = await ctx.client.circuitEvents(id);
        if (emptyNote(ctx, 'events', res.items)) return;
        ctx.emit(res, () => renderEvents(res.items, ctx.p));
      }),
    );
}
