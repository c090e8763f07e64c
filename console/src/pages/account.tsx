/** Account: who you are, your API tokens (a new one shown once), your sign-ins (end one), sign out. */
import { useState } from 'preact/hooks';
import { call, csrf, type WhoAmI } from '../api.ts';
import {
  ConfirmButton,
  Empty,
  ErrorBox,
  Loading,
  ScrollRegion,
  ShownOnce,
  useAction,
  useLoad,
  When,
} from '../ui.tsx';

export function AccountPage({ me }: { me: WhoAmI }) {
  return (
    <section aria-labelledby="account-h">
      <h1 id="account-h">Account</h1>
      <p>
        Signed in as <strong>{me.user.displayName ?? me.user.name}</strong>{' '}
        <span class="muted">
          ({me.user.name}, {me.user.role})
        </span>
      </p>
      <SignOut />
      <Tokens />
      <SignIns />
    </section>
  );
}

/** Sign-out is the manager's own page flow (it walks the logout chain): a form post. */
export function SignOut() {
  return (
    <form method="post" action="/logout" class="inline">
      <input type="hidden" name="_csrf" value={csrf()} />
      <button type="submit">Sign out</button>
    </form>
  );
}

function Tokens() {
  const tokens = useLoad((signal) => call('get', '/v1/tokens', { signal }), []);
  const act = useAction();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const live = (tokens.data?.items ?? []).filter((t) => t.state === 'live');
  return (
    <section aria-labelledby="tokens-h">
      <h2 id="tokens-h">API tokens</h2>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void act
            .run(() => call('post', '/v1/tokens', { body: { name } as never }))
            .then((t) => {
              if (!t) return;
              setCreated({ name: t.name, token: t.token });
              setName('');
              tokens.reload();
            });
        }}
      >
        <label>
          New token's name
          <input required maxLength={63} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={act.busy}>
          Create
        </button>
      </form>
      {created ? (
        <ShownOnce what="Token" name={created.name} secret={created.token} onDone={() => setCreated(null)} />
      ) : null}
      <ErrorBox error={tokens.error ?? act.error} />
      {tokens.loading && !tokens.data ? (
        <Loading />
      ) : live.length === 0 ? (
        <Empty>No API token. Create one for scripts and the CLI (`appproxy login` makes its own).</Empty>
      ) : (
        <ScrollRegion label="API tokens">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {live.map((t) => (
                <tr key={t.id}>
                  <td>{t.name}</td>
                  <td>
                    <When at={t.createdAt} />
                  </td>
                  <td>
                    <When at={t.lastUsedAt} />
                  </td>
                  <td>{t.expiresAt ? <When at={t.expiresAt} /> : <span class="muted">never</span>}</td>
                  <td class="actions">
                    <ConfirmButton
                      label="Revoke"
                      question={`Revoke ${t.name}?`}
                      onConfirm={() =>
                        void act
                          .run(() => call('delete', '/v1/tokens/{id}', { path: { id: t.id } }))
                          .then(tokens.reload)
                      }
                    />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
    </section>
  );
}

function SignIns() {
  const logins = useLoad(
    (signal) => call('get', '/v1/login-sessions', { query: { user: 'me', live: true } as never, signal }),
    [],
  );
  const act = useAction();
  const items = logins.data?.items ?? [];
  return (
    <section aria-labelledby="signins-h">
      <h2 id="signins-h">Your sign-ins</h2>
      <ErrorBox error={logins.error ?? act.error} />
      {items.length === 0 ? (
        <Empty>No other sign-in.</Empty>
      ) : (
        <ScrollRegion label="Sign-ins">
          <table>
            <thead>
              <tr>
                <th scope="col">Kind</th>
                <th scope="col">Started</th>
                <th scope="col">From</th>
                <th scope="col">Last seen</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((l) => (
                <tr key={l.id}>
                  <td>
                    {l.kind}
                    {l.current ? <span class="muted"> (this browser)</span> : null}
                  </td>
                  <td>
                    <When at={l.createdAt} />
                  </td>
                  <td>{l.clientAddress ?? <span class="muted">–</span>}</td>
                  <td>
                    <When at={l.lastSeenAt} />
                  </td>
                  <td class="actions">
                    {l.current ? null : (
                      <ConfirmButton
                        label="End"
                        question="End this sign-in? Its apps' cookies stop working."
                        onConfirm={() =>
                          void act
                            .run(() => call('delete', '/v1/login-sessions/{id}', { path: { id: l.id } }))
                            .then(logins.reload)
                        }
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
    </section>
  );
}
