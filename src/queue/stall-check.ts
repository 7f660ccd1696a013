/**
 * The takeover of jobs whose machine stopped renewing them: BullMQ's stalled-job check, run by a worker
 * of its own on a connection of its own, and never during the first lease after Redis comes back.
 *
 * Why the grace: while Redis is away no lock can be renewed, so every lock whose lease ran out meanwhile
 * is gone when Redis returns (with its data, from its append-only file), on live machines' builds as
 * much as on dead ones'. Each live machine takes its own builds back within a third of a lease
 * (NightQueue.renew); a check run before that would hand them to other machines and build them twice.
 * So the checker's connection never reconnects and never queues a command while Redis is away: when it
 * drops, the checker stops, and a new one starts once the machine's own connection has been up for a
 * whole lease. Each check moves a job back to the queue only if it was active without a lock at the
 * check before too (BullMQ's rule), so takeover comes between one and one and a half leases after the
 * last renewal.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

export interface StallCheckOptions {
  url: string;
  queueName: string;
  prefix: string;
  leaseMs: number;
  maxTakeovers: number;
  /** The machine's own connection: the checker starts a lease after it last became ready. */
  connection: Redis;
}

export class StallCheck {
  private worker: Worker | undefined;
  private client: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** No check before this time (ms); undefined while the machine's connection is down. */
  private notBefore: number | undefined;

  constructor(private readonly options: StallCheckOptions) {
    const { connection } = options;
    connection.on('ready', () => {
      this.notBefore = Date.now() + options.leaseMs;
      this.schedule(options.leaseMs);
    });
    connection.on('close', () => (this.notBefore = undefined));
  }

  /** Starts checking now: the machine has just connected, nothing of its own can have lost a lock yet. */
  start(): void {
    this.notBefore = Date.now();
    this.schedule(0);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.stop();
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.timer = setTimeout(() => void this.startWhenSettled(), delayMs);
    this.timer.unref();
  }

  /** Starts a checker once the machine's connection has been up for a lease (or at the first start). */
  private async startWhenSettled(): Promise<void> {
    if (this.closed || this.worker !== undefined || this.notBefore === undefined) return;
    if (Date.now() < this.notBefore) {
      this.schedule(this.notBefore - Date.now());
      return;
    }
    const { url, queueName, prefix, leaseMs, maxTakeovers } = this.options;
    // No reconnection and no offline queue: a check never waits for Redis to come back and then runs blind.
    const client = new Redis(url, { maxRetriesPerRequest: null, enableOfflineQueue: false, autoResendUnfulfilledCommands: false, retryStrategy: () => null, lazyConnect: true });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch {
      client.disconnect();
      this.schedule(leaseMs / 2);
      return;
    }
    // Closed while connecting.
    if (this.isClosed()) {
      client.disconnect();
      return;
    }
    const worker = new Worker(queueName, null, {
      connection: client,
      prefix,
      autorun: false,
      lockDuration: leaseMs,
      stalledInterval: Math.max(500, Math.floor(leaseMs / 2)),
      maxStalledCount: maxTakeovers,
    });
    worker.on('error', () => undefined);
    this.client = client;
    this.worker = worker;
    client.once('end', () => {
      void this.stop().then(() => this.schedule(leaseMs));
    });
    void worker.startStalledCheckTimer();
  }

  private async stop(): Promise<void> {
    const { worker, client } = this;
    this.worker = undefined;
    this.client = undefined;
    await worker?.close(true).catch(() => undefined);
    client?.disconnect();
  }
}
