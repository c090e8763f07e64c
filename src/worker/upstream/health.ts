/**
 * Health of an inference endpoint's routes (the targets of its upstream): which of them may take
 * a request now, and how much of their share.
 *
 * States of a target:
 * - `starting`: active checks are configured and the target has not yet passed `healthyThreshold`
 *   probes in a row since it was added. Not usable: requests wait (the hold) while a replica loads
 *   its model instead of being refused by it. Failed probes keep it `starting` (a loading replica
 *   refusing connections is expected), never `unhealthy`, so a warming replica never triggers panic.
 *   Its probes run every min(intervalMs, 500 ms) so that the end of a warm-up is seen fast; the
 *   first runs `initialDelayMs` after it was added. Without active checks a new target is `healthy`
 *   at once.
 * - `healthy`: usable.
 * - `unhealthy`: `unhealthyThreshold` probes in a row failed; `healthyThreshold` in a row bring it
 *   back.
 * - `ejected` (passive): `passive.consecutiveFailures` requests in a row failed on it. It is out for
 *   `baseEjectionMs × 2^(ejections in a row − 1)`, at most `maxEjectionMs`, unless ejecting it would
 *   put more than `maxEjectedPercent` of the non-staged targets out at once (it then stays in, and
 *   its next failure asks again). When the time is up it is readmitted at once without active
 *   checks; with them it stays out until one more probe, run right then: success readmits it
 *   (`healthy`, or `unhealthy` if its probes during the ejection made it so), failure makes it
 *   `unhealthy` (then `healthyThreshold` good probes bring it back). `passive.consecutiveFailures`
 *   successes in a row on a healthy target reset the doubling.
 *
 * Passive reports (`onSuccess`, `onFailure`) come from the request pipeline. Only answers of the
 * route count: the caller never reports a request whose client went away (nor one it aborted
 * itself), since a client leaving says nothing about the replica — counting them would eject good
 * replicas under client churn. Failures count only on a healthy, non-staged target: the others take
 * traffic only in panic, where taking them out would change nothing.
 *
 * Panic: when no non-staged target is healthy but some are `unhealthy` or `ejected`, every
 * non-staged target that is not `starting` is usable — health never routes to nothing, the replicas
 * that may still answer take the load. Staged targets (weight 0) are probed like the others (so a
 * promotion is instant), but count in no share, take no part in panic or readiness, and are usable
 * only when healthy.
 *
 * Slow start: a target's share ramps linearly from 10 % to 100 % over `slowStartMs` from the moment
 * it first went into rotation (non-staged and usable), so a fresh replica's cold caches and lazy
 * kernels are not flooded at once.
 *
 * `onChange` is called synchronously whenever a target's usability changes (panic included), from
 * whatever changed it: a probe, an ejection timer, or a call of `setTargets`, `setSettings`,
 * `onFailure`. Everything timer-driven is unref'd and never throws.
 */
import { request as httpRequest } from 'node:http';
import type { EndpointHealthCheck, EndpointPassiveHealth } from '../../contracts/endpoint.ts';

export type HealthState = 'starting' | 'healthy' | 'unhealthy' | 'ejected';

/** What a failed request says about its route (never a client that left). */
export type FailureReason = 'connect' | 'reset' | 'timeout' | 'status';

export interface HealthTarget {
  key: string;
  host: string;
  port: number;
  /** Route id (endpoint circuits). */
  route?: string;
  /** Traffic share; 0 = staged. */
  weight: number;
}

/**
 * One active probe: resolves with the HTTP status, rejects on a connect error. `signal` aborts it
 * when `check.timeoutMs` is up (the tracker counts the timeout itself; the probe only has to stop).
 */
export type ProbeFn = (
  target: HealthTarget,
  check: EndpointHealthCheck,
  signal: AbortSignal,
) => Promise<number>;

export interface HealthTrackerOptions {
  check: EndpointHealthCheck | null;
  passive: EndpointPassiveHealth;
  slowStartMs: number;
  /** Epoch ms (reports, ejection ends, slow start). */
  now?: () => number;
  probe?: ProbeFn;
  onChange?: (key: string, usable: boolean) => void;
  /** In [0, 1): spreads probes (tests pin it). */
  random?: () => number;
}

