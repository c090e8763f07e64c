/** Parsers and shared definitions of the client commands' arguments and options. */

import { InvalidArgumentError, Option } from 'commander';
import type { CircuitIdleRequest, SessionIdleRequest } from '../client/api-client.ts';
import type { TcpAccessMode } from '../contracts/records.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';
import { UsageError } from './errors.ts';

const DEFAULT_WAIT_MS = 120_000;

/** commander argParser for duration options: `30s`, `2m`, `500ms`. */
export function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** What an idle option parses to: milliseconds, or `never` (commander turns a parsed `null` into ''). */
export type IdleValue = number | 'never';

/** commander argParser for circuit and session idle timeouts: a duration, or `never` (no timeout). */
export function idleTimeoutArg(value: string): IdleValue {
  if (value.trim().toLowerCase() === 'never') return 'never';
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError(`${(err as Error).message}; or "never" for no timeout`);
  }
}

/** commander argParser for the connection idle timeout: a duration (connections always have one). */
export function connectionIdleArg(value: string): number {
  if (value.trim().toLowerCase() === 'never') {
    throw new InvalidArgumentError('connections always have an idle timeout; give a duration (e.g. 30m, 8h)');
  }
  return durationArg(value);
}

/** commander argParser for port options: an integer 0–65535 (0 = any free port). */
export function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError('expected a port number 0-65535 (0 = any free port)');
  }
  return n;
}

/** commander argParser for `--allow-from`: repeatable, comma-separated addresses or CIDRs. */
export function allowFromArg(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected an address or CIDR, e.g. 10.0.0.0/8');
  return [...(previous ?? []), ...items];
}

export interface IdleOptions {
  connectionIdleTimeout?: number;
  circuitIdleTimeout?: IdleValue;
  sessionIdleTimeout?: IdleValue;
}

export const NEW_CIRCUIT_ONLY = 'new circuits only (a re-used circuit keeps its own)';

/** `--connection-idle-timeout`; `scope` says what it applies to. */
export function connectionIdleOption(scope: string): Option {
  return new Option(
    '--connection-idle-timeout <duration>',
    `close a tcp, tunnel or WebSocket connection after this long with no byte either way (e.g. 20s, 30m); ${scope}`,
  ).argParser(connectionIdleArg);
}

/** `--circuit-idle-timeout`; `scope` says what it applies to. */
export function circuitIdleOption(scope: string): Option {
  return new Option(
    '--circuit-idle-timeout <duration|never>',
    `close the circuit (its address) after this long with no byte moved (e.g. 30m, or never); ${scope}`,
  ).argParser(idleTimeoutArg);
}

const idleMs = (v: IdleValue): number | null => (v === 'never' ? null : v);

/** The idle options as a start-service `idle` (absent when none is given). */
export function circuitIdleFrom(opts: IdleOptions): CircuitIdleRequest | undefined {
  const idle: CircuitIdleRequest = {};
  if (opts.connectionIdleTimeout !== undefined) idle.connectionIdleTimeoutMs = opts.connectionIdleTimeout;
  if (opts.circuitIdleTimeout !== undefined) idle.circuitIdleTimeoutMs = idleMs(opts.circuitIdleTimeout);
  return Object.keys(idle).length > 0 ? idle : undefined;
}

/** The idle options as a create-session `idle` (absent when none is given). */
export function sessionIdleFrom(opts: IdleOptions): SessionIdleRequest | undefined {
  const idle: SessionIdleRequest = { ...circuitIdleFrom(opts) };
  if (opts.sessionIdleTimeout !== undefined) idle.sessionIdleTimeoutMs = idleMs(opts.sessionIdleTimeout);
  return Object.keys(idle).length > 0 ? idle : undefined;
}

export function timeoutOption(what: string): Option {
  return new Option('--timeout <duration>', `how long to wait for ${what} (e.g. 30s, 2m)`)
    .argParser(durationArg)
    .default(DEFAULT_WAIT_MS, formatDuration(DEFAULT_WAIT_MS));
}

/** The `--access`/`--allow-from` pair as a start-service `access` (allow-from alone means allow-list). */
export function accessFrom(opts: {
  access?: TcpAccessMode;
  allowFrom?: string[];
}): { mode: TcpAccessMode; allowFrom?: string[] } | undefined {
  if (opts.access === undefined && opts.allowFrom === undefined) return undefined;
  const mode = opts.access ?? 'allow-list';
  if (opts.allowFrom !== undefined && mode !== 'allow-list') {
    throw new UsageError(`--allow-from goes with --access allow-list (got --access ${mode})`);
  }
  if (mode === 'allow-list' && opts.allowFrom === undefined) {
    throw new UsageError('--access allow-list needs --allow-from <address or CIDR>');
  }
  return opts.allowFrom ? { mode, allowFrom: opts.allowFrom } : { mode };
}

/** commander argParser for repeatable, comma-separated values (`--scope a --scope b,c`). */
export function listArg(value: string, previous: string[] | undefined): string[] {
  const items = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a value');
  return [...new Set([...(previous ?? []), ...items])];
}

/** commander argParser for lifetimes of credentials: a duration of at least a second (`30d`, `12h`). */
export function lifetimeArg(value: string): number {
  const ms = durationArg(value);
  if (ms < 1000) throw new InvalidArgumentError('expected a lifetime of at least 1s (e.g. 30d, 12h)');
  return ms;
}

/** `--role admin|user`. */
export function roleOption(description: string): Option {
  return new Option('--role <role>', description).choices(['admin', 'user']);
}

/** `--password-stdin`: secrets never come from argv, where `ps` and the shell history show them. */
export function passwordStdinOption(description: string): Option {
  return new Option('--password-stdin', description);
}

/** `--user`: a user's id or name (or `me`). */
export function userOption(description: string): Option {
  return new Option('--user <user>', `${description} (id or name; \`me\` for yourself)`);
}
