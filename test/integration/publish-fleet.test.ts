/**
 * One cell of one night built on two machines (with the shared queue, a machine cut off from Redis keeps
 * building while another takes its build over), both uploading to one destination: one object per key,
 * the second upload keeps the first one's object without failing and says so in its manifest, and the
 * latest pointer names the build that ended last. Real night folders, a real file:// destination,
 * publishNight itself.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { artifactDir, nightLayout } from '../../src/night/layout.js';
import type { BuildRecord, NightState } from '../../src/night/state.js';
import type { Destination } from '../../src/store/destination.js';
import { pointerBody, type LatestPointer } from '../../src/store/latest.js';
import type { Manifest } from '../../src/store/manifest.js';
import { openDestination } from '../../src/store/open.js';
import { publishNight } from '../../src/store/publish.js';

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const DATE = '2031_05_06';
const ID = 'wheel_3.12';
const KEY = `${DATE}/wheel/3.12/wheel.whl`;
const POINTER = `nightshift/latest/${ID}.json`;
let work: string;
let destination: Destination;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'nightshift-fleet-'));
});
beforeEach(async () => {
  await rm(path.join(work, 'published'), { recursive: true, force: true });
  destination = await openDestination({ url: `file://${work}/published/` });
});
afterAll(() => rm(work, { recursive: true, force: true }));

const json = async <T>(key: string) => JSON.parse((await destination.getBytes(key))!.toString('utf8')) as T;
const manifestOf = (machine: string) => json<Manifest>(`nightshift/nights/${DATE}/${machine}/manifest.json`);

/**
 * A machine's night with the one cell, which ended at `finishedAt` having written `content` (null: it
 * failed, without it); `recorded` is what night.json says it wrote, when that is not `content`.
 */
async function upload(machine: string, finishedAt: string, content: string | null, recorded = content) {
  const layout = nightLayout(path.join(work, machine), DATE);
  const failed = content === null;
  await mkdir(artifactDir(layout, ID), { recursive: true });
  if (content !== null) await writeFile(path.join(artifactDir(layout, ID), 'wheel.whl'), content);
  await mkdir(path.join(layout.dir, 'logs', failed ? 'failed' : 'succeeded'), { recursive: true });
  const log = `logs/${failed ? 'failed' : 'succeeded'}/${ID}.log`;
  await writeFile(path.join(layout.dir, log), `built on ${machine}\n`);
  const build: BuildRecord = {
    id: ID,
    package: 'wheel',
    axes: { python: '3.12' },
    executor: 'host',
    image: null,
    status: failed ? 'failed' : 'succeeded',
    order: 1,
    estimate_s: 60,
    attempt: 1,
    started_at: new Date(Date.parse(finishedAt) - 3_600_000).toISOString(),
    finished_at: finishedAt,
    log,
    ...(content === null
      ? { exit_code: 2, reason: 'exit code 2' }
      : { exit_code: 0, artifacts: [{ file: 'wheel.whl', size: content.length, sha256: sha256(recorded ?? content) }] }),
  };
  const state: NightState = {
    version: 1,
    date: DATE,
    machine,
    schedule: 'nightly',
    updated_at: finishedAt,
    builds: [build],
    recipes: { repo: 'r', ref: 'main', commit: `c-${machine}` },
  };
  return publishNight({
    night: layout,
    state,
    published: { rootUrl: destination.url, artifactPrefix: `${DATE}/` },
    keyTemplate: '{package}/{python}/{file}',
    varsFor: (b) => ({ ...b.axes, package: b.package, id: b.id, file: '' }),
    destination,
  });
}

