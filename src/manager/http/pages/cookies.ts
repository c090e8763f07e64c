/**
 * The manager's own cookies: the login cookie (a login session's secret: HttpOnly, SameSite=Lax,
 * host-only, `__Host-` and Secure under https) and the short-lived anti-forgery cookie of the
 * sign-in form (before a login session exists, the form's token is checked against it).
 */

export const LOGIN_CSRF_COOKIE = 'appproxy_login_csrf';

function attrs(secure: boolean, maxAgeSeconds: number): string {
  return `; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${secure ? '; Secure' : ''}`;
}

export function loginCookie(name: string, secret: string, expiresAt: Date, secure: boolean): string {
  return `${name}=${secret}${attrs(secure, (expiresAt.getTime() - Date.now()) / 1000)}`;
}

export function clearLoginCookie(name: string, secure: boolean): string {
  return `${name}=${attrs(secure || name.startsWith('__Host-'), 0)}`;
}

/** The sign-in form's anti-forgery cookie (10 minutes to fill the form in). */
export function loginCsrfCookie(value: string, secure: boolean): string {
  return `${LOGIN_CSRF_COOKIE}=${value}${attrs(secure, 600)}`;
}
