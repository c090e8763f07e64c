/**
 * One logger per process, created by the composition root and passed down. Secrets are redacted
 * by path so that a careless `log.info({ req })` can never leak a token or a cookie.
 */
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'token',
  '*.token',
  'adminToken',
  'authorization',
  'cookie',
  'setupUrl',
  '*.setupUrl',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'res.headers["set-cookie"]',
  'cookieSecret',
  'privateJwk',
];

/** Query parameters whose values are credentials (a URL is logged with every request). */
const SECRET_PARAMS = /([?&](?:token|code|state|logout_token|device_code)=)[^&#]*/gi;

/** A request URL with the values of credential parameters replaced (`?token=[redacted]`). */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.includes('=') ? url.replace(SECRET_PARAMS, '$1[redacted]') : url;
}

export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  return pino(
    {
      name: opts.name ?? 'appproxy',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    opts.destination,
  );
}

export type { Logger };
