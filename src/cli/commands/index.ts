/** The client commands: session, app, tunnel, circuit, worker, doctor, template. */

import type { Command } from 'commander';
import type { Runtime } from '../runtime.ts';
import { registerAppCommands } from './app.ts';
import { registerCircuitCommands } from './circuit.ts';
import { actionFor } from './context.ts';
import { registerDoctorCommands } from './doctor.ts';
import { registerSessionCommands } from './session.ts';
import { registerTemplateCommands } from './template.ts';
import { registerTunnelCommands } from './tunnel.ts';
import { registerWorkerCommands } from './worker.ts';

/** Registers the client commands on the program, in the order `--help` lists them. */
export function registerClientCommands(program: Command, rt: Runtime): void {
  const action = actionFor(rt);
  for (const register of [
    registerSessionCommands,
    registerAppCommands,
    registerTunnelCommands,
    registerCircuitCommands,
    registerWorkerCommands,
    registerDoctorCommands,
    registerTemplateCommands,
  ]) {
    register(program, action);
  }
}
