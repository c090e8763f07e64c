/**
 * One session: its apps (open a web app, the tunnel command of a tcp service), its circuits with
 * live activity and the idle policies' countdowns, and its events timeline.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Circuit, call, type Session } from '../api.ts';
import {
  ConfirmButton,
  Copyable,
  duration,
  Empty,
  ErrorBox,
  Loading,
  ScrollRegion,
  StateBadge,
  useAction,
  useLoad,
  When,
} from '../ui.tsx';

export function SessionPage({ id }: { id: string }) {
  const session = useLoad(
    (signal) => call('get', '/v1/sessions/{id}', { path: { id }, signal }),
    [id],
    30_000,
    (e) => e.sessionId === id,
  );
  const del = useAction();
  const s = session.data;
  if (!s) return session.error ? <ErrorBox error={session.error} /> : <Loading />;
  const live = s.state === 'PENDING' || s.state === 'RUNNING';
  return (
    <section aria-labelledby="session-h">
      <p>
        <a href="#/sessions">← Sessions</a>
      </p>
      <h1 id="session-h">
        {s.name} <StateBadge state={s.state} />
      </h1>
      <p class="muted">
        {s.template} · started <When at={s.createdAt} />
        {s.stateReason ? ` · ${s.stateReason}` : ''}
      </p>
      {s.state === 'PENDING' ? (
        <p class="progress" role="status">
          <span class="spinner" aria-hidden="true" /> Starting… its apps can be opened once it runs.
        </p>
      ) : null}
      {live ? (
        <p>
          <ConfirmButton
            label="Delete"
            question={`Delete ${s.name} and close its apps?`}
            disabled={del.busy}
            onConfirm={() =>
              void del.run(() => call('delete', '/v1/sessions/{id}', { path: { id } })).then(session.reload)
            }
          />
        </p>
      ) : null}
      <ErrorBox error={session.error ?? del.error} />
      <Apps s={s} />
      <Circuits sessionId={id} running={s.state === 'RUNNING'} />
      <Events sessionId={id} />
    </section>
  );
}

function Apps({ s }: { s: Session }) {
  const open = useAction();
  const [frontend, setFrontend] = useState<'' | 'port' | 'wildcard'>('');
  const [idleS, setIdleS] = useState('');
  const running = s.state === 'RUNNING';
  if (s.services.length === 0) return null;
  return (
    <section aria-labelledby="apps-h">
      <h2 id="apps-h">Apps</h2>
      <div class="row">
        <label>
          Address{' '}
          <select
            value={frontend}
            onChange={(e) => setFrontend(e.currentTarget.value as '' | 'port' | 'wildcard')}
          >
            <option value="">the installation's default</option>
            <option value="port">a port of its own</option>
            <option value="wildcard">a host name of its own</option>
          </select>
        </label>
        <label>
          Close an app opened now after it is idle for <span class="muted">(seconds, optional)</span>
          <input
            type="number"
            min="1"
            step="1"
            inputMode="numeric"
            value={idleS}
            onInput={(e) => setIdleS(e.currentTarget.value)}
          />
        </label>
      </div>
      <ScrollRegion label="Apps">
        <table>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">Protocol</th>
              <th scope="col">Backend</th>
              <th scope="col">
                <span class="sr-only">Open</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {s.services.map((v) => (
              <tr key={v.name}>
                <td>{v.name}</td>
                <td>{v.protocol}</td>
                <td>
                  {v.backend ? (
                    <code>
                      {v.backend.host}:{v.backend.port}
                    </code>
                  ) : (
                    <span class="muted">not yet</span>
                  )}
                </td>
                <td class="actions">
                  {v.protocol === 'http' ? (
                    <button
                      type="button"
                      class="primary"
                      disabled={!running || open.busy}
                      onClick={() => {
                        // The tab opens in the click (popup blockers), then goes to the setup link.
                        const tab = window.open('about:blank', '_blank');
                        void open
                          .run(() =>
                            call('post', '/v1/sessions/{id}/start-service', {
                              path: { id: s.id },
                              body: {
                                service: v.name,
                                ...(frontend ? { frontend } : {}),
                                ...(idleS
                                  ? { idle: { circuitIdleTimeoutMs: Math.round(Number(idleS) * 1000) } }
                                  : {}),
                              },
                            }),
                          )
                          .then((r) => {
                            if (r?.setupUrl && tab) tab.location.href = r.setupUrl;
                            else if (r?.setupUrl) window.location.href = r.setupUrl;
                            else tab?.close();
                          });
                      }}
                    >
                      Open {v.name}
                    </button>
                  ) : (
                    <>
                      <Copyable
                        value={`appproxy tunnel ${s.name} ${v.name}`}
                        label={`tunnel command of ${v.name}`}
                      />
                      <AllowList sessionId={s.id} service={v.name} disabled={!running} />
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollRegion>
      <ErrorBox error={open.error} />
    </section>
  );
}

/**
 * Raw TCP to a tcp service from listed addresses (no tunnel): opens (or re-opens) its circuit in
 * allow-list mode; the circuit's card then shows its address.
 */
