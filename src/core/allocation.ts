/**
 * Slot allocation: which worker a new circuit goes to, and which port or subdomain it holds there.
 *
 * Correctness does not rest on this code: the SQL partial unique indexes on (worker, port) and
 * (worker, subdomain) of live circuits are the arbiter, across concurrent calls and across manager
 * replicas. This module picks a good candidate (least loaded worker, lowest free port or a random
 * 6-hex label), and `allocate` retries with the next candidate when the insert loses a race.
 * `InflightSlots` keeps the candidates this process is inserting right now, so that concurrent
 * calls in one manager do not all race for the same lowest port; only other replicas can collide.
 */
import { randomBytes } from 'node:crypto';
import { AppProxyError, UniqueViolation } from '../contracts/errors.ts';
import type { WorkerRegistration } from '../contracts/kv-layout.ts';
import type { FrontendMode, Protocol } from '../contracts/records.ts';

/** A live worker as the allocator sees it: its registration and what it holds right now. */
export interface WorkerSlots {
  registration: WorkerRegistration;
  /** Circuits not CLOSED on this worker (committed in SQL). */
  liveCircuits: number;
  takenPorts: ReadonlySet<number>;
  /** May be left empty: a random label rarely collides, and the unique index arbitrates when it does. */
  takenSubdomains: ReadonlySet<string>;
}

export type SlotChoice =
  | { authority: string; frontendMode: 'port'; port: number; subdomain: null }
  | { authority: string; frontendMode: 'wildcard'; port: null; subdomain: string };

/** True when the worker can carry `protocol` in `mode`. Wildcard mode routes by Host, so HTTP only. */
export function accepts(reg: WorkerRegistration, protocol: Protocol, mode: FrontendMode): boolean {
  if (reg.frontendMode !== mode || !reg.protocols.includes(protocol)) return false;
  if (mode === 'port') return reg.portRange !== null && reg.portRange[0] <= reg.portRange[1];
  return protocol === 'http' && reg.wildcardDomain !== null && reg.wildcardDomain !== '';
}

/**
 * The frontend mode used when the caller names none: `port` when some live worker accepts the
 * protocol in port mode, else `wildcard`. Port mode is the default because it needs no wildcard
 * DNS or certificate and is what the embedded setup runs; an installation that runs only wildcard
 * workers gets wildcard without asking. Null when no live worker accepts the protocol at all.
 */
export function resolveFrontendMode(
  regs: readonly WorkerRegistration[],
  protocol: Protocol,
  requested?: FrontendMode,
): FrontendMode | null {
  const modes: FrontendMode[] = requested ? [requested] : ['port', 'wildcard'];
  for (const m of modes) if (regs.some((r) => accepts(r, protocol, m))) return m;
  return null;
}

/** Lowest port of the inclusive `range` for which `isTaken` is false, or null when all are taken. */
export function lowestFreePort(
  range: readonly [number, number],
  isTaken: (port: number) => boolean,
): number | null {
  for (let p = range[0]; p <= range[1]; p++) if (!isTaken(p)) return p;
  return null;
}

/** A random 6-hex DNS label (24 bits), the shape the schema's CHECK and the workers expect. */
export function randomSubdomain(rand: (n: number) => Buffer = randomBytes): string {
  return rand(3).toString('hex');
}

/** Slots this process is inserting at this moment (see the module comment). */
export class InflightSlots {
  private readonly ports = new Map<string, Set<number>>();
  private readonly subdomains = new Map<string, Set<string>>();
  private readonly counts = new Map<string, number>();

  hasPort(authority: string, port: number): boolean {
    return this.ports.get(authority)?.has(port) ?? false;
  }

  hasSubdomain(authority: string, label: string): boolean {
    return this.subdomains.get(authority)?.has(label) ?? false;
  }

  count(authority: string): number {
    return this.counts.get(authority) ?? 0;
  }

  /** Reserves `choice`; the returned function releases it (call it once the insert settled). */
  reserve(choice: SlotChoice): () => void {
    const a = choice.authority;
    if (choice.frontendMode === 'port') setOf(this.ports, a).add(choice.port);
    else setOf(this.subdomains, a).add(choice.subdomain);
    this.counts.set(a, this.count(a) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (choice.frontendMode === 'port') this.ports.get(a)?.delete(choice.port);
      else this.subdomains.get(a)?.delete(choice.subdomain);
      this.counts.set(a, this.count(a) - 1);
    };
  }
}

function setOf<T>(m: Map<string, Set<T>>, k: string): Set<T> {
  let s = m.get(k);
  if (!s) {
    s = new Set();
    m.set(k, s);
  }
  return s;
}

const slotKey = (c: SlotChoice) => `${c.authority}\u0000${c.port ?? c.subdomain}`;

/**
 * Picks a slot: workers accepting `protocol` in `mode`, least loaded first (live + in-flight
 * circuits; ties by authority so the choice is deterministic), the lowest free port of the first
 * worker that has one, or a random label not taken there. `exclude` holds slots that already lost
 * an insert race in this allocation. Returns `'no-worker'` / `'no-slot'` when nothing fits.
 */
