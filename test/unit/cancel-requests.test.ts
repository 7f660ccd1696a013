import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CANCELED_BY_REQUEST,
  cancelRequestDir,
  cancelRequestPath,
  clearCancelRequests,
  listCancelRequests,
  removeCancelRequest,
  watchCancelRequests,
  writeCancelRequest,
  type CancelWatch,
} from '../../src/night/cancel-requests.js';
import { nightLayout, type NightLayout } from '../../src/night/layout.js';

let layout: NightLayout;
let watch: CancelWatch | undefined;
beforeEach(async () => (layout = nightLayout(await mkdtemp(path.join(tmpdir(), 'nightshift-cancel-')), '2026_11_22')));
afterEach(async () => {
  watch?.stop();
  watch = undefined;
  await rm(layout.root, { recursive: true, force: true });
});

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i > 200) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('cancel request files', () => {
  it('writes one file per build under <night>/cancel, lists them sorted, removes one or all', async () => {
    expect(await listCancelRequests(layout)).toEqual([]);
    await writeCancelRequest(layout, 'wheel_3.13_cu126', new Date('2026-11-22T01:00:00Z'));
    await writeCancelRequest(layout, 'conda_3.12_cpu');
    expect(cancelRequestPath(layout, 'conda_3.12_cpu')).toBe(path.join(layout.dir, 'cancel', 'conda_3.12_cpu'));
    const request = JSON.parse(await readFile(cancelRequestPath(layout, 'wheel_3.13_cu126'), 'utf8')) as Record<string, unknown>;
    expect(request).toEqual({ requested_at: '2026-11-22T01:00:00.000Z', pid: process.pid, host: expect.any(String) as string });
    // A writer's temporary file (a dot name) is not a request.
    await writeFile(path.join(cancelRequestDir(layout), '.wheel.123.tmp'), '');
    expect(await listCancelRequests(layout)).toEqual(['conda_3.12_cpu', 'wheel_3.13_cu126']);
    await removeCancelRequest(layout, 'conda_3.12_cpu');
    await removeCancelRequest(layout, 'conda_3.12_cpu');
    expect(await listCancelRequests(layout)).toEqual(['wheel_3.13_cu126']);
    await clearCancelRequests(layout);
    expect(existsSync(cancelRequestDir(layout))).toBe(false);
    expect(await listCancelRequests(layout)).toEqual([]);
  });

  it('refuses a name that is not a build id before it becomes a path', async () => {
    for (const bad of ['../night.json', 'a/b', '.hidden', '', 'x y']) {
      await expect(writeCancelRequest(layout, bad)).rejects.toThrow(/is not a build id/);
    }
    expect(await listCancelRequests(layout)).toEqual([]);
  });
});

describe('watching the requests', () => {
  it("aborts a build's signal once a request names it and tells each listener once", async () => {
    watch = watchCancelRequests(layout, { pollMs: 20 });
    const signal = watch.signalFor('slow_3.12_cpu');
    const heard: string[] = [];
    const stopListening = watch.onRequest((id) => heard.push(id));
    await sleep(60);
    expect(signal.aborted).toBe(false);
    expect(watch.requested('slow_3.12_cpu')).toBe(false);

    await writeCancelRequest(layout, 'slow_3.12_cpu');
    await until(() => signal.aborted, 'the signal to abort');
    expect((signal.reason as Error).message).toBe(CANCELED_BY_REQUEST);
    expect(watch.requested('slow_3.12_cpu')).toBe(true);
    await sleep(80);
    expect(heard).toEqual(['slow_3.12_cpu']);
    // A signal asked for after the request comes already aborted; a late listener hears of it at once.
    expect(watch.signalFor('slow_3.12_cpu').aborted).toBe(true);
    const late: string[] = [];
    watch.onRequest((id) => late.push(id));
    expect(late).toEqual(['slow_3.12_cpu']);

    await watch.handled('slow_3.12_cpu');
    expect(await listCancelRequests(layout)).toEqual([]);
    stopListening();
    // Asked again after it was handled: news again (for the listeners still there).
    await writeCancelRequest(layout, 'slow_3.12_cpu');
    await until(() => late.length === 2, 'the second request');
    expect(heard).toEqual(['slow_3.12_cpu']);
  });

  it('forgets a dismissed request: the build it named may still start', async () => {
    watch = watchCancelRequests(layout, { pollMs: 20 });
    await writeCancelRequest(layout, 'ok_3.11_cpu');
    await until(() => watch!.requested('ok_3.11_cpu'), 'the request');
    await watch.dismiss('ok_3.11_cpu');
    expect(watch.requested('ok_3.11_cpu')).toBe(false);
    expect(watch.signalFor('ok_3.11_cpu').aborted).toBe(false);
    expect(await listCancelRequests(layout)).toEqual([]);
  });

  it('stops looking when stopped', async () => {
    watch = watchCancelRequests(layout, { pollMs: 20 });
    watch.stop();
    await writeCancelRequest(layout, 'ok_3.11_cpu');
    await sleep(80);
    expect(watch.requested('ok_3.11_cpu')).toBe(false);
  });
});
