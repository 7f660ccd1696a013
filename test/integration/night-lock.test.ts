import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { build } from 'esbuild';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { acquireNightLock, readNightLock, type LockInfo } from '../../src/night/lock.js';

let dir: string;
let lockPath: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'nightshift-lock-'));
  lockPath = path.join(dir, '2026_11_22', 'night.lock');
  await mkdir(path.dirname(lockPath));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The pid of a process that has exited (and been reaped): as dead as a pid gets. */
async function deadPid(): Promise<number> {
  const child = execa(process.execPath, ['-e', '']);
  await child;
  return child.pid!;
}

async function writeLock(info: Partial<LockInfo>): Promise<void> {
  await writeFile(lockPath, JSON.stringify({ host: hostname(), started_at: '2026-11-22T08:05:00.000Z', purpose: 'run', ...info }));
}

const lockFile = async () => JSON.parse(await readFile(lockPath, 'utf8')) as LockInfo;

describe('acquireNightLock', () => {
  it('writes who holds the lock, and release removes it', async () => {
    const lock = await acquireNightLock(lockPath, { purpose: 'run', now: () => new Date('2026-11-22T08:05:00Z') });
    expect(await lockFile()).toEqual({ pid: process.pid, host: hostname(), started_at: '2026-11-22T08:05:00.000Z', purpose: 'run' });
    expect(lock.info.pid).toBe(process.pid);
    await lock.release();
    await lock.release(); // twice is harmless
    expect(await readdir(path.dirname(lockPath))).toEqual([]);
  });

  it('refuses a second run while a live process holds the lock, saying who and since when', async () => {
    const lock = await acquireNightLock(lockPath, { purpose: 'run', now: () => new Date('2026-11-22T08:05:00Z') });
    const error = await acquireNightLock(lockPath, { purpose: 'build' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NightshiftError);
    expect((error as NightshiftError).exitCode).toBe(2);
    const message = (error as Error).message;
    expect(message).toContain(`pid ${process.pid}`);
    expect(message).toContain('since 2026-11-22T08:05:00.000Z');
    expect(message).toContain(lockPath);
    expect(message).toMatch(/nightshift wait --date 2026_11_22/);
    expect(await lockFile()).toEqual(lock.info); // the holder's lock is untouched
    await lock.release();
  });

  it('counts a pid of another user (EPERM) as alive', async () => {
    await writeLock({ pid: 1 });
    if (process.getuid?.() !== 0) {
      await expect(acquireNightLock(lockPath)).rejects.toThrow(/pid 1 holds/);
      return;
    }
    // As root, signalling pid 1 succeeds: try it as an unprivileged user, who gets EPERM.
    // The lock module bundled into the test folder: the checkout itself may be private to root.
    const lockModule = path.join(dir, 'lock.mjs');
    await build({
      entryPoints: [path.resolve(import.meta.dirname, '../../src/night/lock.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: lockModule,
      logLevel: 'warning',
    });
    await execa('chmod', ['-R', 'a+rwX', dir]);
    const script = `import(${JSON.stringify(lockModule)}).then((m) => m.acquireNightLock(${JSON.stringify(lockPath)})).then(() => console.log('acquired'), (e) => console.log(e.message))`;
    const attempt = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script]);
    expect(attempt.stdout).toMatch(/pid 1 holds/);
  });

  it('takes over a lock whose process is dead', async () => {
    await writeLock({ pid: await deadPid() });
    const lock = await acquireNightLock(lockPath, { purpose: 'run' });
    expect((await lockFile()).pid).toBe(process.pid);
    await lock.release();
  });

  it('lets exactly one of several racing takers win a stale lock', async () => {
    const pid = await deadPid();
    for (let round = 0; round < 40; round++) {
      await writeLock({ pid });
      // Staggered starts, so takers meet at every step of each other's takeover.
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, async (_, i) => {
          for (let t = 0; t < (round + i * 7) % 12; t++) await tick();
          return acquireNightLock(lockPath);
        }),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(NightshiftError);
      expect((await lockFile()).pid).toBe(process.pid);
      await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireNightLock>>>).value.release();
      expect(await readdir(path.dirname(lockPath))).toEqual([]); // no temp files left behind
    }
  });

  it('does not take over a lock written on another host', async () => {
    await writeLock({ pid: await deadPid(), host: 'some-other-host' });
    await expect(acquireNightLock(lockPath)).rejects.toThrow(/on host some-other-host/);
  });

  it('refuses a lock file it cannot read, saying what to do', async () => {
    await writeFile(lockPath, 'garbage');
    await expect(acquireNightLock(lockPath)).rejects.toThrow(/is not a nightshift lock file.*remove it/);
  });
});

describe('NightLock.release', () => {
  it('leaves a lock that is no longer ours', async () => {
    const lock = await acquireNightLock(lockPath);
    // Someone decided we were gone and took the night over.
    await writeLock({ pid: 4242, started_at: '2026-11-22T09:00:00.000Z' });
    await lock.release();
    expect((await lockFile()).pid).toBe(4242);
  });
});

describe('readNightLock', () => {
  it('is undefined without a lock, and tells a live holder from a dead one', async () => {
    expect(await readNightLock(lockPath)).toBeUndefined();
    const lock = await acquireNightLock(lockPath, { purpose: 'run' });
    expect(await readNightLock(lockPath)).toMatchObject({ pid: process.pid, alive: true, purpose: 'run' });
    await lock.release();
    const pid = await deadPid();
    await writeLock({ pid });
    expect(await readNightLock(lockPath)).toMatchObject({ pid, alive: false });
  });
});