export interface HealthReport {
  key: string;
  route: string | null;
  state: HealthState;
  /** When the last probe ended (epoch ms). */
  lastProbeAt: number | null;
  /** The last failure seen (probe or request); cleared when the target turns healthy. */
  lastError: string | null;
  /** Ejections since the target was added. */
  ejections: number;
  /** Failed requests in a row (passive). */
  consecutiveFailures: number;
  /** Failed probes in a row (active). */
  consecutiveProbeFailures: number;
  /** End of the current ejection (epoch ms); null when not ejected. */
  ejectedUntil: number | null;
}

/** Slow start's share at the start of the ramp. */
const MIN_WEIGHT_FACTOR = 0.1;
/** Longest pause between two probes of a `starting` target. */
const STARTING_PERIOD_MS = 500;
/** Spread of the first probe of a target (a batch of new routes is not probed in one burst). */
const FIRST_PROBE_JITTER_MS = 25;
/** Spread of every later probe, as a share of the period (±). */
const PERIOD_JITTER = 0.1;

/** GET `check.path` on the target over a fresh connection (none is kept: probes are rare). */
export const httpProbe: ProbeFn = (target, check, signal) =>
  new Promise<number>((resolve, reject) => {
    const req = httpRequest(
      {
        hostname: target.host,
        port: target.port,
        path: check.path.startsWith('/') ? check.path : `/${check.path}`,
        method: 'GET',
        agent: false,
        signal,
        headers: { connection: 'close', accept: '*/*', 'user-agent': 'appproxy-health-check' },
      },
      (res) => {
        resolve(res.statusCode ?? 0);
        // Only the status matters: drop the body with the connection.
        res.on('error', () => {});
        res.destroy();
      },
    );
    // `on`, not `once`: a destroyed socket may report more than one error.
    req.on('error', reject);
    req.end();
  });

interface Entry {
  readonly key: string;
  readonly host: string;
  readonly port: number;
  route: string | null;
  weight: number;
  /** State as of the last `sync`. */
  state: HealthState;
  /** Usability as of the last `sync` (what `usable` answers and `onChange` reported). */
  usable: boolean;
  removed: boolean;

  // Active checks.
  /** Passed `healthyThreshold` probes once (or needs none): no longer `starting`. */
  passed: boolean;
  /** The probes' verdict, with hysteresis (thresholds). */
  activeOk: boolean;
  probeOk: number;
  probeFail: number;
  timer: NodeJS.Timeout | null;
  /** A probe's promise has not settled yet (at most one per target). */
  probing: boolean;
  probeAbort: AbortController | null;
  /** The probe's timeout (the tracker's, whatever the probe function does with its signal). */
  probeTimeout: NodeJS.Timeout | null;
  /** Bumped to disown a probe in flight (target removed, checks turned off). */
  probeGen: number;
  lastProbeAt: number | null;
  lastError: string | null;

  // Passive.
  passiveFailures: number;
  successStreak: number;
  ejected: boolean;
  /** The ejection time is up; the next probe decides readmission. */
  readmitPending: boolean;
  ejectedUntil: number | null;
  ejectTimer: NodeJS.Timeout | null;
  ejectionsInRow: number;
  ejections: number;

  /** When it first went into rotation (slow start); null = not yet. */
  rampFrom: number | null;
}

function describeError(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.message === 'string' && e.message) return e.message;
  }
  return String(err);
}

export class HealthTracker {
  private check: EndpointHealthCheck | null;
  private passive: EndpointPassiveHealth;
  private slowStartMs: number;
  private readonly now: () => number;
  private readonly probe: ProbeFn;
  private readonly onChangeCb: ((key: string, usable: boolean) => void) | null;
  private readonly random: () => number;
  private entries = new Map<string, Entry>();
  private panicNow = false;
  private readyNow = false;
  private closed = false;

  constructor(opts: HealthTrackerOptions) {
    this.check = opts.check;
    this.passive = opts.passive;
    this.slowStartMs = opts.slowStartMs;
    this.now = opts.now ?? Date.now;
    this.probe = opts.probe ?? httpProbe;
    this.onChangeCb = opts.onChange ?? null;
    this.random = opts.random ?? Math.random;
  }

