/** Sessions: yours (everyone's for admins), started from a template, live state, deleted with a confirmation. */
import { useState } from 'preact/hooks';
import { call, type Session, type Template } from '../api.ts';
import {
  ConfirmButton,
  Empty,
  ErrorBox,
  Loading,
  ScrollRegion,
  StateBadge,
  useAction,
  useLoad,
  When,
} from '../ui.tsx';

const LIVE = new Set(['PENDING', 'RUNNING', 'TERMINATING']);

export function SessionsPage({ admin, userId }: { admin: boolean; userId: string }) {
  const [show, setShow] = useState<'live' | 'all'>('live');
  const [owner, setOwner] = useState('');
  const [template, setTemplate] = useState('');
  // Sessions change state by themselves (starting, idle reclaim): their events reload the list.
  const sessions = useLoad(
    (signal) => call('get', '/v1/sessions', { signal }),
    [],
    30_000,
    (e) => e.sessionId !== null && e.kind.startsWith('session-'),
  );
  const templates = useLoad((signal) => call('get', '/v1/templates', { signal }), []);
  // Admins see everyone's sessions: owners by name, and a filter by user.
  const users = useLoad(
    (signal) => (admin ? call('get', '/v1/users', { signal }) : Promise.resolve({ items: [] })),
    [admin],
  );
  const names = new Map((users.data?.items ?? []).map((u) => [u.id, u.name]));
  const del = useAction();
  const items = (sessions.data?.items ?? [])
    .filter((s) => show === 'all' || LIVE.has(s.state))
    .filter((s) => owner === '' || s.ownerId === owner)
    .filter((s) => template === '' || s.template === template);
  return (
    <section aria-labelledby="sessions-h">
      <h1 id="sessions-h">Sessions</h1>
      <CreateSession templates={templates.data?.items ?? []} onCreated={sessions.reload} />
      <h2>{admin ? 'All sessions' : 'Your sessions'}</h2>
      <fieldset class="filters">
        <legend class="sr-only">Filter sessions</legend>
        <label>
          Show{' '}
          <select value={show} onChange={(e) => setShow(e.currentTarget.value as 'live' | 'all')}>
            <option value="live">live</option>
            <option value="all">all, ended too</option>
          </select>
        </label>
        {admin && (
          <label>
            Owner{' '}
            <select value={owner} onChange={(e) => setOwner(e.currentTarget.value)}>
              <option value="">anyone</option>
              <option value={userId}>me</option>
              {(users.data?.items ?? [])
                .filter((u) => u.id !== userId)
                .map((u) => (
                  <option key={u.id} value={u.id}>
                    {u.name}
                  </option>
                ))}
            </select>
          </label>
        )}
        <label>
          Template{' '}
          <select value={template} onChange={(e) => setTemplate(e.currentTarget.value)}>
            <option value="">any</option>
            {(templates.data?.items ?? []).map((t) => (
              <option key={t.name} value={t.name}>
                {t.name}
              </option>
            ))}
          </select>
        </label>
      </fieldset>
      <ErrorBox error={sessions.error ?? del.error} />
      {sessions.loading && !sessions.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <Empty>No session here. Start one above from a template; its apps appear on its page.</Empty>
      ) : (
        <ScrollRegion label="Sessions">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {admin ? <th scope="col">Owner</th> : null}
                <th scope="col">Template</th>
                <th scope="col">State</th>
                <th scope="col">Apps</th>
                <th scope="col">Started</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((s) => (
                <SessionRow
                  key={s.id}
                  s={s}
                  owner={admin ? (s.ownerId === userId ? 'you' : (names.get(s.ownerId) ?? s.ownerId)) : null}
                  onDelete={() =>
                    void del
                      .run(() => call('delete', '/v1/sessions/{id}', { path: { id: s.id } }))
                      .then(sessions.reload)
                  }
                />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
    </section>
  );
}

function SessionRow({ s, owner, onDelete }: { s: Session; owner: string | null; onDelete: () => void }) {
  return (
    <tr>
      <td>
        <a href={`#/sessions/${encodeURIComponent(s.id)}`}>{s.name}</a>
      </td>
      {owner === null ? null : <td>{owner}</td>}
      <td>{s.template}</td>
      <td>
        <StateBadge state={s.state} />
        {s.stateReason ? <span class="muted small"> {s.stateReason}</span> : null}
      </td>
      <td>{s.services.map((v) => v.name).join(', ') || <span class="muted">–</span>}</td>
      <td>
        <When at={s.createdAt} />
      </td>
      <td class="actions">
        {LIVE.has(s.state) && s.state !== 'TERMINATING' ? (
          <ConfirmButton label="Delete" question={`Delete ${s.name}?`} onConfirm={onDelete} />
        ) : null}
      </td>
    </tr>
  );
}

function CreateSession({ templates, onCreated }: { templates: Template[]; onCreated: () => void }) {
  const usable = templates.filter((t) => t.available);
  const [template, setTemplate] = useState('');
  const [name, setName] = useState('');
  const [idleMin, setIdleMin] = useState('');
  const act = useAction();
  const chosen = template || usable[0]?.name || '';
  const t = templates.find((x) => x.name === chosen);
  return (
    <form
      class="card"
      aria-labelledby="create-h"
      onSubmit={(e) => {
        e.preventDefault();
        void act
          .run(() =>
            call('post', '/v1/sessions', {
              body: {
                template: chosen,
                ...(name ? { name } : {}),
                ...(idleMin ? { idle: { sessionIdleTimeoutMs: Math.round(Number(idleMin) * 60_000) } } : {}),
              } as never,
            }),
          )
          .then((s) => {
            if (!s) return;
            setName('');
            onCreated();
            location.hash = `#/sessions/${encodeURIComponent(s.id)}`;
          });
      }}
    >
      <h2 id="create-h">Start a session</h2>
      {usable.length === 0 ? (
        <Empty>No template is available on this installation's agent.</Empty>
      ) : (
        <div class="row">
          <label>
            Template
            <select value={chosen} onChange={(e) => setTemplate(e.currentTarget.value)}>
              {usable.map((x) => (
                <option key={x.name} value={x.name}>
                  {x.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Name <span class="muted">(optional)</span>
            <input value={name} maxLength={63} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Reclaim when idle for <span class="muted">(minutes, optional)</span>
            <input
              type="number"
              min="1"
              step="1"
              inputMode="numeric"
              value={idleMin}
              onInput={(e) => setIdleMin(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary" disabled={act.busy || !chosen}>
            {act.busy ? 'Starting…' : 'Start'}
          </button>
        </div>
      )}
      {t ? <p class="muted small">{t.description}</p> : null}
      <ErrorBox error={act.error} />
    </form>
  );
}
