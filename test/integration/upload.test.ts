/**
 * Publishing nights to a real S3-protocol server (s3rver) and to a file:// folder: exactly the
 * successes, every log, a correct manifest, latest pointers that only move forward and only on
 * success; a second upload sends nothing; a server that went away is caught up by `nightshift upload`.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { s3Env, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { openDestination } from '../../src/store/open.js';
import type { Destination } from '../../src/store/destination.js';
import type { Manifest } from '../../src/store/manifest.js';
import type { LatestPointer } from '../../src/store/latest.js';
import type { NightState } from '../../src/night/state.js';
import { pruneNights } from '../../src/runner/prune.js';
import { addDays } from '../../src/night/night-date.js';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

const nextDay = (date: string) => addDays(date, 1);

describe.each(['s3', 'file'] as const)('publishing to %s', (kind) => {
  let server: S3rver | undefined;
  let folder: string;
  let night: NightFixture;
  let destination: Destination;
  let first: Awaited<ReturnType<typeof runCli>>;
  const args = (date = night.date) => ['--config', night.configDir, '--date', date];
  const json = async <T>(key: string) => JSON.parse((await destination.getBytes(key))!.toString('utf8')) as T;
  const state = async (date = night.date) => JSON.parse(await readFile(path.join(night.root, date, 'night.json'), 'utf8')) as NightState;

  beforeAll(async () => {
    Object.assign(process.env, s3Env);
    folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-published-'));
    let upload: string;
    if (kind === 's3') {
      server = await startS3rver();
      upload = `upload:\n  to: "s3://${server.bucket}/nightlies/{date}"\n  key: "{package}/{python}/{file}"\n  endpoint: "${server.endpoint}"\n  attempts: 2\n`;
      destination = await openDestination({ url: `s3://${server.bucket}/nightlies/`, endpoint: server.endpoint, pathStyle: true });
    } else {
      upload = `upload:\n  to: "file://${folder}/{date}"\n  key: "{package}/{python}/{file}"\n`;
      destination = await openDestination({ url: `file://${folder}/` });
    }
    // m2 claims opt_* and never runs: the fleet view must show it as missing.
    night = await makeNightFixture({ executor: 'host', machines: 'machines:\n  m1: { slots: 2 }\n  m2: { builds: ["opt_*"] }\n', scheduleExtra: upload });
    first = await runCli(['run', '--machine', 'm1', ...args()]);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await night?.cleanup();
    await rm(folder, { recursive: true, force: true });
  });

  it('uploads exactly the successes, every finished log and the manifest', async () => {
    expect(first.exitCode).toBe(1); // builds failed; the upload itself went fine
    expect(first.stdout).toMatch(/upload to .*: \d+ uploaded, 0 already there/);
    const keys = await destination.list('');
    expect(keys.filter((k) => !k.startsWith('nightshift/'))).toEqual([`${night.date}/ok/3.11/pkg-3.11.whl`, `${night.date}/ok/3.12/pkg-3.12.whl`]);
    expect(keys.filter((k) => k.includes('/logs/')).sort()).toEqual(
      ['bad_3.12_cpu', 'empty_3.12_cpu', 'ok_3.11_cpu', 'ok_3.12_cpu', 'slow_3.12_cpu'].map((id) => `nightshift/nights/${night.date}/m1/logs/${id}.log`),
    );
    const artifact = await destination.getBytes(`${night.date}/ok/3.12/pkg-3.12.whl`);
    expect(artifact!.toString()).toBe('wheel of ok_3.12_cpu\n');
    const log = await destination.getBytes(`nightshift/nights/${night.date}/m1/logs/bad_3.12_cpu.log`);
    expect(log!.toString()).toMatch(/compiler error: something broke/);
  });

  it('publishes a manifest with every build, its status, timings and artifacts with key, size and sha256', async () => {
    const manifest = await json<Manifest>(`nightshift/nights/${night.date}/m1/manifest.json`);
    const local = await state();
    expect(manifest).toMatchObject({ version: 1, date: night.date, machine: 'm1', schedule: 'nightly', recipes: local.recipes });
    expect(manifest.builds.map((b) => [b.id, b.status, b.published])).toEqual(local.builds.map((b) => [b.id, b.status, b.status === 'succeeded']));
    const ok = manifest.builds.find((b) => b.id === 'ok_3.11_cpu')!;
    const localOk = local.builds.find((b) => b.id === 'ok_3.11_cpu')!;
    expect(ok.artifacts).toEqual([{ ...localOk.artifacts![0], key: `${night.date}/ok/3.11/pkg-3.11.whl` }]);
    expect(ok).toMatchObject({
      started_at: localOk.started_at,
      finished_at: localOk.finished_at,
      duration_s: localOk.duration_s,
      exit_code: 0,
      log: `nightshift/nights/${night.date}/m1/logs/ok_3.11_cpu.log`,
    });
    expect(manifest.builds.find((b) => b.id === 'slow_3.12_cpu')).toMatchObject({ status: 'timed_out', artifacts: [], published: false });
    expect(local.upload).toMatchObject({ failed: [], manifest: `nightshift/nights/${night.date}/m1/manifest.json` });
  });

  it('points latest at each success', async () => {
    const pointer = await json<LatestPointer>('nightshift/latest/ok_3.12_cpu.json');
    expect(pointer).toMatchObject({ id: 'ok_3.12_cpu', date: night.date, machine: 'm1', commit: (await state()).recipes!.commit });
    expect(pointer.artifacts.map((a) => a.key)).toEqual([`${night.date}/ok/3.12/pkg-3.12.whl`]);
    expect((await destination.list('nightshift/latest/')).sort()).toEqual(['nightshift/latest/ok_3.11_cpu.json', 'nightshift/latest/ok_3.12_cpu.json']);
  });

  it('a second upload sends nothing new', async () => {
    const again = await runCli(['upload', ...args()]);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/: 0 uploaded, \d+ already there, 0 failed/);
  });

  it('upload --json prints the outcome night.json records, and the manifest it names is there', async () => {
    const again = await runCli(['upload', '--json', ...args()]);
    expect(again.exitCode).toBe(0);
    const outcome = JSON.parse(again.stdout) as {
      date: string;
      machine: string;
      to: string;
      uploaded: number;
      skipped: number;
      bytes: number;
      failed: unknown[];
      manifest: string;
      latest: string[];
    };
    const recorded = (await state()).upload!;
    expect(outcome).toMatchObject({ date: night.date, machine: 'm1', uploaded: 0, failed: [], latest: [] }); // the pointers already named this night: none moved
    expect(outcome.skipped).toBeGreaterThan(0);
    expect(outcome).toMatchObject({
      to: recorded.to,
      started_at: recorded.started_at,
      finished_at: recorded.finished_at,
      uploaded: recorded.uploaded,
      skipped: recorded.skipped,
      bytes: recorded.bytes,
      manifest: recorded.manifest,
    });
    expect((await json<Manifest>(outcome.manifest)).date).toBe(night.date);
    // The human lines moved to stderr.
    expect(again.stderr).toMatch(/: 0 uploaded, \d+ already there, 0 failed/);
  });

  it('moves latest pointers only on success, and never back to an older night', async () => {
    const tomorrow = nextDay(night.date);
    await night.commit({ 'ok.sh': '[ "$NIGHTSHIFT_PYTHON" = 3.11 ] && exit 1\necho new > "$NIGHTSHIFT_OUT/pkg-$NIGHTSHIFT_PYTHON.whl"\n' }, 'break 3.11');
    expect((await runCli(['run', '--machine', 'm1', '--only', 'ok_*', ...args(tomorrow)])).exitCode).toBe(1);
    expect((await json<LatestPointer>('nightshift/latest/ok_3.11_cpu.json')).date).toBe(night.date);
    expect((await json<LatestPointer>('nightshift/latest/ok_3.12_cpu.json')).date).toBe(tomorrow);
    // Publishing the older night again leaves the newer pointer where it is.
    expect((await runCli(['upload', ...args()])).exitCode).toBe(0);
    expect((await json<LatestPointer>('nightshift/latest/ok_3.12_cpu.json')).date).toBe(tomorrow);
  });

  it('status --all-machines shows every machine from the manifests, and the one that never published', async () => {
    const status = await runCli(['status', '--all-machines', ...args()]);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/m1\s+ok_3\.11_cpu\s+succeeded/);
    expect(status.stdout).toMatch(/m2: nothing published for this night/);
    const asJson = JSON.parse((await runCli(['status', '--all-machines', '--json', ...args()])).stdout) as { machines: { name: string; published: boolean }[] };
    expect(asJson.machines.map((m) => [m.name, m.published])).toEqual([
      ['m1', true],
      ['m2', false],
    ]);
  });

  it('status --all-machines names a manifest it cannot read and still shows the rest of the fleet', async () => {
    const key = `nightshift/nights/${night.date}/m2/manifest.json`;
    await destination.putBytes(key, '{"version":2,"builds":"nope"}', { sha256: sha256('{"version":2,"builds":"nope"}') });
    const status = await runCli(['status', '--all-machines', ...args()]);
    expect(status.exitCode).toBe(0);
    expect(status.stderr).toBe(
      `nightshift: warning: ${destination.url}${key} is not a manifest this nightshift can read (version 2, but this nightshift reads version 1); it is left out\n`,
    );
    expect(status.stdout).toMatch(/m1\s+ok_3\.11_cpu\s+succeeded/);
    expect(status.stdout).toMatch(/m2: its manifest cannot be read/);
    const asJson = JSON.parse((await runCli(['status', '--all-machines', '--json', ...args()])).stdout) as { machines: { name: string; published: boolean; problem?: string }[] };
    expect(asJson.machines.map((m) => [m.name, m.published, m.problem !== undefined])).toEqual([
      ['m1', true, false],
      ['m2', false, true],
    ]);
  });

  // On the nights' own disk a file:// destination holds hard links to the logs and artifacts: they must be files of their own all the same.
  if (kind === 'file')
    it('published logs and artifacts outlive their night: pruning it leaves them whole, as the manifest says', async () => {
      const manifest = await json<Manifest>(`nightshift/nights/${night.date}/m1/manifest.json`);
      const ok = manifest.builds.find((b) => b.id === 'ok_3.12_cpu')!;
      const localLog = path.join(night.root, night.date, (await state()).builds.find((b) => b.id === 'ok_3.12_cpu')!.log!);
      const logText = await readFile(localLog);
      const publishedLog = path.join(folder, ok.log!);
      const publishedWheel = path.join(folder, ok.artifacts[0]!.key);
      const [local, published] = [await stat(localLog), await stat(publishedLog)];
      if (local.dev === published.dev) expect(published.ino).toBe(local.ino); // linked, not copied

      const later = nextDay(nextDay(nextDay(night.date)));
      const pruned = await pruneNights({
        root: night.root,
        today: later,
        timezone: 'UTC',
        now: () => new Date(`${later.replaceAll('_', '-')}T12:00:00Z`),
        keepDays: 1,
        dryRun: false,
        machine: 'm1',
        docker: 'true',
      });
      expect(pruned.removed).toContain(night.date);
      expect(existsSync(path.join(night.root, night.date))).toBe(false);

      expect(await readFile(publishedLog)).toEqual(logText);
      expect(await destination.head(ok.log!)).toEqual({ size: logText.length, sha256: sha256(logText) });
      expect(await destination.head(ok.artifacts[0]!.key)).toEqual({ size: ok.artifacts[0]!.size, sha256: ok.artifacts[0]!.sha256 });
      expect((await readFile(publishedWheel)).toString()).toBe('wheel of ok_3.12_cpu\n');
    });

  // Only a server can go away; a local folder is always there.
  if (kind === 's3')
    it('a server that went away is caught up by nightshift upload', async () => {
      const later = nextDay(nextDay(night.date));
      await server!.stop();
      const offline = await runCli(['run', '--machine', 'm1', '--only', 'ok_3.12_cpu', ...args(later)]);
      expect(offline.exitCode).toBe(4);
      expect(offline.stderr).toMatch(/some uploads failed; `nightshift upload` tries them again/);
      expect((await state(later)).upload!.failed.length).toBeGreaterThan(0);
      await server!.start();
      const caughtUp = await runCli(['upload', ...args(later)]);
      expect(caughtUp.exitCode).toBe(0);
      expect(await destination.getBytes(`${later}/ok/3.12/pkg-3.12.whl`)).toBeDefined();
      expect((await state(later)).upload!.failed).toEqual([]);
    });

  if (kind === 's3')
    it('upload --json names each object that failed and the bytes of a catch-up; exit 4, then 0', async () => {
      const later = nextDay(nextDay(night.date));
      await destination.delete(`${later}/ok/3.12/pkg-3.12.whl`);
      await server!.stop();
      const offline = await runCli(['upload', '--json', ...args(later)]);
      expect(offline.exitCode).toBe(4);
      const failed = (JSON.parse(offline.stdout) as { failed: { key: string; error: string }[] }).failed;
      expect(failed.length).toBeGreaterThan(0);
      expect(failed).toEqual((await state(later)).upload!.failed);
      await server!.start();
      const caughtUp = await runCli(['upload', '--json', ...args(later)]);
      expect(caughtUp.exitCode).toBe(0);
      const outcome = JSON.parse(caughtUp.stdout) as { uploaded: number; bytes: number; failed: unknown[] };
      expect(outcome.failed).toEqual([]);
      expect(outcome.uploaded).toBeGreaterThan(0);
      expect(outcome.bytes).toBe((await state(later)).upload!.bytes);
      expect(outcome.bytes).toBeGreaterThanOrEqual('wheel of ok_3.12_cpu\n'.length);
    });
});
