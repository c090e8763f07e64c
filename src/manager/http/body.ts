/**
 * Request bodies of the manager API: JSON only, at most `BODY_LIMIT_BYTES`, and an empty body is
 * no body (many client wrappers send `Content-Type: application/json` on every request).
 *
 * A body over the limit is answered `413 AP_ERR_BODY_TOO_LARGE` only after the rest of it has been
 * read and discarded, up to `DRAIN_LIMIT_BYTES` more and for at most `DRAIN_LIMIT_MS`: an ordinary
 * client (Python's `http.client`, `requests`) writes its whole body before it reads the answer,
 * and closing while it still writes would hand it a broken pipe instead of the 413. A body
 * declared or sent beyond the drain bound is cut at once (the connection closes in bounded time).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { AppProxyError } from '../../contracts/errors.ts';
import type { App } from './context.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** How much more of an oversized body is read (and discarded) so the client gets to read the 413. */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;
/** How long, once over the limit, the rest of an oversized body may take to arrive. */
export const DRAIN_LIMIT_MS = 5000;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

function tooLarge(): AppProxyError {
  return new AppProxyError(
    'AP_ERR_BODY_TOO_LARGE',
    `The request body is larger than the ${BODY_LIMIT_BYTES / 1024 / 1024} MiB the API accepts.`,
    { limitBytes: BODY_LIMIT_BYTES },
  );
}

/** The body, whole, or AP_ERR_BODY_TOO_LARGE once the oversized rest is drained (or cut). */
function readBody(payload: IncomingMessage): Promise<Buffer> {
  const declared = Number(payload.headers['content-length']);
  if (declared > BODY_LIMIT_BYTES + DRAIN_LIMIT_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      payload.off('data', onData);
      payload.off('end', onEnd);
      payload.off('error', onError);
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (!over && size <= BODY_LIMIT_BYTES) {
        chunks.push(chunk);
        return;
      }
      if (!over) {
        over = true;
        chunks = [];
        timer = setTimeout(() => fail(tooLarge()), DRAIN_LIMIT_MS);
      }
      if (size > BODY_LIMIT_BYTES + DRAIN_LIMIT_BYTES) fail(tooLarge());
    };
    const onEnd = () => {
      cleanup();
      if (over) reject(tooLarge());
      else resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => fail(err);
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
  });
}

/** Replaces fastify's parsers with one for every content type (and none). */
export function acceptJsonBodies(app: App): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', async (req: FastifyRequest, payload: IncomingMessage) => {
    const raw = await readBody(payload);
    // A route that takes no body ignores one; an empty body is no body.
    if (req.routeOptions.schema?.body === undefined || raw.length === 0) return undefined;
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) {
      throw new AppProxyError('AP_ERR_VALIDATION', 'Send a JSON body (Content-Type: application/json).');
    }
    return new Promise((resolve, reject) => {
      parseJson(req, raw.toString('utf8'), (err, body) => (err ? reject(err) : resolve(body)));
    });
  });
  // A route that takes a body sees an absent or empty one as `{}`, so validation names the
  // missing fields instead of calling the body malformed.
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && req.routeOptions.schema?.body !== undefined) req.body = {};
  });
}
