/**
 * The tests' Redis (test/helpers/redis.ts): Debian's redis-server on a free loopback port, answering
 * over a raw TCP socket, persisting nothing, and gone with its port and folder once stopped.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { redisCommand, startRedis, type RedisServer } from '../helpers/redis.js';

const started: RedisServer[] = [];
afterAll(async () => {
  for (const server of started.splice(0)) await server.stop();
});

async function start(): Promise<RedisServer> {
  const server = await startRedis();
  started.push(server);
  return server;
}

/** Whether this process can listen on 127.0.0.1:port (nothing else holds it). */
async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (ok) await new Promise((resolve) => server.close(resolve));
  return ok;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a Redis for the tests', () => {
  it('answers PING over a raw TCP socket on 127.0.0.1, persisting nothing, and frees its port once stopped', async () => {
    const redis = await start();
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(redis.port).not.toBe(6379);

    // PING as redis-cli sends it, on a socket of node's own.
    const pong = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: redis.port }, () => socket.write('*1\r\n$4\r\nPING\r\n'));
      socket.once('data', (chunk: Buffer) => {
        socket.end();
        resolve(chunk.toString());
      });
      socket.once('error', reject);
    });
    expect(pong).toBe('+PONG\r\n');

    expect(await redisCommand(redis.port, 'SET', 'night', '2026_11_30')).toBe('+OK\r\n');
    expect(await redisCommand(redis.port, 'GET', 'night')).toBe('$10\r\n2026_11_30\r\n');
    expect(await redisCommand(redis.port, 'CONFIG', 'GET', 'bind')).toBe('*2\r\n$4\r\nbind\r\n$9\r\n127.0.0.1\r\n');
    expect(await redisCommand(redis.port, 'CONFIG', 'GET', 'save')).toBe('*2\r\n$4\r\nsave\r\n$0\r\n\r\n');
    expect(await redisCommand(redis.port, 'CONFIG', 'GET', 'appendonly')).toBe('*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n');
    expect(await redisCommand(redis.port, 'CONFIG', 'GET', 'dir')).toBe(`*2\r\n$3\r\ndir\r\n$${Buffer.byteLength(redis.dir)}\r\n${redis.dir}\r\n`);
    expect(await canListen(redis.port)).toBe(false);
    expect(alive(redis.pid)).toBe(true);

    await redis.stop();
    expect(alive(redis.pid)).toBe(false);
    expect(await canListen(redis.port)).toBe(true);
    expect(existsSync(redis.dir)).toBe(false);
    await expect(redisCommand(redis.port, 'PING')).rejects.toThrow(/ECONNREFUSED/);
    await redis.stop(); // a second stop is a no-op
  });

  it('starts two servers side by side, each on a port and in a folder of its own, with their own data', async () => {
    const [a, b] = await Promise.all([start(), start()]);
    expect(a.port).not.toBe(b.port);
    expect(a.dir).not.toBe(b.dir);
    await redisCommand(a.port, 'SET', 'machine', 'linux-0');
    expect(await redisCommand(b.port, 'GET', 'machine')).toBe('$-1\r\n');
    await Promise.all([a.stop(), b.stop()]);
    expect([alive(a.pid), alive(b.pid)]).toEqual([false, false]);
  });
});