  /** No non-staged target is healthy, some are unhealthy or ejected: every one of those is usable. */
  get panic(): boolean {
    return this.panicNow;
  }

  /** Some non-staged target may take a request now (else requests wait or fail). */
  get ready(): boolean {
    return this.readyNow;
  }

  /** May `key` take a request now (panic included)? Unknown targets may not. */
  usable(key: string): boolean {
    return this.entries.get(key)?.usable ?? false;
  }

  /** Slow start's share of `key`'s weight now, in [0.1, 1]; 1 for unknown targets. */
  weightFactor(key: string): number {
    const e = this.entries.get(key);
    if (!e || this.slowStartMs <= 0) return 1;
    if (e.rampFrom === null) return MIN_WEIGHT_FACTOR;
    const f = (this.now() - e.rampFrom) / this.slowStartMs;
    if (f >= 1) return 1;
    return MIN_WEIGHT_FACTOR + (1 - MIN_WEIGHT_FACTOR) * Math.max(0, f);
  }

  /**
   * The target set changed: new targets start (`starting` with active checks, else `healthy`),
   * kept ones (same key, host and port) keep their state and take the new weight and route,
   * removed ones are forgotten (no `onChange` for them). Same key on another host or port: a new
   * replica, so a new target.
   */
  setTargets(targets: readonly HealthTarget[]): void {
    if (this.closed) return;
    const old = this.entries;
    const next = new Map<string, Entry>();
    for (const t of targets) {
      if (next.has(t.key)) continue;
      let e = old.get(t.key);
      if (e && (e.host !== t.host || e.port !== t.port)) e = undefined;
      if (e) {
        old.delete(t.key);
        e.weight = t.weight;
        e.route = t.route ?? null;
      } else {
        e = this.newEntry(t);
        if (this.check) this.schedule(e, this.firstDelay(this.check.initialDelayMs));
      }
      next.set(t.key, e);
    }
    for (const e of old.values()) this.drop(e);
    this.entries = next;
    this.sync();
  }

  /**
   * The endpoint's settings changed, in place. Turning active checks on keeps the current targets'
   * states (serving replicas are not sent back to `starting`); turning them off makes every target
   * not ejected healthy. A new probe interval applies from each target's next probe; a settings
   * update that leaves the interval alone does not disturb the probe timers.
   */
  setSettings(check: EndpointHealthCheck | null, passive: EndpointPassiveHealth, slowStartMs: number): void {
    if (this.closed) return;
    const prev = this.check;
    this.check = check;
    this.passive = passive;
    this.slowStartMs = slowStartMs;
    if (check === null) {
      if (prev !== null)
        for (const e of this.entries.values()) {
          this.stopProbing(e);
          e.passed = true;
          e.activeOk = true;
          e.probeOk = 0;
          e.probeFail = 0;
          if (e.readmitPending) this.readmit(e);
        }
    } else if (prev === null) {
      for (const e of this.entries.values()) this.schedule(e, this.firstDelay(0));
    } else if (prev.intervalMs !== check.intervalMs) {
      for (const e of this.entries.values()) if (!e.probing) this.schedule(e, this.nextDelay(e));
    }
    this.sync();
  }

  /** A request on `key` got an answer from the route (not a 5xx counted as failure). */
  onSuccess(key: string): void {
    const e = this.entries.get(key);
    if (!e || this.closed) return;
    e.passiveFailures = 0;
    if (e.state !== 'healthy') return;
    e.successStreak++;
    if (e.successStreak >= Math.max(1, this.passive.consecutiveFailures)) e.ejectionsInRow = 0;
  }

  /**
   * A request on `key` failed because of the route: it refused or timed out the connection, reset
   * it, took too long to answer, or answered a 5xx the caller counts. Never a client that went away.
   */
  onFailure(key: string, reason: FailureReason, detail?: string): void {
    const e = this.entries.get(key);
    if (!e || this.closed) return;
    e.lastError = detail ? `${reason}: ${detail}` : reason;
    e.successStreak = 0;
    const limit = this.passive.consecutiveFailures;
    if (e.weight <= 0 || e.state !== 'healthy' || !(limit >= 1)) return;
    e.passiveFailures++;
    if (e.passiveFailures < limit || !this.mayEject()) return;
    this.eject(e);
    this.sync();
  }

