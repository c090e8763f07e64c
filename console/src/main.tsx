/**
 * The web console: one page app over the manager's REST API, routed by the URL's hash
 * (`#/sessions`, `#/sessions/{id}`, `#/circuits`, `#/endpoints`, `#/workers`, `#/users`, `#/account`) so the manager serves one document.
 * Sign-in and sign-out stay the manager's own pages (/login, /logout): they work without
 * JavaScript and carry the identity-provider flows.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, type WhoAmI, whoami } from './api.ts';
import { AccountPage, SignOut } from './pages/account.tsx';
import { CircuitsPage } from './pages/circuits.tsx';
import { EndpointsPage } from './pages/endpoints.tsx';
import { SessionPage } from './pages/session.tsx';
import { SessionsPage } from './pages/sessions.tsx';
import { UsersPage } from './pages/users.tsx';
import { WorkersPage } from './pages/workers.tsx';
import { ErrorBox, Loading } from './ui.tsx';
import './style.css';

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/sessions');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/sessions');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function App() {
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const hash = useHash();
  useEffect(() => {
    whoami()
      .then(setMe)
      .catch((e: unknown) =>
        setError(e instanceof ApiError ? e : new ApiError(0, 'AP_ERR_CONSOLE', String(e))),
      );
  }, []);
  // Each page's heading gets the focus when the page changes (screen readers hear where they are).
  useEffect(() => {
    const h = document.querySelector<HTMLElement>('main h1');
    if (h) {
      h.tabIndex = -1;
      h.focus({ preventScroll: true });
    }
    document.title = `${h?.textContent ?? 'AppProxy'} · AppProxy`;
  }, [hash, me]);
  if (error) return <ErrorBox error={error} />;
  if (!me) return <Loading />;
  const admin = me.user.role === 'admin';
  const [, page, id] = hash.split('/').map(decodeURIComponent);
  const nav: [string, string][] = [
    ['#/sessions', 'Sessions'],
    ['#/circuits', 'Circuits'],
    ['#/endpoints', 'Endpoints'],
    ...(admin
      ? ([
          ['#/workers', 'Workers'],
          ['#/users', 'Users'],
        ] as [string, string][])
      : []),
    ['#/account', 'Account'],
  ];
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <a class="brand" href="#/sessions">
          AppProxy
        </a>
        <nav aria-label="Console">
          {nav.map(([href, label]) => (
            <a key={href} href={href} aria-current={hash.startsWith(href) ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          {me.user.displayName ?? me.user.name} <SignOut />
        </span>
      </header>
      <main id="main">
        {page === 'sessions' && id ? (
          <SessionPage id={id} />
        ) : page === 'circuits' ? (
          <CircuitsPage />
        ) : page === 'users' && admin ? (
          <UsersPage selfId={me.user.id} />
        ) : page === 'endpoints' ? (
          <EndpointsPage />
        ) : page === 'workers' && admin ? (
          <WorkersPage />
        ) : page === 'account' ? (
          <AccountPage me={me} />
        ) : (
          <SessionsPage admin={admin} userId={me.user.id} />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
