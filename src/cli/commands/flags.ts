/** `appproxy flags list|get|set|unset|changes`: feature flags, changed live (admins). */

import type { Command } from 'commander';
import type { Flag } from '../../client/api-client.ts';
import { UsageError } from '../errors.ts';
import { formatKeyValues } from '../format.ts';
import { renderFlagChanges, renderFlags } from '../render.ts';
import { type Action, emptyNote } from './context.ts';

const SCOPE_HELP = 'global (default), worker:<authority> or user:<user id or name>';

function parseValue(v: string): boolean {
  const s = v.toLowerCase();
  if (['on', 'true', '1', 'yes', 'enable', 'enabled'].includes(s)) return true;
  if (['off', 'false', '0', 'no', 'disable', 'disabled'].includes(s)) return false;
  throw new UsageError(`a flag is set "on" or "off", not ${JSON.stringify(v)}`);
}

export function registerFlagCommands(program: Command, action: Action): void {
  const flags = program
    .command('flags')
    .alias('flag')
    .description('feature flags: turn behaviours on or off while everything runs (admins)');

  flags
    .command('list')
    .alias('ls')
    .description('every flag with its value, default and overrides (GET /v1/flags)')
    .action(
      action(async (ctx) => {
        const res = await ctx.client.listFlags();
        ctx.emit(res, () => renderFlags(res.items, ctx.p));
      }),
    );

  const detail = (f: Flag, p: Parameters<typeof formatKeyValues>[1]) =>
    formatKeyValues(
      [
        ['Name', f.name],
        ['Value', f.value ? 'on' : 'off'],
        ['Default', f.default ? 'on' : 'off'],
        ['What', f.description],
        ['When to change', f.when],
        ['Scopes', f.scopes.join(', ')],
        ['Read by', f.readBy.join(', ')],
        [
          'Overrides',
          f.overrides.length === 0
            ? '-'
            : f.overrides.map((o) => `${o.scope}=${o.value ? 'on' : 'off'}`).join(', '),
        ],
      ],
      p,
    );

  flags
    .command('get')
    .description('one flag (GET /v1/flags/{name})')
    .argument('<name>', 'flag name (see `appproxy flags list`)')
    .action(
      action(async (ctx, name: string) => {
        const f = await ctx.client.getFlag(name);
        ctx.emit(f, () => detail(f, ctx.p));
      }),
    );

  flags
    .command('set')
    .description(
      'set a flag; every manager and worker applies it within about a second (PUT /v1/flags/{name})',
    )
    .argument('<name>', 'flag name')
    .argument('<value>', 'on or off')
    .option('--scope <scope>', SCOPE_HELP)
    .action(
      action(async (ctx, name: string, value: string, opts: { scope?: string }) => {
        const f = await ctx.client.setFlag(name, {
          value: parseValue(value),
          ...(opts.scope ? { scope: opts.scope } : {}),
        });
        ctx.emit(f, () => detail(f, ctx.p));
      }),
    );

  flags
    .command('unset')
    .description(
      'remove an override: the next wider scope (or the default) applies (DELETE /v1/flags/{name})',
    )
    .argument('<name>', 'flag name')
    .option('--scope <scope>', SCOPE_HELP)
    .action(
      action(async (ctx, name: string, opts: { scope?: string }) => {
        const f = await ctx.client.unsetFlag(name, opts.scope);
        ctx.emit(f, () => detail(f, ctx.p));
      }),
    );

  flags
    .command('changes')
    .alias('history')
    .description('who changed which flag, when (GET /v1/flags/changes)')
    .argument('[name]', 'only this flag')
    .action(
      action(async (ctx, name: string | undefined) => {
        const res = await ctx.client.flagChanges(name);
        if (emptyNote(ctx, 'flag changes', res.items)) return;
        ctx.emit(res, () => renderFlagChanges(res.items, ctx.p, ctx.now));
      }),
    );
}