describe('a cell built on two machines the same night', () => {
  it('the later build uploading second: keeps the first object, records whose it is, and the pointer names the later build', async () => {
    const first = await upload('m0', '2031-05-06T02:00:00.000Z', 'wheel from m0\n');
    expect(first.failed).toEqual([]);
    expect(first.latest).toEqual([ID]);

    const second = await upload('m1', '2031-05-06T03:00:00.000Z', 'wheel from m1\n');
    expect(second.failed).toEqual([]);
    expect(second.latest).toEqual([ID]);
    // One object at the key, the first machine's; the second one's own file was not sent.
    expect((await destination.getBytes(KEY))!.toString()).toBe('wheel from m0\n');
    expect((await destination.list(`${DATE}/`)).filter((k) => !k.startsWith('nightshift/'))).toEqual([KEY]);
    const recorded = (await manifestOf('m1')).builds[0]!;
    expect(recorded).toMatchObject({ id: ID, status: 'succeeded', published: true, finished_at: '2031-05-06T03:00:00.000Z' });
    expect(recorded.artifacts).toEqual([{ file: 'wheel.whl', key: KEY, size: 'wheel from m0\n'.length, sha256: sha256('wheel from m0\n'), published_by: 'm0' }]);
    // The pointer names the newest good build, with the artifacts that are at the destination.
    expect(await json<LatestPointer>(POINTER)).toEqual({
      id: ID,
      date: DATE,
      machine: 'm1',
      commit: 'c-m1',
      manifest: `nightshift/nights/${DATE}/m1/manifest.json`,
      artifacts: recorded.artifacts,
      finished_at: '2031-05-06T03:00:00.000Z',
    });

    // Uploading either night again sends nothing and changes nothing.
    const again = await upload('m1', '2031-05-06T03:00:00.000Z', 'wheel from m1\n');
    expect(again).toMatchObject({ uploaded: 0, failed: [], latest: [] });
    expect((await upload('m0', '2031-05-06T02:00:00.000Z', 'wheel from m0\n')).latest).toEqual([]);
    expect((await json<LatestPointer>(POINTER)).machine).toBe('m1');
  });

  it('the earlier build uploading second: keeps the object and leaves the pointer on the later build', async () => {
    expect((await upload('m1', '2031-05-06T04:00:00.000Z', 'wheel from m1\n')).latest).toEqual([ID]);
    const cutOff = await upload('m0', '2031-05-06T01:30:00.000Z', 'wheel from m0\n');
    expect(cutOff).toMatchObject({ failed: [], latest: [] });
    expect((await destination.getBytes(KEY))!.toString()).toBe('wheel from m1\n');
    expect((await manifestOf('m0')).builds[0]!.artifacts[0]).toMatchObject({ published_by: 'm1', sha256: sha256('wheel from m1\n') });
    expect(await json<LatestPointer>(POINTER)).toMatchObject({ machine: 'm1', finished_at: '2031-05-06T04:00:00.000Z' });
  });

  it('a failed build on one machine and a good one on the other: the pointer names the good one', async () => {
    await upload('m0', '2031-05-06T05:00:00.000Z', null);
    await upload('m1', '2031-05-06T02:00:00.000Z', 'wheel from m1\n');
    expect(await json<LatestPointer>(POINTER)).toMatchObject({ machine: 'm1', artifacts: [{ key: KEY, sha256: sha256('wheel from m1\n') }] });
    expect((await manifestOf('m0')).builds[0]).toMatchObject({ status: 'failed', published: false, artifacts: [] });
  });

  it("reads when another machine's older pointer (without finished_at) ended from the manifest it names", async () => {
    await upload('m0', '2031-05-06T02:00:00.000Z', 'wheel from m0\n');
    // What an older nightshift wrote: the same pointer without finished_at.
    const { finished_at: _finished, ...old } = await json<LatestPointer>(POINTER);
    await destination.putBytes(POINTER, pointerBody(old), { sha256: sha256(pointerBody(old)) });
    expect((await upload('m1', '2031-05-06T01:00:00.000Z', 'wheel from m1\n')).latest).toEqual([]);
    expect((await json<LatestPointer>(POINTER)).machine).toBe('m0');
    expect((await upload('m2', '2031-05-06T02:30:00.000Z', 'wheel from m2\n')).latest).toEqual([ID]);
    expect(await json<LatestPointer>(POINTER)).toMatchObject({ machine: 'm2', artifacts: [{ published_by: 'm0', sha256: sha256('wheel from m0\n') }] });
  });

  it("keeps the object for the build whose content it is, when a third machine's manifest lists the key for an artifact that never went", async () => {
    // m2's wheel changed after its build: not published, but its manifest names the key with its own sha256.
    const changed = await upload('m2', '2031-05-06T02:10:00.000Z', 'swapped\n', 'wheel from m2\n');
    expect(changed.failed).toEqual([{ key: KEY, error: expect.stringContaining('changed after the build') as string }]);
    expect((await upload('m0', '2031-05-06T02:00:00.000Z', 'wheel from m0\n')).failed).toEqual([]);
    const late = await upload('m3', '2031-05-06T02:20:00.000Z', 'wheel from m3\n');
    expect(late.failed).toEqual([]);
    expect((await manifestOf('m3')).builds[0]!.artifacts[0]).toMatchObject({ published_by: 'm0', sha256: sha256('wheel from m0\n') });
    expect(await json<LatestPointer>(POINTER)).toMatchObject({ machine: 'm3', artifacts: [{ published_by: 'm0' }] });
    expect((await destination.getBytes(KEY))!.toString()).toBe('wheel from m0\n');
  });

  it('still refuses another cell of the night at the key, as an upload failure', async () => {
    await upload('m0', '2031-05-06T02:00:00.000Z', 'wheel from m0\n');
    // Another cell whose key renders alike: not the same cell, so nothing is kept for it and it fails.
    const layout = nightLayout(path.join(work, 'm3'), DATE);
    await mkdir(artifactDir(layout, 'other'), { recursive: true });
    await writeFile(path.join(artifactDir(layout, 'other'), 'wheel.whl'), 'other cell\n');
    const outcome = await publishNight({
      night: layout,
      state: {
        version: 1,
        date: DATE,
        machine: 'm3',
        schedule: 'nightly',
        updated_at: '2031-05-06T06:00:00.000Z',
        builds: [
          {
            id: 'other',
            package: 'wheel',
            axes: { python: '3.12' },
            executor: 'host',
            image: null,
            status: 'succeeded',
            order: 1,
            estimate_s: 60,
            attempt: 1,
            finished_at: '2031-05-06T06:00:00.000Z',
            artifacts: [{ file: 'wheel.whl', size: 11, sha256: sha256('other cell\n') }],
          },
        ],
      },
      published: { rootUrl: destination.url, artifactPrefix: `${DATE}/` },
      keyTemplate: '{package}/{python}/{file}',
      varsFor: (b) => ({ ...b.axes, package: b.package, id: b.id, file: '' }),
      destination,
    });
    expect(outcome.failed).toEqual([
      { key: KEY, error: expect.stringContaining(`(sha256 ${sha256('wheel from m0\n')}, from ${ID} on m0 this night), which nightshift does not replace`) as string },
    ]);
    expect((await destination.getBytes(KEY))!.toString()).toBe('wheel from m0\n');
  });
});
