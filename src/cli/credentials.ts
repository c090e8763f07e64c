/**
 * The credentials `appproxy login` stores: the manager URL and a bearer secret (a login session's
 * or an API token's), in `credentials.json` of the user's config folder — `$APPPROXY_CONFIG_DIR`,
 * else `$XDG_CONFIG_HOME/appproxy`, else `~/.config/appproxy`. The file is only ever readable by
 * its owner (0600, folder created 0700): it is written to a fresh 0600 file beside it and renamed
 * over the old one, so a file left with wider permissions is replaced, never rewritten in place.
 */

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

export const CREDENTIALS_FILE = 'credentials.json';

export interface StoredCredentials {
  /** The manager the secret belongs to. */
  url: string;
  /** Bearer secret: a login session's (`apl_…`) or an API token (`ap_…`). */
  token: string;
  /** The user's name when it was saved (for messages). */
  user: string;
  savedAt: string;
}

/**
 * The config folder, or null when the environment names none (no `HOME` either): then nothing is
 * read or stored. Only the given environment counts, so a run with an isolated environment never
 * picks up the real user's credentials.
 */
export function configDir(env: Record<string, string | undefined>): string | null {
  if (env.APPPROXY_CONFIG_DIR) return path.resolve(env.APPPROXY_CONFIG_DIR);
  // The XDG spec: a relative XDG_CONFIG_HOME is invalid and ignored.
  if (env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)) {
    return path.join(env.XDG_CONFIG_HOME, 'appproxy');
  }
  const home = env.HOME || env.USERPROFILE;
  return home ? path.join(home, '.config', 'appproxy') : null;
}

export function credentialsPath(env: Record<string, string | undefined>): string | null {
  const dir = configDir(env);
  return dir === null ? null : path.join(dir, CREDENTIALS_FILE);
}

/** Two manager URLs name the same manager when they differ only in case of the host or a trailing slash. */
export function sameManager(a: string, b: string): boolean {
  return normalizeUrl(a) === normalizeUrl(b);
}

export function normalizeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url.replace(/\/+$/, '');
  }
}

/** The stored credentials, or null when there are none (or the file is not ours to read). */
export function readCredentials(file: string): StoredCredentials | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  let v: Partial<StoredCredentials>;
  try {
    v = JSON.parse(text) as Partial<StoredCredentials>;
  } catch {
    return null;
  }
  if (!v || typeof v.url !== 'string' || typeof v.token !== 'string' || v.token === '') return null;
  tighten(file);
  return {
    url: v.url,
    token: v.token,
    user: typeof v.user === 'string' ? v.user : '',
    savedAt: typeof v.savedAt === 'string' ? v.savedAt : '',
  };
}

/** Writes the credentials (0600; folder created 0700), replacing any earlier file atomically. */
export function writeCredentials(file: string, creds: StoredCredentials): void {
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // The umask may only narrow 0600; make it exactly that.
    chmodSync(tmp, 0o600);
    writeSync(fd, `${JSON.stringify(creds, null, 2)}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Removes the stored credentials; false when there were none. */
export function removeCredentials(file: string): boolean {
  try {
    unlinkSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** A credentials file readable by others (copied in, or from an older tool) is narrowed to 0600. */
function tighten(file: string): void {
  if (process.platform === 'win32') return;
  try {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } catch {
    // Not ours to change (another owner): reading it was allowed, so leave it.
  }
}
