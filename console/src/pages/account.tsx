/** Account: who you are, your API tokens (a new one shown once), your sign-ins (end one), sign out. */
import { useState } from 'preact/hooks';
import { call, csrf, markLeaving, type WhoAmI } from '../api.ts';
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
      <Tokens user="me" />
      <SignIns user="me" />
    </section>
  );
}

/** Sign-out is the manager's own page flow (it walks the logout chain): a form post. */
export function SignOut() {
  return (
    <form method="post" action="/logout" class="inline" onSubmit={markLeaving}>
      <input type="hidden" name="_csrf" value={csrf()} />
      <button type="submit">Sign out</button>
    </form>
  );
}

/**
 * API tokens of `user` ('me', or — admins — another user's id, `name` then naming them): listed,
 * created (shown once), revoked.
 */
export function Tokens({ user, name: owner }: { user: string; name?: string }) {
  const self = user === 'me';
  const tokens = useLoad((signal) => call('get', '/v1/tokens', { query: { user } as never, signal }), [user]);
  const act = useAction();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const live = (tokens.data?.items ?? []).filter((t) => t.state === 'live');
  const heading = `tokens-h-${user}`;
  return (
    <section aria-labelledby={heading}>
      <h2 id={heading}>{self ? 'API tokens' : `${owner ?? user}'s API tokens`}</h2>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void act
            .run(() => call('post', '/v1/tokens', { body: (self ? { name } : { name, user }) as never }))
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
        <Empty>
          {self
            ? 'No API token. Create one for scripts and the CLI (`appproxy login` makes its own).'
            : `${owner ?? user} has no live API token.`}
        </Empty>
      ) : (
        <ScrollRegion label={self ? 'API tokens' : `${owner ?? user}'s API tokens`}>
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

/** Live sign-ins of `user` ('me', or — admins — another user's id): listed, each one ended on demand. */
export function SignIns({ user, name: owner }: { user: string; name?: string }) {
  const self = user === 'me';
  const logins = useLoad(
    (signal) => call('get', '/v1/login-sessions', { query: { user, live: true } as never, signal }),
    [user],
  );
  const act = useAction();
  const items = logins.data?.items ?? [];
  const heading = `signins-h-${user}`;
  return (
    <section aria-labelledby={heading}>
      <h2 id={heading}>{self ? 'Your sign-ins' : `${owner ?? user}'s sign-ins`}</h2>
      <ErrorBox error={logins.error ?? act.error} />
      {items.length === 0 ? (
        <Empty>{self ? 'No other sign-in.' : `${owner ?? user} is not signed in anywhere.`}</Empty>
      ) : (
        <ScrollRegion label={self ? 'Sign-ins' : `${owner ?? user}'s sign-ins`}>
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
