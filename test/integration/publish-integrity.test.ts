/**
 * Publishing exactly what was built, or nothing, to a real s3rver and a file:// folder: a process on the
 * host swaps a build's artifact for a link to a mode-600 host file (or for other bytes) after the build
 * ended; the upload must send neither, say why, keep the build unpublished and
 * leave the latest pointer where it was. A key that already holds other content is never replaced.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { s3Env, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { openDestination } from '../../src/store/open.js';
import type { Destination } from '../../src/store/destination.js';
import type { Manifest } from '../../src/store/manifest.js';
import type { LatestPointer } from '../../src/store/latest.js';
import type { NightState } from '../../src/night/state.js';
import { addDays } from '../../src/night/night-date.js';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const SECRET = 'host secret: root only\n';

describe.each(['s3', 'file'] as const)('publishing only what was built, to %s', (kind) => {
  let server: S3rver | undefined;
  let folder: string;
  let secret: string;
  let night: NightFixture;
  let destination: Destination;
  let swapped: Awaited<ReturnType<typeof runCli>>;
  let swapDate: string;
  const args = (date: string) => ['--config', night.configDir, '--date', date];
  const json = async <T>(key: string) => JSON.parse((await destination.getBytes(key))!.toString('utf8')) as T;
  const state = async (date: string) => JSON.parse(await readFile(path.join(night.root, date, 'night.json'), 'utf8')) as NightState;
  const failures = async (date: string) => new Map((await state(date)).upload!.failed.map((f) => [f.key, f.error]));

  beforeAll(async () => {
    Object.assign(process.env, s3Env);
    folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-integrity-'));
    secret = path.join(folder, 'secret-600');
    await writeFile(secret, SECRET);
    await chmod(secret, 0o600);
    let upload: string;
    if (kind === 's3') {
      server = await startS3rver();
      upload = `upload:\n  to: "s3://${server.bucket}/nightlies/{date}"\n  key: "{package}/{python}/{file}"\n  endpoint: "${server.endpoint}"\n  attempts: 2\n`;
      destination = await openDestination({ url: `s3://${server.bucket}/nightlies/`, endpoint: server.endpoint, pathStyle: true });
    } else {
      upload = `upload:\n  to: "file://${folder}/published/{date}"\n  key: "{package}/{python}/{file}"\n`;
      destination = await openDestination({ url: `file://${folder}/published/` });
    }
    // slow_* times out after 4s: the night is still going when the left-behind process swaps the files.
    night = await makeNightFixture({ executor: 'host', slowTimeout: '4s', scheduleExtra: upload });
    // A good night first, so that the cells have latest pointers to keep.
    expect((await runCli(['run', '--machine', 'm1', '--only', 'ok_*', ...args(night.date)])).exitCode).toBe(0);
    // Then a process on the host (a build's left-behind daemon where builds are not contained, or anything
    // else with write access) replaces the artifacts once their builds have ended and been recorded: by a
    // link to a root-only host file (3.12), or by other bytes (3.11). The night is still going (slow_* times
    // out after 4s), so its own upload comes after the swap.
    await night.commit({ 'ok.sh': 'echo "wheel of $NIGHTSHIFT_BUILD_ID" > "$NIGHTSHIFT_OUT/pkg-$NIGHTSHIFT_PYTHON.whl"\n' }, 'one wheel per build');
    swapDate = addDays(night.date, 1);
    const artifacts = path.join(night.root, swapDate, 'artifacts');
    const swapper = execa(
      'node',
      [
        '-e',
        `
      const fs = require('node:fs');
      const state = ${JSON.stringify(path.join(night.root, swapDate, 'night.json'))};
      const done = () => { try { return JSON.parse(fs.readFileSync(state, 'utf8')).builds.filter((b) => b.id.startsWith('ok_') && b.status === 'succeeded').length === 2; } catch { return false; } };
      const timer = setInterval(() => {
        if (!done()) return;
        clearInterval(timer);
        const out = (python) => ${JSON.stringify(artifacts)} + '/ok_' + python + '_cpu/pkg-' + python + '.whl';
        fs.rmSync(out('3.12'));
        fs.symlinkSync(${JSON.stringify(secret)}, out('3.12'));
        fs.writeFileSync(out('3.11') + '.new', 'other\\n');
        fs.renameSync(out('3.11') + '.new', out('3.11'));
      }, 20);
      setTimeout(() => process.exit(1), 60000);
    `,
      ],
      { reject: false },
    );
    swapped = await runCli(['run', '--machine', 'm1', '--only', 'ok_* slow_*', ...args(swapDate)]);
    swapper.kill();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await night?.cleanup();
    await rm(folder, { recursive: true, force: true });
  });

  it('the night recorded the files as the builds wrote them, and the process swapped them afterwards', async () => {
    const builds = (await state(swapDate)).builds;
    expect(builds.find((b) => b.id === 'ok_3.12_cpu')).toMatchObject({ status: 'succeeded', artifacts: [{ file: 'pkg-3.12.whl', sha256: sha256('wheel of ok_3.12_cpu\n') }] });
    expect(builds.find((b) => b.id === 'slow_3.12_cpu')!.status).toBe('timed_out');
    expect(await readFile(path.join(night.root, swapDate, 'artifacts/ok_3.12_cpu/pkg-3.12.whl'), 'utf8')).toBe(SECRET);
    expect(await readFile(path.join(night.root, swapDate, 'artifacts/ok_3.11_cpu/pkg-3.11.whl'), 'utf8')).toBe('other\n');
  });

  it('publishes neither the linked host file nor the changed bytes, and says why for each', async () => {
    expect(swapped.stderr).toMatch(/some uploads failed/);
    const failed = await failures(swapDate);
    expect(failed.get(`${swapDate}/ok/3.12/pkg-3.12.whl`)).toBe('artifacts/ok_3.12_cpu/pkg-3.12.whl is a symbolic link, not the file the build wrote; not published');
    expect(failed.get(`${swapDate}/ok/3.11/pkg-3.11.whl`)).toBe(
      `artifacts/ok_3.11_cpu/pkg-3.11.whl changed after the build: sha256 ${sha256('wheel of ok_3.11_cpu\n')} recorded, ${sha256('other\n')} now; not published`,
    );
    expect(await destination.list(`${swapDate}/`)).toEqual([]);
    for (const key of await destination.list('')) expect((await destination.getBytes(key))!.toString(), key).not.toContain(SECRET.trim());
  });

  it('marks the builds not published and leaves their latest pointers at the last good night', async () => {
    const manifest = await json<Manifest>(`nightshift/nights/${swapDate}/m1/manifest.json`);
    expect(
      manifest.builds
        .filter((b) => b.id.startsWith('ok_'))
        .map((b) => [b.id, b.status, b.published])
        .sort(),
    ).toEqual([
      ['ok_3.11_cpu', 'succeeded', false],
      ['ok_3.12_cpu', 'succeeded', false],
    ]);
    for (const id of ['ok_3.11_cpu', 'ok_3.12_cpu']) expect((await json<LatestPointer>(`nightshift/latest/${id}.json`)).date).toBe(night.date);
  });

  it('nightshift upload of that night again publishes nothing of it either, exit 4', async () => {
    const again = await runCli(['upload', ...args(swapDate)]);
    expect(again.exitCode).toBe(4);
    expect(again.stdout).toMatch(/not uploaded .*pkg-3\.12\.whl: artifacts\/ok_3\.12_cpu\/pkg-3\.12\.whl is a symbolic link/);
    expect(again.stdout).toMatch(/not uploaded .*pkg-3\.11\.whl: artifacts\/ok_3\.11_cpu\/pkg-3\.11\.whl changed after the build/);
    expect(await destination.list(`${swapDate}/`)).toEqual([]);
    expect((await json<LatestPointer>('nightshift/latest/ok_3.12_cpu.json')).date).toBe(night.date);
  });

  it('never replaces an object another build holds at its key: the build is not published and the object stays', async () => {
    const date = addDays(night.date, 2);
    await night.commit({ 'ok.sh': 'echo "wheel of $NIGHTSHIFT_BUILD_ID" > "$NIGHTSHIFT_OUT/pkg-$NIGHTSHIFT_PYTHON.whl"\n' }, 'plain builds again');
    // Something else already put other content at the key ok_3.12_cpu's wheel renders to.
    const key = `${date}/ok/3.12/pkg-3.12.whl`;
    await destination.putBytes(key, 'another build\n', { sha256: sha256('another build\n') });
    const run = await runCli(['run', '--machine', 'm1', '--only', 'ok_*', ...args(date)]);
    expect(run.exitCode).toBe(4);
    expect((await failures(date)).get(key)).toMatch(
      new RegExp(
        `^artifacts/ok_3\\.12_cpu/pkg-3\\.12\\.whl not published: the key already holds other content \\(sha256 ${sha256('another build\n')}, not from this cell\\), which nightshift does not replace; make upload.key tell the builds apart \\(add \\{id\\}\\)`,
      ),
    );
    expect((await destination.getBytes(key))!.toString()).toBe('another build\n');
    const manifest = await json<Manifest>(`nightshift/nights/${date}/m1/manifest.json`);
    expect(
      manifest.builds
        .filter((b) => b.id.startsWith('ok_'))
        .map((b) => [b.id, b.published])
        .sort(),
    ).toEqual([
      ['ok_3.11_cpu', true],
      ['ok_3.12_cpu', false],
    ]);
    expect((await json<LatestPointer>('nightshift/latest/ok_3.12_cpu.json')).date).toBe(night.date);
    expect((await json<LatestPointer>('nightshift/latest/ok_3.11_cpu.json')).date).toBe(date);
  });

  it('lets the same build replace its own object of the night: a rebuild with --force publishes the new bytes', async () => {
    const date = addDays(night.date, 3);
    expect((await runCli(['run', '--machine', 'm1', '--only', 'ok_3.11_cpu', ...args(date)])).exitCode).toBe(0);
    await night.commit({ 'ok.sh': 'echo "rebuilt $NIGHTSHIFT_BUILD_ID" > "$NIGHTSHIFT_OUT/pkg-$NIGHTSHIFT_PYTHON.whl"\n' }, 'rebuild');
    const rebuilt = await runCli(['run', '--machine', 'm1', '--force', '--refresh-recipes', '--only', 'ok_3.11_cpu', ...args(date)]);
    expect(rebuilt.exitCode).toBe(0);
    expect((await destination.getBytes(`${date}/ok/3.11/pkg-3.11.whl`))!.toString()).toBe('rebuilt ok_3.11_cpu\n');
  });
});
