/**
 * How whatever a handler or fastify threw becomes a registry error, so that every answer is the one
 * envelope `{code, message, detail?, requestId}` and never leaks internals.
 */
import type { FastifyError } from 'fastify';
import { AppProxyError } from '../../contracts/errors.ts';

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
  if (fe.statusCode === 415)
    return new AppProxyError('AP_ERR_VALIDATION', 'Send a JSON body (Content-Type: application/json).');
  if (fe.statusCode === 413) return new AppProxyError('AP_ERR_VALIDATION', 'The request body is too large.');
  if (fe.statusCode === 404) return new AppProxyError('AP_ERR_NOT_FOUND');
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppProxyError('AP_ERR_VALIDATION', 'The request is malformed.');
  }
  return new AppProxyError('AP_ERR_INTERNAL', undefined, undefined, { cause: err });
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
