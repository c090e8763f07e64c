/**
 * Users (admins): create, disable, delete; each user's API tokens and sign-ins (revoke, end); and
 * the logout URIs every sign-out visits.
 */
import { useState } from 'preact/hooks';
import { call } from '../api.ts';
import { ConfirmButton, Empty, ErrorBox, Loading, ScrollRegion, useAction, useLoad, When } from '../ui.tsx';
import { SignIns, Tokens } from './account.tsx';

export function UsersPage({ selfId }: { selfId: string }) {
  const users = useLoad((signal) => call('get', '/v1/users', { signal }), []);
  const act = useAction();
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'user' | 'admin'>('user');
  // The user whose tokens and sign-ins are open below the table (one at a time).
  const [open, setOpen] = useState<string | null>(null);
  const items = users.data?.items ?? [];
  const opened = items.find((u) => u.id === open);
  return (
    <section aria-labelledby="users-h">
      <h1 id="users-h">Users</h1>
      <form
        class="card row"
        aria-label="New user"
        onSubmit={(e) => {
          e.preventDefault();
          void act
            .run(() =>
              call('post', '/v1/users', { body: { name, role, ...(password ? { password } : {}) } as never }),
            )
            .then((u) => {
              if (!u) return;
              setName('');
              setPassword('');
              users.reload();
            });
        }}
      >
        <label>
          Sign-in name
          <input required maxLength={63} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Password <span class="muted">(optional: identity-provider users need none)</span>
          <input
            type="password"
            autoComplete="new-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as 'user' | 'admin')}>
            <option value="user">user</option>
            <option value="admin">admin</option>
          </select>
        </label>
        <button type="submit" class="primary" disabled={act.busy}>
          Create user
        </button>
      </form>
      <ErrorBox error={users.error ?? act.error} />
      {users.loading && !users.data ? (
        <Loading />
      ) : (
        <ScrollRegion label="Users">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col">Sign-in</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((u) => (
                <tr key={u.id}>
                  <td>
                    {u.name}
                    {u.displayName ? <div class="muted small">{u.displayName}</div> : null}
                    {u.disabled ? <span class="badge bad">disabled</span> : null}
                  </td>
                  <td>{u.role}</td>
                  <td class="small">
                    {u.identityProvider
                      ? `provider ${u.identityProvider}`
                      : u.hasPassword
                        ? 'password'
                        : 'token only'}
                  </td>
                  <td>
                    <When at={u.createdAt} />
                  </td>
                  <td class="actions">
                    <button
                      type="button"
                      aria-expanded={open === u.id}
                      aria-controls="user-credentials"
                      aria-label={`Tokens and sign-ins of ${u.name}`}
                      onClick={() => setOpen(open === u.id ? null : u.id)}
                    >
                      Tokens and sign-ins
                    </button>{' '}
                    {u.id === selfId ? (
                      <span class="muted small">you</span>
                    ) : (
                      <>
                        <button
                          type="button"
                          disabled={act.busy}
                          onClick={() =>
                            void act
                              .run(() =>
                                call('patch', '/v1/users/{id}', {
                                  path: { id: u.id },
                                  body: { disabled: !u.disabled } as never,
                                }),
                              )
                              .then(users.reload)
                          }
                        >
                          {u.disabled ? `Enable ${u.name}` : `Disable ${u.name}`}
                        </button>{' '}
                        <ConfirmButton
                          label="Delete"
                          question={`Delete ${u.name}? Their sessions end.`}
                          onConfirm={() =>
                            void act
                              .run(() => call('delete', '/v1/users/{id}', { path: { id: u.id } }))
                              .then(users.reload)
                          }
                        />
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      )}
      {opened ? (
        <div id="user-credentials" class="card">
          <Tokens user={opened.id} name={opened.name} />
          <SignIns user={opened.id} name={opened.name} />
        </div>
      ) : null}
      <LogoutUris />
    </section>
  );
}

function LogoutUris() {
  const uris = useLoad((signal) => call('get', '/v1/logout-uris', { signal }), []);
  const act = useAction();
  const [uri, setUri] = useState('');
  const items = uris.data?.items ?? [];
  return (
    <section aria-labelledby="logout-uris-h">
      <h2 id="logout-uris-h">Logout URIs</h2>
      <p class="muted small">Every sign-out also visits these (other applications of the same people).</p>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          void act
            .run(() => call('post', '/v1/logout-uris', { body: { uri, nextParam: null } as never }))
            .then((r) => {
              if (!r) return;
              setUri('');
              uris.reload();
            });
        }}
      >
        <label>
          URI
          <input type="url" required value={uri} onInput={(e) => setUri(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={act.busy}>
          Add
        </button>
      </form>
      <ErrorBox error={uris.error ?? act.error} />
      {items.length === 0 ? (
        <Empty>None: a sign-out ends AppProxy's own cookies only.</Empty>
      ) : (
        <ul>
          {items.map((u) => (
            <li key={u.id}>
              <code>{u.uri}</code>{' '}
              <ConfirmButton
                label="Remove"
                question="Remove it from every sign-out?"
                onConfirm={() =>
                  void act
                    .run(() => call('delete', '/v1/logout-uris/{id}', { path: { id: u.id } }))
                    .then(uris.reload)
                }
              />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
