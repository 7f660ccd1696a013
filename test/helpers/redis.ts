/**
 * A real Redis for tests: Debian's redis-server (scripts/setup-test-machine.sh installs it, never starts
 * its service) as a child process on a free port of 127.0.0.1, never a fixed one (other processes may
 * hold 6379), with nothing persisted (`--save "" --appendonly no`) and its working folder in a
 * temporary folder. Stopped by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  pid: number;
  /** Its working folder (removed by stop). */
  dir: string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s), waits for it to exit and removes its folder; a no-op when stopped. */
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** Keep the data across a restart (an append-only file in its folder), as a production Redis does. */
  persistent?: boolean;
}

/** Starts a redis-server and resolves once it answers PING. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisServer & { restart(options?: { downMs?: number }): Promise<void> }> {
  // A free port is found by letting the OS choose one and closing it again; another process may take
  // it in between, so a start that fails to bind tries again with a new port.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await startOn(port, options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOn(port: number, options: RedisOptions) {
  const dir = mkdtempSync(path.join(tmpdir(), 'nightshift-redis-'));
  const args = ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', options.persistent ? 'yes' : 'no', '--dir', dir, '--daemonize', 'no', '--logfile', ''];
  let server = await launch(args, port).catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });

  // Whatever the tests do, no server outlives the test process and no folder stays behind.
  const onExit = () => {
    server.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const stop = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    process.removeListener('exit', onExit);
  };
  /** Stops the server (SIGTERM: a persistent one writes its data), waits `downMs`, starts it again on the same port and folder. */
  const restart = async ({ downMs = 0 } = {}) => {
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    server = await launch(args, port);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return server.child.pid!;
    },
    dir,
    stop,
    restart,
  };
}

/** One redis-server process, answering PING. */
async function launch(args: string[], port: number): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (!isRunning(child)) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const started = await Promise.race([waitForPong(port, () => isRunning(child)), new Promise<never>((_, reject) => child.once('error', reject))]);
    if (!started) throw new Error(`redis-server on port ${port} exited at start (${String(child.signalCode ?? child.exitCode)}): ${output}`);
  } catch (error) {
    await stop();
    throw error instanceof Error && !error.message.includes(output) ? new Error(`${error.message}: ${output}`, { cause: error }) : error;
  }
  return { child, stop };
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** A port of 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Sends one command in Redis's wire format (RESP) over a fresh TCP connection and returns the raw
 * reply once it is complete (a simple reply line, or `*N` replies of bulk strings).
 */
export async function redisCommand(port: number, ...words: string[]): Promise<string> {
  const request = `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`;
  return new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(request));
    let reply = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no reply from 127.0.0.1:${port} to ${words[0]!} within 5 s`)));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (complete(reply)) {
        socket.end();
        resolve(reply);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection to 127.0.0.1:${port} closed before a reply to ${words[0]!}: ${JSON.stringify(reply)}`)));
  });
}

/** Whether `reply` is a whole RESP reply: one line, or an array of that many bulk strings. */
function complete(reply: string): boolean {
  if (!reply.endsWith('\r\n')) return false;
  if (!reply.startsWith('*')) return true;
  const lines = reply.split('\r\n').slice(0, -1);
  const count = Number(lines[0]!.slice(1));
  // Each element is `$len` and its text (or `$-1` alone for a missing one).
  let seen = 0;
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.startsWith('$-1')) seen++;
    else if (lines[i]!.startsWith('$') && i + 1 < lines.length) {
      seen++;
      i++;
    }
  }
  return seen >= count;
}

/** Resolves true once the server on `port` answers PING with PONG, false if `alive()` turns false first. */
async function waitForPong(port: number, alive: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!alive()) return false;
    const reply = await redisCommand(port, 'PING').catch(() => '');
    if (reply === '+PONG\r\n') return true;
    if (Date.now() > deadline) throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
