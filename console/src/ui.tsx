/** Shared pieces of the console's pages: data loading, errors, empty states, badges, confirmations. */
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type LiveEvent, onLiveEvent } from './api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads with `fn` now, again when `deps` change, when a live lifecycle event `reloadOn` accepts
 * arrives (sessions starting and ending, circuits opening and closing: pushed by the manager), and
 * every `refreshMs` while the page is visible (what has no event: bytes moving; and a slow
 * fallback should the live channel be down).
 */
export function useLoad<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  refreshMs = 0,
  reloadOn?: (e: LiveEvent) => boolean,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    const ac = new AbortController();
    fn(ac.signal)
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e: unknown) => {
        if ((e as Error).name === 'AbortError') return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'AP_ERR_CONSOLE', String(e)));
      })
      .finally(() => setLoading(false));
    return () => ac.abort();
  }, [...deps, tick]);
  const accept = useRef(reloadOn);
  accept.current = reloadOn;
  const subscribed = reloadOn !== undefined;
  useEffect(() => {
    if (!subscribed) return;
    return onLiveEvent((e) => {
      if (accept.current?.(e)) reload();
    });
  }, [subscribed, reload]);
  useEffect(() => {
    if (refreshMs <= 0) return;
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, refreshMs);
    return () => clearInterval(t);
  }, [refreshMs, reload]);
  return { data, error, loading, reload };
}

/** Runs an action with a busy flag and its error kept for display. */
export function useAction(): {
  busy: boolean;
  error: ApiError | null;
  run: <T>(fn: () => Promise<T>) => Promise<T | undefined>;
  clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const run = useCallback(async <T,>(fn: () => Promise<T>) => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'AP_ERR_CONSOLE', String(e)));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: () => setError(null) };
}

export function ErrorBox({ error }: { error: ApiError | null }) {
  if (!error) return null;
  return (
    <div class="error" role="alert">
      <strong>{error.message}</strong> <code>{error.code}</code>
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Loading() {
  return (
    <p class="muted" aria-live="polite">
      Loading…
    </p>
  );
}

const STATE_CLASS: Record<string, string> = {
  RUNNING: 'ok',
  ACTIVE: 'ok',
  PENDING: 'wait',
  OPENING: 'wait',
  TERMINATING: 'wait',
  CLOSING: 'wait',
  ERROR: 'bad',
};

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge ${STATE_CLASS[state] ?? ''}`}>{state.toLowerCase()}</span>;
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span class="muted">–</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={d.toLocaleString()}>
      {ago(d)}
    </time>
  );
}

export function ago(d: Date, now = Date.now()): string {
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return `in ${duration(-s * 1000)}`;
  if (s < 5) return 'just now';
  return `${duration(s * 1000)} ago`;
}

export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60 ? `${s % 60} s` : ''}`.trim();
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A destructive button that asks first (in place, keyboard reachable). */
export function ConfirmButton(props: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking)
    return (
      <button type="button" class="danger" disabled={props.disabled} onClick={() => setAsking(true)}>
        {props.label}
      </button>
    );
  return (
    <span class="confirm">
      <span>{props.question}</span>{' '}
      <button
        type="button"
        class="danger"
        ref={yes}
        onClick={() => {
          setAsking(false);
          props.onConfirm();
        }}
      >
        Yes, {props.label.toLowerCase()}
      </button>{' '}
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

/** A value with a button that copies it. */
export function Copyable({ value, label }: { value: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span class="copy">
      <code>{value}</code>{' '}
      <button
        type="button"
        aria-label={`Copy ${label}`}
        onClick={() => {
          void navigator.clipboard?.writeText(value).then(() => {
            setCopied(true);
            setTimeout(() => setCopied(false), 1500);
          });
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </span>
  );
}

/**
 * A table that scrolls sideways on narrow screens: a labelled region that takes the keyboard
 * focus, so it can be scrolled without a mouse (WCAG 2.1.1; axe's scrollable-region-focusable).
 */
export function ScrollRegion({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard
    <section class="table-wrap" tabIndex={0} aria-label={`${label} (scrolls sideways when narrow)`}>
      {children}
    </section>
  );
}

/** A secret the API shows once (a new token or key): copy it now, then dismiss. */
export function ShownOnce(props: { what: string; name: string; secret: string; onDone: () => void }) {
  return (
    <div class="notice" role="status">
      <p>
        {props.what} <strong>{props.name}</strong> — copy it now, it is not shown again:
      </p>
      <Copyable value={props.secret} label={`the new ${props.what.toLowerCase()}`} />{' '}
      <button type="button" onClick={props.onDone}>
        Done
      </button>
    </div>
  );
}
