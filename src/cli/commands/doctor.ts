/** `appproxy doctor`: the invariants between SQL and KV. */

import type { Command } from 'commander';
import { CliError } from '../errors.ts';
import { renderDoctor } from '../render.ts';
import type { Action } from './context.ts';

export function registerDoctorCommands(program: Command, action: Action): void {
  program
    .command('doctor')
    .description('check the invariants between SQL and KV; exits 1 when any is violated (GET /v1/doctor)')
    .action(
      action(async (ctx) => {
        const r = await ctx.client.doctor();
        ctx.emit(r, () => renderDoctor(r, ctx.p));
        if (r.violations.length > 0) {
          throw new CliError(
            `${r.violations.length} invariant violation${r.violations.length === 1 ? '' : 's'} found`,
          );
        }
      }),
    );
}