export function chooseSlot(
  workers: readonly WorkerSlots[],
  protocol: Protocol,
  mode: FrontendMode,
  opts: { inflight?: InflightSlots; exclude?: ReadonlySet<string>; random?: (n: number) => Buffer } = {},
): SlotChoice | 'no-worker' | 'no-slot' {
  const inflight = opts.inflight ?? new InflightSlots();
  const exclude = opts.exclude ?? new Set<string>();
  const eligible = workers
    .filter((w) => accepts(w.registration, protocol, mode))
    .map((w) => ({ w, load: w.liveCircuits + inflight.count(w.registration.authority) }))
    .sort((a, b) => a.load - b.load || compare(a.w.registration.authority, b.w.registration.authority));
  if (eligible.length === 0) return 'no-worker';
  for (const { w } of eligible) {
    const authority = w.registration.authority;
    if (mode === 'port') {
      const port = lowestFreePort(
        w.registration.portRange!,
        (p) =>
          w.takenPorts.has(p) ||
          inflight.hasPort(authority, p) ||
          exclude.has(slotKey({ authority, frontendMode: 'port', port: p, subdomain: null })),
      );
      if (port !== null) return { authority, frontendMode: 'port', port, subdomain: null };
    } else {
      // 16M labels: a handful of draws finds a free one unless the worker is absurdly full.
      for (let i = 0; i < 16; i++) {
        const subdomain = randomSubdomain(opts.random);
        const c: SlotChoice = { authority, frontendMode: 'wildcard', port: null, subdomain };
        if (
          !w.takenSubdomains.has(subdomain) &&
          !inflight.hasSubdomain(authority, subdomain) &&
          !exclude.has(slotKey(c))
        ) {
          return c;
        }
      }
    }
  }
  return 'no-slot';
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface AllocateOptions<T> {
  protocol: Protocol;
  mode: FrontendMode;
  /** Reads the live workers and their committed slots (called again after each lost race). */
  load: () => Promise<WorkerSlots[]>;
  /** Inserts the circuit holding `choice`; throws `UniqueViolation` when another circuit got it first. */
  insert: (choice: SlotChoice) => Promise<T>;
  inflight?: InflightSlots;
  /** Attempts before giving up with AP_ERR_NO_SLOT (default 32). */
  maxAttempts?: number;
  random?: (n: number) => Buffer;
}

/** Chooses a slot and inserts it, retrying with the next candidate when the insert loses a race. */
export async function allocate<T>(
  opts: AllocateOptions<T>,
): Promise<{ choice: SlotChoice; value: T; attempts: number }> {
  const inflight = opts.inflight ?? new InflightSlots();
  const exclude = new Set<string>();
  const maxAttempts = opts.maxAttempts ?? 32;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const workers = await opts.load();
    // No await between choosing and reserving: concurrent calls of this process see the reservation.
    const choice = chooseSlot(workers, opts.protocol, opts.mode, {
      inflight,
      exclude,
      ...(opts.random ? { random: opts.random } : {}),
    });
    if (choice === 'no-worker') {
      throw new AppProxyError('AP_ERR_NO_WORKER', undefined, {
        protocol: opts.protocol,
        frontendMode: opts.mode,
      });
    }
    if (choice === 'no-slot') {
      throw new AppProxyError('AP_ERR_NO_SLOT', undefined, {
        protocol: opts.protocol,
        frontendMode: opts.mode,
      });
    }
    const release = inflight.reserve(choice);
    try {
      return { choice, value: await opts.insert(choice), attempts: attempt };
    } catch (err) {
      if (!(err instanceof UniqueViolation)) throw err;
      exclude.add(slotKey(choice));
    } finally {
      release();
    }
  }
  throw new AppProxyError(
    'AP_ERR_NO_SLOT',
    'Every slot tried was taken by a concurrent allocation; try again.',
    {
      protocol: opts.protocol,
      frontendMode: opts.mode,
      attempts: maxAttempts,
    },
  );
}

/**
 * The browser-facing URL of a slot: `<scheme>://<publicHost>:<port>/` in port mode,
 * `<scheme>://<label>.<wildcardDomain>[:<publicPort>]/` in wildcard mode.
 */
export function appUrlFor(reg: WorkerRegistration, choice: SlotChoice): string {
  if (choice.frontendMode === 'port') {
    const host =
      reg.publicHost.includes(':') && !reg.publicHost.startsWith('[')
        ? `[${reg.publicHost}]`
        : reg.publicHost;
    return `${reg.publicScheme}://${host}:${choice.port}/`;
  }
  const port = reg.publicPort ? `:${reg.publicPort}` : '';
  return `${reg.publicScheme}://${choice.subdomain}.${reg.wildcardDomain}${port}/`;
}

/** The setup URL handed to the browser: the worker's reserved setup path on the app's origin. */
export function setupUrlFor(appUrl: string, token: string, next?: string): string {
  return `${appUrl}_appproxy/setup?token=${encodeURIComponent(token)}&next=${encodeURIComponent(next ?? '/')}`;
}
