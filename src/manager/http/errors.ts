/**
 * How whatever a handler or fastify threw becomes a registry error, so that every answer is the one
 * envelope `{code, message, detail?, requestId}` and never leaks internals.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppProxyError, ERRORS, type ErrorCode, errorEnvelope } from '../../contracts/errors.ts';

/** The longest path parameter the router takes; longer ones are 414 (no valid one comes near). */
export const MAX_PARAM_LENGTH = 1024;

interface ValidationItem {
  keyword: string;
  instancePath: string;
  schemaPath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Maps whatever a handler or fastify threw to a registry error (never leaking internals). */
export function toAppError(err: FastifyError | Error): AppProxyError {
  if (err instanceof AppProxyError) return err;
  const fe = err as FastifyError;
  if (fe.validation) {
    return new AppProxyError(
      'AP_ERR_VALIDATION',
      'The request is malformed; see detail for the fields.',
      validationDetail(fe),
    );
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new AppProxyError('AP_ERR_VALIDATION', 'The request body is not valid JSON.');
  }
  if (fe.code === 'FST_ERR_BAD_URL') {
    return new AppProxyError(
      'AP_ERR_VALIDATION',
      'The URL path is not valid: a percent-encoded part does not decode (e.g. "%zz").',
    );
  }
  if (fe.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new AppProxyError(
      'AP_ERR_URI_TOO_LONG',
      `A path parameter is longer than ${MAX_PARAM_LENGTH} characters; no valid one is.`,
    );
  }
  if (fe.statusCode === 415)
    return new AppProxyError('AP_ERR_VALIDATION', 'Send a JSON body (Content-Type: application/json).');
  if (fe.statusCode === 413) return new AppProxyError('AP_ERR_BODY_TOO_LARGE');
  if (fe.statusCode === 404) return new AppProxyError('AP_ERR_NOT_FOUND');
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppProxyError('AP_ERR_VALIDATION', 'The request is malformed.');
  }
  return new AppProxyError('AP_ERR_INTERNAL', undefined, undefined, { cause: err });
}

/** Answers with the envelope (and `x-request-id`), logging what the caller must not see. */
export function sendError(req: FastifyRequest, reply: FastifyReply, err: FastifyError | Error): void {
  const e = toAppError(err);
  if (e.code === 'AP_ERR_INTERNAL' || e.code === 'AP_ERR_STORE_UNAVAILABLE') {
    req.log.error({ err, requestId: req.id }, 'request failed');
  }
  void reply
    .code(e.status)
    .header('x-request-id', req.id)
    .type('application/json')
    .send(errorEnvelope(e, req.id));
}

/**
 * Requests Node's HTTP parser refused before fastify saw them (malformed request line or framing,
 * headers over Node's limit, headers too slow): the envelope written on the socket, then closed.
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 'AP_ERR_HEADERS_TOO_LARGE'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'AP_ERR_REQUEST_TIMEOUT'
        : 'AP_ERR_BAD_REQUEST';
  const requestId = randomUUID();
  const body = JSON.stringify(errorEnvelope(new AppProxyError(code), requestId));
  const { status } = ERRORS[code];
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
  // A client that never reads must not pin the socket.
  setTimeout(() => socket.destroy(), 2000).unref();
}

/** `[{field, in, message}]`, one entry per offending field (JSON pointer into the request part). */
function validationDetail(fe: FastifyError): { field: string; in: string; message: string }[] {
  const part = fe.validationContext ?? 'body';
  const byField = new Map<string, string>();
  for (const v of (fe.validation ?? []) as unknown as ValidationItem[]) {
    if (v.keyword === 'boolean' && v.schemaPath?.endsWith('additionalProperties')) continue; // reported below
    if (v.keyword === 'additionalProperties') {
      const extra = (v.params?.additionalProperties as string[] | undefined) ?? [];
      for (const f of extra) byField.set(`${v.instancePath}/${f}`, 'is not a known field');
    } else if (v.keyword === 'required') {
      const missing = (v.params?.requiredProperties as string[] | undefined) ?? [];
      for (const f of missing) byField.set(`${v.instancePath}/${f}`, 'is required');
    } else {
      const field = v.instancePath || '/';
      // For unions the last error is the summary ("must match a schema in anyOf"): keep it.
      byField.set(field, v.message ?? v.keyword);
    }
  }
  return [...byField].map(([field, message]) => ({ field, in: part, message }));
}
