/**
 * `nightshift serve`'s HTTP server: fastify with the routes of routes.ts, the token check in front of
 * them, no request logging (addresses can carry `?token=`), and a close that ends the open event streams
 * first so browsers see a clean end. Read-only: nothing under the root is written.
 */
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { Schedule } from '../config/model.js';
import { escapeHtml } from '../report/render.js';
import { messageOf } from '../errors.js';
import { tokenGuard } from './auth.js';
import { FleetReader } from './fleet.js';
import { listenUrl } from './listen.js';
import { NightReader } from './night-view.js';
import { NightWatch } from './night-watch.js';
import { notFoundPage } from './pages.js';
import { PAGE_SCRIPT_HASH } from './page-script.js';
import { ROUTES, type ServerContext } from './routes.js';
import { SseStreams } from './sse.js';
import { renderMetrics } from './metrics.js';

/**
 * The page runs only its own inline script (by hash), talks only to this server, and is never framed;
 * the address (which may carry `?token=`) is never sent to another site.
 */
const SECURITY_HEADERS = {
  'content-security-policy': `default-src 'none'; script-src '${PAGE_SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export interface StartServerOptions {
  schedule: Schedule;
  /** This machine's name: the `machine` label of /metrics. */
  machine: string;
  host: string;
  port: number;
  /** Every route but the public ones needs it; undefined = open (loopback only, the command checks). */
  token?: string;
  /** How often a watched night is read (default 1 s). */
  pollMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface RunningServer {
  /** `http://HOST:PORT/` with the real port. */
  url: string;
  port: number;
  /** Ends the event streams, stops the pollers and closes the server. */
  close(): Promise<void>;
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { schedule } = options;
  const nights = new NightReader({ root: schedule.root, timezone: schedule.timezone });
  const fleet = schedule.queue ? new FleetReader({ schedule, env: options.env }) : undefined;
  const watch = new NightWatch({ nights, fleet, intervalMs: options.pollMs });
  const streams = new SseStreams();
  const metrics = () => renderMetrics({ schedule, machine: options.machine, env: options.env });
  const context: ServerContext = { root: schedule.root, timezone: schedule.timezone, nights, watch, streams, metrics };

  // Closing ends every connection, the event streams' included: a browser never holds the process open.
  // Build ids may be long (a package and every axis value): longer route parameters than fastify's default 100.
  const app = Fastify({ logger: false, forceCloseConnections: true, return503OnClosing: true, routerOptions: { maxParamLength: 1000 } });
  app.addHook('onRequest', async (_request, reply) => {
    void reply.headers(SECURITY_HEADERS);
  });
  if (options.token !== undefined) {
    const guard = tokenGuard(options.token);
    app.addHook('onRequest', async (request, reply) => {
      if ((request.routeOptions.config as { public?: boolean }).public) return;
      if (!guard.check(request, reply)) return reply;
    });
  }
  for (const route of ROUTES) {
    app.get(route.url, { config: { public: route.public ?? false } }, (request, reply) => route.handler(context, request, reply));
  }
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('text/html; charset=utf-8')
      .send(notFoundPage(`nothing at ${request.url.split('?', 1)[0]!}`, { href: '/', text: 'the current night' })),
  );
  // An unreadable night.json and the like: the page says what is wrong (the messages hold no secrets).
  app.setErrorHandler((error, _request, reply) =>
    reply
      .code(500)
      .type('text/html; charset=utf-8')
      .send(`<!DOCTYPE html><meta charset="utf-8"><title>nightshift · error</title><p>nightshift serve could not read this: ${escapeHtml(messageOf(error))}</p>`),
  );

  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  return {
    url: listenUrl(options.host, port),
    port,
    async close() {
      streams.endAll();
      watch.close();
      await app.close();
      await fleet?.settle();
    },
  };
}
