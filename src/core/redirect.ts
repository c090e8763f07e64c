/**
 * Redirect targets a page may follow after a step (app setup, sign-in): same-origin relative paths
 * only, so a link cannot send the browser elsewhere (no open redirects). Shared by the workers'
 * `/_appproxy/setup` and the manager's sign-in page.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects.
const UNSAFE = /[\u0000-\u001f\u007f\\]/;

function unsafePath(p: string): boolean {
  return p.charCodeAt(0) !== 47 /* / */ || p.charCodeAt(1) === 47 || p.charCodeAt(1) === 92 || UNSAFE.test(p);
}

/**
 * `next` as a same-origin relative path, or null when it is anything else. The query string was
 * decoded once already; the path is checked again after each further decoding (up to 3), so
 * `/%2F/evil.com` and friends are refused too. Absent ⇒ `/`.
 */
export function safeNext(next: string | null): string | null {
  if (next === null) return '/';
  let p = next;
  for (let i = 0; i < 4; i++) {
    if (unsafePath(p)) return null;
    let decoded: string;
    try {
      decoded = decodeURIComponent(p);
    } catch {
      return null;
    }
    if (decoded === p) break;
    p = decoded;
    if (i === 3) return null;
  }
  // Percent-encode what a Location header cannot carry (non-ASCII, spaces); the path stays the same.
  return next.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
}