  report(): HealthReport[] {
    const out: HealthReport[] = [];
    for (const e of this.entries.values())
      out.push({
        key: e.key,
        route: e.route,
        state: e.state,
        lastProbeAt: e.lastProbeAt,
        lastError: e.lastError,
        ejections: e.ejections,
        consecutiveFailures: e.passiveFailures,
        consecutiveProbeFailures: e.probeFail,
        ejectedUntil: e.ejected ? e.ejectedUntil : null,
      });
    return out;
  }

  /** Stops every timer and probe; the tracker answers its last state and changes no more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.entries.values()) this.drop(e);
  }

  private newEntry(t: HealthTarget): Entry {
    const active = this.check !== null;
    return {
      key: t.key,
      host: t.host,
      port: t.port,
      route: t.route ?? null,
      weight: t.weight,
      state: active ? 'starting' : 'healthy',
      usable: false,
      removed: false,
      passed: !active,
      activeOk: !active,
      probeOk: 0,
      probeFail: 0,
      timer: null,
      probing: false,
      probeAbort: null,
      probeTimeout: null,
      probeGen: 0,
      lastProbeAt: null,
      lastError: null,
      passiveFailures: 0,
      successStreak: 0,
      ejected: false,
      readmitPending: false,
      ejectedUntil: null,
      ejectTimer: null,
      ejectionsInRow: 0,
      ejections: 0,
      rampFrom: null,
    };
  }

  private drop(e: Entry): void {
    e.removed = true;
    this.stopProbing(e);
    if (e.ejectTimer) clearTimeout(e.ejectTimer);
    e.ejectTimer = null;
  }

  private stopProbing(e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
    e.probeGen++;
    e.probeAbort?.abort();
    e.probeAbort = null;
    if (e.probeTimeout) clearTimeout(e.probeTimeout);
    e.probeTimeout = null;
    e.probing = false;
  }

  private stateOf(e: Entry): HealthState {
    if (e.ejected) return 'ejected';
    if (this.check === null) return 'healthy';
    if (!e.passed) return 'starting';
    return e.activeOk ? 'healthy' : 'unhealthy';
  }

  /** Recomputes states, panic and usability, then tells `onChange` what changed. */
  private sync(): void {
    if (this.closed) return;
    let healthy = 0;
    let down = 0;
    for (const e of this.entries.values()) {
      const s = this.stateOf(e);
      if (s === 'healthy' && e.state !== 'healthy') e.lastError = null;
      e.state = s;
      if (e.weight <= 0) continue;
      if (s === 'healthy') healthy++;
      else if (s !== 'starting') down++;
    }
    const panic = healthy === 0 && down > 0;
    this.panicNow = panic;
    let ready = false;
    const changed: [Entry, boolean][] = [];
    for (const e of this.entries.values()) {
      const inRotation = e.weight > 0;
      const u = e.state === 'healthy' || (inRotation && panic && e.state !== 'starting');
      if (u && inRotation) {
        ready = true;
        if (e.rampFrom === null) e.rampFrom = this.now();
      }
      if (u !== e.usable) {
        e.usable = u;
        changed.push([e, u]);
      }
    }
    this.readyNow = ready;
    if (this.onChangeCb === null) return;
    for (const [e, u] of changed) {
      // A callback may change the set again (nested sync): that one already reported what is now.
      if (e.removed || e.usable !== u || this.closed) continue;
      try {
        this.onChangeCb(e.key, u);
      } catch {
        // The callback's own failure must not break health tracking (nor escape a timer).
      }
    }
  }

  private mayEject(): boolean {
    let n = 0;
    let ejected = 0;
    for (const e of this.entries.values()) {
      if (e.weight <= 0) continue;
      n++;
      if (e.ejected) ejected++;
    }
    return n > 0 && ((ejected + 1) * 100) / n <= this.passive.maxEjectedPercent;
  }