function AllowList({
  sessionId,
  service,
  disabled,
}: {
  sessionId: string;
  service: string;
  disabled: boolean;
}) {
  const [from, setFrom] = useState('');
  const act = useAction();
  const [opened, setOpened] = useState<string | null>(null);
  return (
    <form
      class="allow"
      onSubmit={(e) => {
        e.preventDefault();
        const allowFrom = from
          .split(/[\s,]+/)
          .map((x) => x.trim())
          .filter(Boolean);
        void act
          .run(() =>
            call('post', '/v1/sessions/{id}/start-service', {
              path: { id: sessionId },
              body: { service, access: { mode: 'allow-list', allowFrom } },
            }),
          )
          .then((r) => {
            if (r) setOpened(r.appUrl);
          });
      }}
    >
      <label>
        Or raw TCP from <span class="muted">(addresses or CIDRs)</span>
        <input
          required
          placeholder="10.0.0.0/8, 192.0.2.7"
          value={from}
          onInput={(e) => setFrom(e.currentTarget.value)}
        />
      </label>{' '}
      <button type="submit" disabled={disabled || act.busy}>
        Allow {service}
      </button>
      {opened ? (
        <p class="small" role="status">
          Open at <code>{opened}</code> for those addresses.
        </p>
      ) : null}
      <ErrorBox error={act.error} />
    </form>
  );
}

function Circuits({ sessionId, running }: { sessionId: string; running: boolean }) {
  const circuits = useLoad(
    (signal) => call('get', '/v1/circuits', { query: { sessionId } as never, signal }),
    [sessionId],
    30_000,
    (e) => e.sessionId === sessionId && e.circuitId !== null,
  );
  const items = (circuits.data?.items ?? []).filter((c) => c.state !== 'CLOSED');
  return (
    <section aria-labelledby="circuits-h">
      <h2 id="circuits-h">Open apps (circuits)</h2>
      <ErrorBox error={circuits.error} />
      {items.length === 0 ? (
        <Empty>
          {running
            ? 'No app is open. Open one above: its address, activity and idle countdown show here.'
            : 'Apps open once the session runs.'}
        </Empty>
      ) : (
        items.map((c) => <CircuitCard key={c.id} c={c} onClosed={circuits.reload} />)
      )}
    </section>
  );
}

interface Sample {
  at: number;
  bytes: number;
}

/** One circuit: address, bytes each way as a sparkline, connections, idle policies counting down. */
export function CircuitCard({ c, onClosed }: { c: Circuit; onClosed: () => void }) {
  const activity = useLoad(
    (signal) => call('get', '/v1/circuits/{id}/activity', { path: { id: c.id }, signal }),
    [c.id],
    2000,
  );
  const close = useAction();
  const history = useRef<Sample[]>([]);
  const a = activity.data;
  if (a) {
    const h = history.current;
    const bytes = a.bytesIn + a.bytesOut;
    if (h.length === 0 || h[h.length - 1]!.bytes !== bytes || Date.now() - h[h.length - 1]!.at > 1500)
      h.push({ at: Date.now(), bytes });
    while (h.length > 0 && Date.now() - h[0]!.at > 5 * 60_000) h.shift();
  }
  const now = useNow();
  return (
    <article class="card circuit" aria-label={`Circuit of ${c.service}`}>
      <h3>
        {c.service} <StateBadge state={c.state} />{' '}
        {c.flow === 'legacy' ? (
          <span
            class="badge"
            title="Created under Backend.AI's flow: a per-user appproxy_permit cookie that a sign-out does not end"
          >
            legacy flow
          </span>
        ) : null}{' '}
        {c.appUrl ? (
          <a href={c.appUrl} target="_blank" rel="noopener noreferrer">
            {c.appUrl}
          </a>
        ) : null}
      </h3>
      {a ? (
        <>
          <div class="stats">
            <span>
              <strong data-testid="bytes-in">{fmtBytes(a.bytesIn)}</strong> from clients
            </span>
            <span>
              <strong data-testid="bytes-out">{fmtBytes(a.bytesOut)}</strong> from the app
            </span>
            <span>
              <strong>{a.requests}</strong> requests
            </span>
            <span>
              <strong>{a.openConnections}</strong> open connections
            </span>
            <span>
              last byte from a client <When at={a.lastClientAt} />, from the app <When at={a.lastBackendAt} />
            </span>
          </div>
          <Sparkline samples={history.current} label={`Bytes over the last minutes for ${c.service}`} />
          {a.policies.length === 0 ? (
            <p class="muted small">No idle policy applies: it stays open until closed or its session ends.</p>
          ) : (
            <ul class="policies">
              {a.policies.map((p) => {
                const left = p.actsAt ? new Date(p.actsAt).getTime() - now : null;
                return (
                  <li key={p.policy}>
                    <strong>{p.policy === 'circuit-idle' ? 'Closes this app' : 'Ends the session'}</strong>{' '}
                    {left === null ? (
                      <span>when idle for {duration(p.timeoutMs)} (activity now)</span>
                    ) : (
                      <span class={left < 60_000 ? 'soon' : ''} data-testid="countdown">
                        in {duration(Math.max(0, left))}
                      </span>
                    )}{' '}
                    <span class="muted small">
                      ({p.explanation}; set by the {p.source})
                    </span>
                  </li>
                );
              })}
            </ul>
          )}
        </>
      ) : (
        <ErrorBox error={activity.error} />
      )}
      {c.access?.mode === 'allow-list' ? <AccessForm c={c} access={c.access} /> : null}
      <p>
        <ConfirmButton
          label="Close"
          question={`Close ${c.service}? Its open connections end.`}
          onConfirm={() =>
            void close.run(() => call('delete', '/v1/circuits/{id}', { path: { id: c.id } })).then(onClosed)
          }
        />
      </p>
      <ErrorBox error={close.error} />
    </article>
  );
}

