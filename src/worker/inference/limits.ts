/**
 * Per-key requests-per-minute and tokens-per-minute limits, shared by every worker process through
 * the counter store (embedded, over IPC from data-plane children, or Redis).
 *
 * **Fixed one-minute windows, one counter per key, limit and window.** Admission adds the
 * request's reservation with one atomic `incr` and reads the new total back in the same call; a
 * total above the limit gives the reservation back and refuses. Because the store serializes the
 * increments, no interleaving of any number of processes can leave admitted reservations above
 * the limit: the bound is exact, not a per-process share, and it costs one round trip per limit
 * (both limits go out together). A sliding-window approximation (previous window's count weighted
 * by the part of it still inside the last minute) was not chosen: it needs a second read per
 * admission, it is itself an estimate whose error depends on how traffic was spread over the
 * previous window, and it would make "tokens admitted in this window" no longer a quantity the
 * store can bound. The known cost of fixed windows is a burst straddling a boundary (up to twice
 * the limit within a short span around it); over any aligned minute the limit holds.
 *
 * **Reserve at admission, settle at the end.** The reservation is `prompt estimate + max_tokens`
 * (or a default) — what the request may use at most. `settle` corrects the admission window by
 * (actual − reserved) as soon as the engine reported the usage, so the room a request did not use
 * is given back while its window still runs and other requests take it. Unused room of requests
 * still running when their window ends is lost to that window, so the tokens used stay a little
 * under the limit, more so as answers get long compared with the window. Measured with demand
 * above the limit (`test/integration/worker/key-limits.test.ts`, 1 s windows, answers using
 * 30–100 % of max_tokens): answers up to 40 % of the window long: 99.4–100 % of the limit;
 * 30–90 %: ≈ 97.7 %; longer than the window: ≈ the used/reserved ratio (84 % there), which only
 * closer reservations improve. Giving late unused room to the current window instead would
 * overshoot the next window (+12 % in the same test) and make windows oscillate. Tokens beyond the
 * reservation (no `max_tokens`, a low estimate) are charged to the window where the request ends
 * if its own window is over, so that they are never forgiven.
 *
 * **Failure.** The store failing during `admit` rejects the promise (the caller decides whether to
 * serve unlimited or refuse); `settle` never throws, its errors go to `onError`. Windows are
 * derived from each process's clock: hosts must keep their clocks in sync (NTP keeps the skew far
 * below a window).
 */
import type { CounterStore } from '../../stores/types.ts';

/** Counter keys of the limits (the window is `floor(epoch ms / window length)`). */
export const limitKeys = {
  rpm: (keyId: string, window: number) => `ap:lim:${keyId}:rpm:${window}`,
  tpm: (keyId: string, window: number) => `ap:lim:${keyId}:tpm:${window}`,
} as const;

export const LIMIT_WINDOW_MS = 60_000;

export interface KeyLimits {
  /** Requests per window; null = none. */
  rpm: number | null;
  /** Prompt + completion tokens per window; null = none. */
  tpm: number | null;
}

/** What `admit` took; hand it to `settle` (or `release`) exactly once. */
export interface Reservation {
  readonly keyId: string;
  /** The window index it was admitted in. */
  readonly window: number;
  /** Tokens added to the window's TPM counter (0 when the key has no TPM limit). */
  readonly tokens: number;
  /** Whether it counts in the window's RPM / TPM counter. */
  readonly rpm: boolean;
  readonly tpm: boolean;
}

export type Admission =
  | { ok: true; reservation: Reservation }
  | { ok: false; retryAfterMs: number; which: 'rpm' | 'tpm' };

export interface KeyLimiterOptions {
  /** Window length (default one minute; tests use shorter ones). */
  windowMs?: number;
  /** Epoch ms (default `Date.now`): windows must line up across processes. */
  now?: () => number;
  /** Errors of fire-and-forget writes (settle, give-backs): for logging. */
  onError?: (err: unknown) => void;
}

interface Held extends Reservation {
  done: boolean;
}

/** A limit: null = none; anything else an integer ≥ 0. */
function limitOf(v: number | null | undefined): number | null {
  if (v === null || v === undefined || Number.isNaN(v)) return null;
  return Math.max(0, Math.floor(v));
}

export class KeyLimiter {
  readonly windowMs: number;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  /** Counters live a bit beyond their window so that late settles still find them. */
  private readonly ttlMs: number;