  private eject(e: Entry): void {
    const { baseEjectionMs, maxEjectionMs } = this.passive;
    const ms = Math.max(0, Math.min(maxEjectionMs, baseEjectionMs * 2 ** e.ejectionsInRow));
    e.ejectionsInRow++;
    e.ejections++;
    e.ejected = true;
    e.readmitPending = false;
    e.ejectedUntil = this.now() + ms;
    e.passiveFailures = 0;
    e.successStreak = 0;
    if (e.ejectTimer) clearTimeout(e.ejectTimer);
    e.ejectTimer = setTimeout(() => this.ejectionOver(e), ms);
    e.ejectTimer.unref();
  }

  private ejectionOver(e: Entry): void {
    e.ejectTimer = null;
    if (e.removed || this.closed || !e.ejected) return;
    if (this.check === null) {
      this.readmit(e);
      this.sync();
      return;
    }
    // Readmission waits for one more probe: run it now unless one is already on its way.
    e.readmitPending = true;
    if (!e.probing) {
      if (e.timer) clearTimeout(e.timer);
      e.timer = null;
      this.runProbe(e);
    }
  }

  private readmit(e: Entry): void {
    e.ejected = false;
    e.readmitPending = false;
    e.ejectedUntil = null;
  }

  private period(e: Entry): number {
    const interval = this.check?.intervalMs ?? 0;
    return e.passed ? interval : Math.min(interval, STARTING_PERIOD_MS);
  }

  private firstDelay(base: number): number {
    const spread = Math.min(FIRST_PROBE_JITTER_MS, (this.check?.intervalMs ?? 0) * PERIOD_JITTER);
    return Math.max(0, base) + this.random() * spread;
  }

  private nextDelay(e: Entry): number {
    return Math.max(1, this.period(e) * (1 - PERIOD_JITTER + 2 * PERIOD_JITTER * this.random()));
  }

  private schedule(e: Entry, ms: number): void {
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => this.runProbe(e), ms);
    e.timer.unref();
  }

  private runProbe(e: Entry): void {
    e.timer = null;
    const check = this.check;
    if (e.removed || this.closed || check === null) return;
    if (e.probing) {
      // The last probe timed out but has not stopped yet: never two at once.
      this.schedule(e, this.nextDelay(e));
      return;
    }
    const gen = ++e.probeGen;
    const ac = new AbortController();
    e.probing = true;
    e.probeAbort = ac;
    let done = false;
    const finish = (ok: boolean, error: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timeout);
      if (e.probeTimeout === timeout) e.probeTimeout = null;
      if (e.probeGen !== gen || e.removed || this.closed) return;
      this.probed(e, ok, error);
    };
    const timeout = setTimeout(() => {
      ac.abort();
      finish(false, `timeout after ${check.timeoutMs} ms`);
    }, check.timeoutMs);
    timeout.unref();
    e.probeTimeout = timeout;
    const settled = (): void => {
      if (e.probeGen !== gen) return;
      e.probing = false;
      e.probeAbort = null;
    };
    let p: Promise<number>;
    try {
      const target: HealthTarget = { key: e.key, host: e.host, port: e.port, weight: e.weight };
      if (e.route !== null) target.route = e.route;
      p = this.probe(target, check, ac.signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (status) => {
        settled();
        finish(status === check.expectedStatus, `status ${status}`);
      },
      (err: unknown) => {
        settled();
        finish(false, describeError(err));
      },
    );
  }

  private probed(e: Entry, ok: boolean, error: string | null): void {
    // The settings now, not the probe's: thresholds may have changed while it ran.
    const check = this.check;
    if (check === null) return;
    e.lastProbeAt = this.now();
    if (ok) {
      e.probeOk++;
      e.probeFail = 0;
      if (e.probeOk >= check.healthyThreshold) {
        e.passed = true;
        e.activeOk = true;
      }
    } else {
      e.probeFail++;
      e.probeOk = 0;
      e.lastError = error;
      if (e.probeFail >= check.unhealthyThreshold) e.activeOk = false;
    }
    if (e.readmitPending) {
      this.readmit(e);
      // Ejected by its traffic and failing a probe too: no benefit of the doubt.
      if (!ok) e.activeOk = false;
    }
    this.sync();
    if (!e.removed && !this.closed && this.check !== null && e.timer === null)
      this.schedule(e, this.nextDelay(e));
  }
}