/**
 * A live allow-list circuit's addresses, changed in place (`PATCH /v1/circuits/{id}/access`): the worker
 * applies it at once and closes the connections that no longer pass.
 */
function AccessForm({ c, access }: { c: Circuit; access: NonNullable<Circuit['access']> }) {
  const [from, setFrom] = useState(access.allowFrom.join(', '));
  const [now, setNow] = useState(access);
  const act = useAction();
  const [saved, setSaved] = useState(false);
  return (
    <form
      class="allow"
      aria-label={`Access to ${c.service}`}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(false);
        const allowFrom = from
          .split(/[\s,]+/)
          .map((x) => x.trim())
          .filter(Boolean);
        void act
          .run(() =>
            call('patch', '/v1/circuits/{id}/access', {
              path: { id: c.id },
              body: { mode: 'allow-list', allowFrom },
            }),
          )
          .then((r) => {
            if (!r?.access) return;
            setNow(r.access);
            setFrom(r.access.allowFrom.join(', '));
            setSaved(true);
          });
      }}
    >
      <p class="small">Raw TCP allowed from {now.allowFrom.join(', ')}</p>
      <label>
        Allow raw TCP from <span class="muted">(addresses or CIDRs; connections from others are closed)</span>
        <input required value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
      </label>{' '}
      <button type="submit" disabled={act.busy}>
        Save access
      </button>
      {saved ? (
        <p class="small" role="status">
          Applied: the worker closed the connections the new list does not allow.
        </p>
      ) : null}
      <ErrorBox error={act.error} />
    </form>
  );
}

/** The current time, updated every second (countdowns). */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

function Sparkline({ samples, label }: { samples: Sample[]; label: string }) {
  if (samples.length < 2) return null;
  const w = 240;
  const h = 36;
  // Bytes per interval between samples, as a line.
  const rates = samples.slice(1).map((s, i) => Math.max(0, s.bytes - samples[i]!.bytes));
  const max = Math.max(1, ...rates);
  const pts = rates.map(
    (r, i) => `${(i / Math.max(1, rates.length - 1)) * w},${h - (r / max) * (h - 2) - 1}`,
  );
  return (
    <svg class="spark" width={w} height={h} role="img" aria-label={label} viewBox={`0 0 ${w} ${h}`}>
      <polyline points={pts.join(' ')} fill="none" stroke="currentColor" stroke-width="1.5" />
    </svg>
  );
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function Events({ sessionId }: { sessionId: string }) {
  const events = useLoad(
    (signal) => call('get', '/v1/sessions/{id}/events', { path: { id: sessionId }, signal }),
    [sessionId],
    30_000,
    (e) => e.sessionId === sessionId,
  );
  const items = events.data?.items ?? [];
  return (
    <section aria-labelledby="events-h">
      <h2 id="events-h">Events</h2>
      <ErrorBox error={events.error} />
      {items.length === 0 ? (
        <Empty>Nothing happened yet.</Empty>
      ) : (
        <ol class="timeline">
          {[...items].reverse().map((e) => (
            <li key={e.id}>
              <When at={e.at} /> <strong>{e.kind}</strong> {e.detail ? <span>{e.detail}</span> : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
