/** `appproxy template list`. */

import type { Command } from 'commander';
import { renderTemplates } from '../render.ts';
import { type Action, emptyNote } from './context.ts';

export function registerTemplateCommands(program: Command, action: Action): void {
  const template = program.command('template').description('templates sessions are created from');
  template
    .command('list')
    .alias('ls')
    .description('list templates (GET /v1/templates)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listTemplates();
        if (emptyNote(ctx, 'templates', res.items)) return;
        ctx.emit(res, () => renderTemplates(res.items, ctx.p));
      }),
    );
}
