/**
 * Server-sent event streams on fastify's raw response. Every open stream is known, so a closing server
 * ends them (a browser would otherwise hold the process open); a stream's signal aborts what feeds it
 * when the client goes away; sending waits while the client is slow, so nothing piles up in memory.
 */
import type { FastifyReply } from 'fastify';

/** A comment line now and then keeps proxies and browsers from dropping a quiet stream. */
const KEEPALIVE_MS = 15_000;

export interface SseStream {
  /** Sends one event; resolves once the client can take more (at once when the stream has closed). */
  send(event: string, data: string, id?: string): Promise<void>;
  /** Ends the stream from this side. */
  end(): void;
  /** Aborted when the stream closes, from either side. */
  readonly signal: AbortSignal;
  readonly closed: boolean;
}

export class SseStreams {
  private readonly open = new Set<{ stream: SseStream; keepalive: () => void }>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => {
      for (const { keepalive } of this.open) keepalive();
    }, KEEPALIVE_MS);
    this.timer.unref();
  }

  /** Takes the response over from fastify and starts the stream. */
  start(reply: FastifyReply): SseStream {
    void reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies in front (nginx) pass the events on at once instead of buffering them.
      'x-accel-buffering': 'no',
    });
    const controller = new AbortController();
    const close = () => {
      if (controller.signal.aborted) return;
      controller.abort();
      this.open.delete(entry);
    };
    const write = (text: string): Promise<void> => {
      if (controller.signal.aborted || res.destroyed) return Promise.resolve();
      if (res.write(text)) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          res.off('drain', done);
          controller.signal.removeEventListener('abort', done);
          resolve();
        };
        res.once('drain', done);
        controller.signal.addEventListener('abort', done);
      });
    };
    const stream: SseStream = {
      send: (event, data, id) =>
        write(
          `event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}${data
            .split('\n')
            .map((line) => `data: ${line}\n`)
            .join('')}\n`,
        ),
      end: () => {
        close();
        res.end();
      },
      signal: controller.signal,
      get closed() {
        return controller.signal.aborted;
      },
    };
    const entry = { stream, keepalive: () => void write(': keepalive\n\n') };
    this.open.add(entry);
    res.on('close', close);
    // The browser waits this long before reconnecting after the stream breaks.
    void write('retry: 2000\n\n');
    return stream;
  }

  /** Ends every open stream (the server is closing). */
  endAll(): void {
    clearInterval(this.timer);
    for (const { stream } of [...this.open]) stream.end();
  }
}
