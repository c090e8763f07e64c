/**
 * GET /v1/events/stream: the live channel of the web console (server-sent events). Each
 * lifecycle event the caller may see arrives as `event: lifecycle` with the event as JSON and its
 * id as the SSE id, so a reconnecting EventSource resumes after the last one it got
 * (`Last-Event-ID`). A comment every 15 s keeps proxies from closing an idle stream; the stream
 * ends when the caller's credential does (sign-out, revocation), checked every few seconds.
 */
import { AppProxyError } from '../../contracts/errors.ts';
import type { FlagView } from '../../stores/flag-view.ts';
import type { AuthService } from '../services/auth.ts';
import type { LiveEvents } from '../services/live-events.ts';
import { principal, type RoutePlugin } from './context.ts';

export interface LiveRoutesOptions {
  live: LiveEvents;
  auth: Pick<AuthService, 'authenticate'>;
  /** The `liveEvents` flag: off, the stream answers 503 AP_ERR_FEATURE_DISABLED. */
  flags: Pick<FlagView, 'enabled'>;
}

const HEARTBEAT_MS = 15_000;

export const liveRoutes: RoutePlugin<LiveRoutesOptions> = async (app, d) => {
  app.get(
    '/v1/events/stream',
    {
      schema: {
        summary: 'Lifecycle events as they happen (text/event-stream), those the caller may see.',
        description:
          'Each event: `id: <event id>`, `event: lifecycle`, `data: <the event as in /v1/sessions/{id}/events>`. ' +
          'A reconnect with `Last-Event-ID` first replays what it missed (up to 200). The stream ends when ' +
          "the caller's credential ends. Turned off by the `liveEvents` flag: 503 AP_ERR_FEATURE_DISABLED, and " +
          'open streams end.',
        tags: ['sessions'],
      },
    },
    async (req, reply) => {
      const p = principal(req);
      if (!d.flags.enabled('liveEvents'))
        throw new AppProxyError('AP_ERR_FEATURE_DISABLED', undefined, { flag: 'liveEvents' });
      const last = Number(req.headers['last-event-id']);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        // The connection ends with the stream (EventSource reconnects on a new one anyway): a
        // kept-alive socket behind a hijacked reply would hold the server's close.
        connection: 'close',
        'x-request-id': req.id,
      });
      // Tells EventSource how long to wait before reconnecting.
      res.write('retry: 2000\n\n');
      let open = true;
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const end = () => {
        if (!open) return;
        open = false;
        clearInterval(heartbeat);
        res.end();
      };
      const headers = { authorization: req.headers.authorization, cookie: req.headers.cookie };
      const unsubscribe = await d.live.subscribe(
        {
          principal: p,
          send: (e) => {
            if (open) res.write(`id: ${e.id}\nevent: lifecycle\ndata: ${JSON.stringify(e)}\n\n`);
          },
          stillValid: async () => {
            try {
              await d.auth.authenticate({ method: 'GET', headers });
              return true;
            } catch {
              return false;
            }
          },
          end,
        },
        Number.isInteger(last) && last >= 0 ? last : null,
      );
      res.on('close', () => {
        open = false;
        clearInterval(heartbeat);
        unsubscribe();
      });
    },
  );
};