  constructor(
    private readonly counters: CounterStore,
    opts: KeyLimiterOptions = {},
  ) {
    this.windowMs = opts.windowMs ?? LIMIT_WINDOW_MS;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => {});
    this.ttlMs = this.windowMs + Math.max(5_000, Math.ceil(this.windowMs / 2));
  }

  /** The window index of an instant. */
  windowOf(t: number): number {
    return Math.floor(t / this.windowMs);
  }

  /**
   * Counts one request and reserves `reserveTokens` in the key's current window; refuses (and
   * gives both back) when either goes over its limit. A reservation larger than the TPM limit is
   * cut to the limit: such a request fits only an otherwise empty window, instead of never.
   */
  async admit(keyId: string, limits: KeyLimits, reserveTokens: number): Promise<Admission> {
    const rpm = limitOf(limits.rpm);
    const tpm = limitOf(limits.tpm);
    const t = this.now();
    const window = this.windowOf(t);
    const tokens =
      tpm === null
        ? 0
        : Math.min(tpm, Number.isFinite(reserveTokens) ? Math.max(0, Math.ceil(reserveTokens)) : tpm);
    const held: Held = { keyId, window, tokens, rpm: rpm !== null, tpm: tpm !== null, done: false };
    if (rpm === null && tpm === null) return { ok: true, reservation: held };

    const rpmKey = limitKeys.rpm(keyId, window);
    const tpmKey = limitKeys.tpm(keyId, window);
    const [r, k] = await Promise.allSettled([
      rpm === null ? null : this.counters.incr(rpmKey, 1, this.ttlMs),
      tpm === null ? null : this.counters.incr(tpmKey, tokens, this.ttlMs),
    ]);
    const rpmOver = r.status === 'fulfilled' && r.value !== null && rpm !== null && r.value > rpm;
    const tpmOver = k.status === 'fulfilled' && k.value !== null && tpm !== null && k.value > tpm;
    const failed = r.status === 'rejected' ? r.reason : k.status === 'rejected' ? k.reason : null;
    if (failed === null && !rpmOver && !tpmOver) return { ok: true, reservation: held };

    // Refused (or half-counted): give back what was added.
    if (r.status === 'fulfilled' && r.value !== null) this.add(rpmKey, -1);
    if (k.status === 'fulfilled' && k.value !== null && tokens > 0) this.add(tpmKey, -tokens);
    if (failed !== null) throw failed;
    return {
      ok: false,
      // Room comes back for sure only with the next window (settles may free some earlier).
      retryAfterMs: Math.max(1, (window + 1) * this.windowMs - t),
      which: rpmOver ? 'rpm' : 'tpm',
    };
  }

  /**
   * The request used `actualTokens` (prompt + completion): its window is corrected by
   * (actual − reserved) while it runs; once it is over, unused room is not given back (no one can
   * use it any more) and an excess is charged to the current window. Never throws; once per
   * reservation.
   */
  settle(reservation: Reservation, actualTokens: number): void {
    const held = reservation as Held;
    if (held.done) return;
    held.done = true;
    if (!held.tpm) return;
    const actual = Number.isFinite(actualTokens) ? Math.max(0, Math.ceil(actualTokens)) : held.tokens;
    const diff = actual - held.tokens;
    if (diff === 0) return;
    const current = this.windowOf(this.now());
    if (current === held.window) this.add(limitKeys.tpm(held.keyId, held.window), diff);
    else if (diff > 0) this.add(limitKeys.tpm(held.keyId, current), diff);
  }

  /**
   * The request never reached an engine (refused later, client gone while queued): both its
   * request and its tokens are given back while its window runs. Never throws; once per
   * reservation (`settle` and `release` share the once).
   */
  release(reservation: Reservation): void {
    const held = reservation as Held;
    if (held.done) return;
    held.done = true;
    if (this.windowOf(this.now()) !== held.window) return;
    if (held.rpm) this.add(limitKeys.rpm(held.keyId, held.window), -1);
    if (held.tpm && held.tokens > 0) this.add(limitKeys.tpm(held.keyId, held.window), -held.tokens);
  }

  private add(key: string, by: number): void {
    try {
      this.counters.incr(key, by, this.ttlMs).catch(this.onError);
    } catch (err) {
      // A closed store throws synchronously in some adapters.
      this.onError(err);
    }
  }
}
