/**
 * Every address the server answers, in one table: a route is one line here and a handler. All are GET
 * and read-only; `public` routes are answered without the token (only /healthz, for monitors).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FINISHED_STATUSES, nightLayout, type BuildStatus } from '../night/layout.js';
import { openBuildLog } from '../night/follow-log.js';
import { isNightDate, nightDate } from '../night/night-date.js';
import { listNights } from '../night/nights.js';
import { formatSize } from '../units.js';
import { followFrom, TAIL_BYTES, type LogPosition } from './log-follow.js';
import type { NightReader } from './night-view.js';
import type { NightSnapshot, NightWatch } from './night-watch.js';
import { buildPage, nightPage, noNightPage, notFoundPage } from './pages.js';
import { paths, patterns } from './paths.js';
import type { SseStreams } from './sse.js';

export interface ServerContext {
  root: string;
  timezone: string;
  nights: NightReader;
  watch: NightWatch;
  streams: SseStreams;
  /** How often a log follower looks for more (ms). */
  logPollMs?: number;
  /** This machine's figures in Prometheus text, read from the files at each scrape (metrics.ts). */
  metrics: () => Promise<{ contentType: string; body: string }>;
}

type Handler = (context: ServerContext, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface Route {
  url: string;
  public?: boolean;
  handler: Handler;
}

type Params = { date?: string; id?: string };

export const ROUTES: Route[] = [
  { url: patterns.healthz, public: true, handler: async (_context, _request, reply) => reply.type('text/plain; charset=utf-8').send('ok\n') },
  { url: patterns.metrics, handler: metricsText },
  { url: patterns.current, handler: currentNight },
  { url: patterns.night('date'), handler: nightHtml },
  { url: patterns.build('date', 'id'), handler: buildHtml },
  { url: patterns.nightJson('date'), handler: nightJson },
  { url: patterns.nightEvents('date'), handler: nightEvents },
  { url: patterns.logEvents('date', 'id'), handler: logEvents },
  { url: patterns.logText('date', 'id'), handler: logText },
];

const HTML = 'text/html; charset=utf-8';

/** Prometheus scrapes it (with the token as a bearer token when one is set). */
async function metricsText(context: ServerContext, _request: FastifyRequest, reply: FastifyReply) {
  const { contentType, body } = await context.metrics();
  return reply.type(contentType).header('cache-control', 'no-store').send(body);
}

/** The schedule's night now when it exists, else the newest night. */
async function currentNight(context: ServerContext, _request: FastifyRequest, reply: FastifyReply) {
  const nights = await listNights(context.root);
  const today = nightDate(new Date(), context.timezone);
  const date = nights.includes(today) ? today : nights.at(-1);
  if (!date)
    return reply
      .type(HTML)
      .header('cache-control', 'no-store')
      .send(noNightPage({ root: context.root, nights }));
  return reply.header('cache-control', 'no-store').redirect(paths.night(date), 302);
}

/** The night the address names, or undefined after answering 404 (the page or JSON says which nights exist). */
async function nightOf(context: ServerContext, request: FastifyRequest, reply: FastifyReply, as: 'html' | 'json'): Promise<NightSnapshot | undefined> {
  const date = (request.params as Params).date ?? '';
  const night = isNightDate(date) ? await context.watch.snapshot(date) : undefined;
  if (night) return night;
  const nights = await listNights(context.root);
  void reply.code(404);
  if (as === 'json') void reply.send({ error: `no night ${date} on this machine`, nights });
  else void reply.type(HTML).send(noNightPage({ root: context.root, date, nights }));
  return undefined;
}

/** The build the address names in that night, or undefined after answering 404. */
function buildOf(night: NightSnapshot, request: FastifyRequest, reply: FastifyReply, as: 'html' | 'text') {
  const id = (request.params as Params).id ?? '';
  const cell = night.cells.find((c) => c.id === id);
  if (cell) return cell;
  const message = `night ${night.date} has no build ${id}`;
  void reply.code(404);
  if (as === 'text') void reply.type('text/plain; charset=utf-8').send(`${message}\n`);
  else void reply.type(HTML).send(notFoundPage(message, { href: paths.night(night.date), text: `the builds of night ${night.date}` }));
  return undefined;
}

async function nightHtml(context: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const night = await nightOf(context, request, reply, 'html');
  return night && reply.type(HTML).header('cache-control', 'no-store').send(nightPage(night));
}

async function buildHtml(context: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const night = await nightOf(context, request, reply, 'html');
  const cell = night && buildOf(night, request, reply, 'html');
  return cell && reply.type(HTML).header('cache-control', 'no-store').send(buildPage(night, cell.id));
}

async function nightJson(context: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const night = await nightOf(context, request, reply, 'json');
  return night && reply.header('cache-control', 'no-store').send(night);
}

/** `night` events: the whole night at once and after every change, from the night's one shared poller. */
async function nightEvents(context: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const night = await nightOf(context, request, reply, 'json');
  if (!night) return reply;
  const stream = context.streams.start(reply);
  // A client slower than the night's changes gets the newest state once it can take more, not every one in between.
  let next: { event: string; data: string } | undefined;
  let sending = false;
  const flush = async () => {
    if (sending) return;
    sending = true;
    for (let event = next; event; event = next) {
      next = undefined;
      await stream.send(event.event, event.data);
    }
    sending = false;
  };
  const unsubscribe = context.watch.subscribe(night.date, (update) => {
    next = 'text' in update ? { event: 'night', data: update.text } : { event: 'problem', data: JSON.stringify({ message: update.problem }) };
    void flush();
  });
  stream.signal.addEventListener('abort', unsubscribe);
  return reply;
}

const isFinished = (status: BuildStatus) => FINISHED_STATUSES.includes(status);
const size = (bytes: number) => (bytes < 1024 ? `${bytes} bytes` : `${formatSize(bytes)}iB`);

/**
 * `log` events: the log so far (the last TAIL_BYTES of a big one, with a `skipped` event first), then
 * its lines as they are written, then `end` once the build has ended. Each event's id says where the
 * file stood, so a browser that reconnects goes on where it was.
 */
async function logEvents(context: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const night = await nightOf(context, request, reply, 'html');
  const cell = night && buildOf(night, request, reply, 'text');
  if (!night || !cell) return reply;
  const layout = nightLayout(context.root, night.date);
  const stream = context.streams.start(reply);
  // The build's end comes from the night's shared poller: following a log adds no reads of night.json.
  let latest = { status: cell.status, gone: night.runner_gone };
  const unsubscribe = context.watch.subscribe(night.date, (update) => {
    if (!('night' in update)) return;
    const now = update.night.cells.find((c) => c.id === cell.id);
    latest = { status: now?.status ?? 'canceled', gone: update.night.runner_gone || !now };
  });
  const decoder = new TextDecoder('utf-8');
  try {
    await followFrom({
      layout,
      id: cell.id,
      from: positionOf(request.headers['last-event-id']),
      write: (chunk, at) => stream.send('log', JSON.stringify(decoder.decode(chunk, { stream: true })), `${at.file}@${at.offset}`),
      skipped: (bytes, total) => stream.send('skipped', JSON.stringify({ skipped: bytes, size: total, size_text: size(total), skipped_text: size(bytes), tail: TAIL_BYTES })),
      ended: () => isFinished(latest.status) || latest.gone,
      signal: stream.signal,
      pollMs: context.logPollMs,
    });
    if (!stream.closed) {
      const log = await openBuildLog(layout, cell.id);
      await log?.close();
      if (log) await stream.send('end', JSON.stringify({ status: latest.status, ...(isFinished(latest.status) ? {} : { runner_gone: true }) }));
      else await stream.send('missing', JSON.stringify({ message: `${cell.id} has no log: it is ${latest.status.replace('_', ' ')} and never started tonight.` }));
    }
  } finally {
    unsubscribe();
    stream.end();
  }
  return reply;
}

/** `<file>@<offset>` from a reconnecting browser's Last-Event-ID. */
function positionOf(header: string | string[] | undefined): LogPosition | undefined {
  const match = typeof header === 'string' ? /^(\d+\.\d+)@(\d+)$/.exec(header) : null;
  return match ? { file: match[1]!, offset: Number(match[2]) } : undefined;
}

/** The whole log as plain text, streamed from disk. */
async function logText(context: ServerContext, request: FastifyRequest, reply: FastifyReply) {
  const night = await nightOf(context, request, reply, 'html');
  const cell = night && buildOf(night, request, reply, 'text');
  if (!night || !cell) return reply;
  const handle = await openBuildLog(nightLayout(context.root, night.date), cell.id);
  if (!handle) return reply.code(404).type('text/plain; charset=utf-8').send(`${cell.id} has no log: it is ${cell.status}\n`);
  return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(handle.createReadStream());
}
