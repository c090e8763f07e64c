/**
 * The client commands: session, app, tunnel, circuit, endpoint, worker, doctor, template; sign-in
 * and identity: login, logout, whoami, user, token, login-session, logout-uri.
 */

import type { Command } from 'commander';
import type { Runtime } from '../runtime.ts';
import { registerAppCommands } from './app.ts';
import { registerAuthCommands } from './auth.ts';
import { registerCircuitCommands } from './circuit.ts';
import { actionFor } from './context.ts';
import { registerDoctorCommands } from './doctor.ts';
import { registerEndpointCommands } from './endpoint.ts';
import { registerFlagCommands } from './flags.ts';
import { registerLoginSessionCommands } from './login-session.ts';
import { registerLogoutUriCommands } from './logout-uri.ts';
import { registerSessionCommands } from './session.ts';
import { registerTemplateCommands } from './template.ts';
import { registerTokenCommands } from './token.ts';
import { registerTunnelCommands } from './tunnel.ts';
import { registerUserCommands } from './user.ts';
import { registerWorkerCommands } from './worker.ts';

/** Registers the client commands on the program, in the order `--help` lists them. */
export function registerClientCommands(program: Command, rt: Runtime): void {
  const action = actionFor(rt);
  for (const register of [
    registerSessionCommands,
    registerAppCommands,
    registerTunnelCommands,
    registerCircuitCommands,
    registerEndpointCommands,
    registerWorkerCommands,
    registerDoctorCommands,
    registerTemplateCommands,
    registerAuthCommands,
    registerUserCommands,
    registerTokenCommands,
    registerLoginSessionCommands,
    registerLogoutUriCommands,
    registerFlagCommands,
  ]) {
    register(program, action);
  }
}
