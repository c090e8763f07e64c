/**
 * The web console's files (console/dist, built by `npm run build:console`; `npm start` builds it
 * when its sources changed): read once at start into memory and served under /console/, the
 * document itself at `/` for a signed-in browser (pages.ts). A fixed set of known files rather
 * than a static-file server: there is no path to traverse, no file system access per request, and
 * every answer carries the console's own security headers.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyReply } from 'fastify';
import type { RoutePlugin } from './context.ts';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

/**
 * The console's policy: its own scripts and styles only, API calls to this origin, app tabs it
 * opens are new documents (not frames). No inline script (the build emits none).
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

interface ConsoleFile {
  body: Buffer;
  type: string;
  etag: string;
}

export interface ConsoleFiles {
  /** `/console/...` path → file. */
  readonly files: ReadonlyMap<string, ConsoleFile>;
  readonly index: ConsoleFile;
}

/** The default build folder: console/dist of this checkout. */
export const CONSOLE_DIST = new URL('../../../console/dist', import.meta.url).pathname;

/** The built console, or null when it was not built (the manager then serves its plain pages). */
export function loadConsole(dir = CONSOLE_DIST): ConsoleFiles | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const files = new Map<string, ConsoleFile>();
  const walk = (sub: string) => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${e.name}` : e.name;
      if (e.isDirectory()) walk(rel);
      else if (!e.name.startsWith('.')) {
        const body = readFileSync(join(dir, rel));
        files.set(`/console/${rel}`, {
          body,
          type: TYPES[extname(e.name)] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        });
      }
    }
  };
  walk('');
  return { files, index: files.get('/console/index.html')! };
}

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY');
}

/** The console's document (no caching: it names the current build's assets). */
export function sendConsoleIndex(reply: FastifyReply, c: ConsoleFiles): FastifyReply {
  return securityHeaders(reply).header('cache-control', 'no-store').type(c.index.type).send(c.index.body);
}

export const consoleRoutes: RoutePlugin<{ console: ConsoleFiles | null }> = async (app, d) => {
  const c = d.console;
  if (!c) return;
  app.get('/console/*', { schema: { hide: true, security: [] } }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const f = c.files.get(path);
    if (!f || path === '/console/index.html') return reply.code(404).type('text/plain').send('Not found');
    securityHeaders(reply).header('etag', f.etag);
    // Built assets carry their content hash in their name: cached for good.
    reply.header(
      'cache-control',
      path.startsWith('/console/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    );
    if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
    return reply.type(f.type).send(f.body);
  });
};
