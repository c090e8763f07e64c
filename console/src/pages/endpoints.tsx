/**
 * Inference endpoints: each with its address, routes (weight, state, health as the workers see
 * them), token usage, and keys (a new one shown once; revoke).
 */
import { useState } from 'preact/hooks';
import { call, type EndpointRoute } from '../api.ts';
import {
  ConfirmButton,
  Copyable,
  Empty,
  ErrorBox,
  Loading,
  ScrollRegion,
  ShownOnce,
  useAction,
  useLoad,
  When,
} from '../ui.tsx';

export function EndpointsPage() {
  const endpoints = useLoad(
    (signal) => call('get', '/v1/endpoints', { signal }),
    [],
    10_000,
    (e) => e.endpointId !== null,
  );
  const items = (endpoints.data?.items ?? []).filter((e) => e.state !== 'DELETED');
  return (
    <section aria-labelledby="endpoints-h">
      <h1 id="endpoints-h">Endpoints</h1>
      <p class="muted">
        One stable address per model service; its routes are the replicas behind it. Health, requests in
        flight and the last minute's traffic update every few seconds.
      </p>
      <ErrorBox error={endpoints.error} />
      {endpoints.loading && !endpoints.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty>
          No endpoint yet. Create one with <code>appproxy endpoint up NAME --replicas 3</code> (simulated
          replicas) or <code>POST /v1/endpoints</code>.
        </Empty>
      ) : (
        items.map((e) => <EndpointCard key={e.id} id={e.id} />)
      )}
    </section>
  );
}

