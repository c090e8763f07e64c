/**
 * A CLI's sign-in approved from a browser (the device authorization pattern of RFC 8628), apart
 * from how it is shown: ask for a pair of codes, let the caller show where to approve, poll until
 * the browser approved, then open the login session's secret. The manager seals the secret to an
 * X25519 key generated here for this one sign-in, so the counters store that holds it meanwhile,
 * and anyone who guesses the device code, cannot read it.
 */

import { newRecipient } from '../core/sealed-box.ts';
import type { ApiClient } from './api-client.ts';
import { ApiError, NetworkError } from './errors.ts';
import type { CliLoginStart } from './identity-types.ts';

/** The request expired (or was completed elsewhere) before the browser approved it. */
export class SignInExpiredError extends Error {
  constructor(message = 'the sign-in request expired before it was approved') {
    super(message);
    this.name = 'SignInExpiredError';
  }
}

/** Stopped by the caller's signal (Ctrl-C). */
export class SignInCancelledError extends Error {
  constructor() {
    super('sign-in cancelled');
    this.name = 'SignInCancelledError';
  }
}

export interface BrowserSignInOptions {
  /** Shows the user where to approve which code (called once, before the first poll). */
  onCode: (start: CliLoginStart) => void | Promise<void>;
  /** Called before each wait, with the time since the codes were issued. */
  onWaiting?: (elapsedMs: number) => void;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  signal?: AbortSignal;
}

/** Consecutive transient poll failures (manager restarting, a proxy's 502) tolerated. */
const MAX_TRANSIENT_FAILURES = 3;

function isTransient(err: unknown): boolean {
  return (
    err instanceof NetworkError || (err instanceof ApiError && (err.status >= 500 || err.status === 429))
  );
}

/**
 * Runs the browser-approved sign-in on a client (no token needed) and resolves with the new login
 * session's bearer secret. Polls every `intervalSeconds` the manager asks for, until approved,
 * expired (SignInExpiredError) or cancelled through `signal` (SignInCancelledError).
 */
export async function browserSignIn(client: ApiClient, opts: BrowserSignInOptions): Promise<string> {
  const recipient = newRecipient();
  const start = await client.startCliLogin(recipient.publicKey);
  const issuedAt = opts.now();
  const deadline = issuedAt + start.expiresInSeconds * 1000;
  const intervalMs = Math.max(1, start.intervalSeconds) * 1000;
  await opts.onCode(start);
  let failures = 0;
  for (;;) {
    if (opts.signal?.aborted) throw new SignInCancelledError();
    if (opts.now() >= deadline) throw new SignInExpiredError();
    opts.onWaiting?.(opts.now() - issuedAt);
    await interruptible(opts.sleep(Math.min(intervalMs, Math.max(0, deadline - opts.now()))), opts.signal);
    let answer: Awaited<ReturnType<ApiClient['pollCliLogin']>>;
    try {
      answer = await client.pollCliLogin(start.deviceCode);
      failures = 0;
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) throw new SignInExpiredError();
      if (!isTransient(err) || ++failures > MAX_TRANSIENT_FAILURES) throw err;
      continue;
    }
    if (answer.state === 'approved') {
      if (!answer.sealedToken) throw new Error('the manager approved the sign-in without a sealed token');
      return recipient.open(answer.sealedToken);
    }
  }
}

/** `wait`, cut short by `signal` (then SignInCancelledError). */
function interruptible(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return wait;
  if (signal.aborted) return Promise.reject(new SignInCancelledError());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new SignInCancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    wait.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