function EndpointCard({ id }: { id: string }) {
  const ep = useLoad((signal) => call('get', '/v1/endpoints/{id}', { path: { id }, signal }), [id], 3000);
  const usage = useLoad(
    (signal) => call('get', '/v1/endpoints/{id}/usage', { path: { id }, signal }),
    [id],
    10_000,
  );
  const e = ep.data;
  if (!e) return ep.error ? <ErrorBox error={ep.error} /> : <Loading />;
  const t = usage.data?.total;
  return (
    <article class="card" aria-label={`Endpoint ${e.name}`}>
      <h2>{e.name}</h2>
      <p>
        {e.url ? (
          <Copyable value={e.url} label={`address of ${e.name}`} />
        ) : (
          <span class="muted">no address yet</span>
        )}{' '}
        <span class="muted small">
          {e.settings.balancing ?? 'least-inflight'} · revision {e.revision} · created{' '}
          <When at={e.createdAt} />
        </span>
      </p>
      <ErrorBox error={ep.error} />
      {e.routes.length === 0 ? (
        <Empty>No route: requests wait (up to the hold timeout) until one is added.</Empty>
      ) : (
        <ScrollRegion label="Routes">
          <table>
            <caption class="sr-only">Routes of {e.name}</caption>
            <thead>
              <tr>
                <th scope="col">Route</th>
                <th scope="col">Replica</th>
                <th scope="col">Weight</th>
                <th scope="col">State</th>
                <th scope="col">Health</th>
                <th scope="col">In flight</th>
                <th scope="col">
                  <abbr title="requests in the last minute">Req/min</abbr>
                </th>
                <th scope="col">Errors</th>
                <th scope="col">
                  <abbr title="latency, arrival to last byte: median / 99th percentile">
                    Latency p50 / p99
                  </abbr>
                </th>
                <th scope="col">
                  <abbr title="time to first token: median / 99th percentile (streams)">TTFT p50 / p99</abbr>
                </th>
                <th scope="col">Ejections</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {e.routes.map((r) => (
                <tr key={r.id}>
                  <td>{r.id}</td>
                  <td>
                    {r.backend ? (
                      <code>
                        {r.backend.host}:{r.backend.port}
                      </code>
                    ) : (
                      <span class="muted">–</span>
                    )}
                    {r.sessionId ? <div class="muted small">session {r.sessionId}</div> : null}
                  </td>
                  <td>{r.weight}</td>
                  <td>{r.state}</td>
                  <td>
                    {r.health ? (
                      <span
                        class={`badge ${r.health.state === 'healthy' ? 'ok' : r.health.state === 'starting' ? 'wait' : 'bad'}`}
                      >
                        {r.health.state}
                      </span>
                    ) : (
                      <span class="muted">not reported</span>
                    )}
                  </td>
                  <Traffic t={r.traffic} />
                  <td>{r.health?.ejections ?? 0}</td>
                  <td class="small">{r.health?.lastError ?? <span class="muted">–</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      {t ? (
        <p class="stats">
          <span>
            <strong>{t.requests}</strong> requests
          </span>
          <span>
            <strong>{t.promptTokens}</strong> prompt tokens
          </span>
          <span>
            <strong>{t.completionTokens}</strong> completion tokens
          </span>
          <span>
            <strong>{t.cachedTokens}</strong> cached
          </span>
        </p>
      ) : null}
      <Keys id={id} />
    </article>
  );
}

/** A latency in ms as people read it: 850 ms, 1.2 s. */
function ms(v: number | null): string {
  if (v === null) return '–';
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10_000 ? 1 : 0)} s`;
}

/** The route's in-flight count and last minute: cells of its row ("–" until a worker reports). */
function Traffic({ t }: { t: EndpointRoute['traffic'] }) {
  if (!t)
    return (
      <>
        {[0, 1, 2, 3, 4].map((i) => (
          <td key={i} class="muted">
            –
          </td>
        ))}
      </>
    );
  const rate = t.errorRate;
  return (
    <>
      <td>{t.inflight}</td>
      <td>{t.requests}</td>
      <td>
        {rate === null ? (
          <span class="muted">–</span>
        ) : (
          <span class={rate >= 0.05 ? 'badge bad' : rate > 0 ? 'badge wait' : undefined}>
            {(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%
          </span>
        )}
        {t.errors > 0 ? <div class="muted small">{t.errors} failed</div> : null}
      </td>
      <td>
        {ms(t.latencyMs.p50)} / {ms(t.latencyMs.p99)}
      </td>
      <td>
        {ms(t.ttftMs.p50)} / {ms(t.ttftMs.p99)}
      </td>
    </>
  );
}

function Keys({ id }: { id: string }) {
  const keys = useLoad((signal) => call('get', '/v1/endpoints/{id}/tokens', { path: { id }, signal }), [id]);
  const act = useAction();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const live = (keys.data?.items ?? []).filter((k) => k.state === 'live');
  return (
    <section aria-label="Keys">
      <h3>Keys</h3>
      <form
        class="row"
        onSubmit={(ev) => {
          ev.preventDefault();
          void act
            .run(() => call('post', '/v1/endpoints/{id}/tokens', { path: { id }, body: { name } as never }))
            .then((k) => {
              if (!k) return;
              setCreated({ name: k.name, key: k.key });
              setName('');
              keys.reload();
            });
        }}
      >
        <label>
          New key's name
          <input required maxLength={63} value={name} onInput={(ev) => setName(ev.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={act.busy}>
          Create key
        </button>
      </form>
      {created ? (
        <ShownOnce what="Key" name={created.name} secret={created.key} onDone={() => setCreated(null)} />
      ) : null}
      <ErrorBox error={keys.error ?? act.error} />
      {live.length === 0 ? (
        <Empty>No key: clients of a key endpoint need one (Authorization: Bearer).</Empty>
      ) : (
        <ul>
          {live.map((k) => (
            <li key={k.id}>
              <strong>{k.name}</strong>{' '}
              <span class="muted small">
                {k.models.length ? `models ${k.models.join(', ')}` : 'any model'}
                {k.rpm ? ` · ${k.rpm} requests/min` : ''}
                {k.tpm ? ` · ${k.tpm} tokens/min` : ''}
                {k.expiresAt ? ' · expires ' : ''}
              </span>
              {k.expiresAt ? <When at={k.expiresAt} /> : null}{' '}
              <ConfirmButton
                label="Revoke"
                question={`Revoke ${k.name}? Its clients are refused at once.`}
                onConfirm={() =>
                  void act
                    .run(() => call('delete', '/v1/endpoints/{id}/tokens/{key}', { path: { id, key: k.id } }))
                    .then(keys.reload)
                }
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
