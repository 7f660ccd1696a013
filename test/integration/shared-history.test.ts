/**
 * Build durations shared through the destination, with real host builds: a night on m1 writes
 * `nightshift/history/m1.json`; m2 (another root, so none of m1's local files) then plans and runs the
 * night after next by it (the split counts nights at least two before), and every machine computes the
 * same split. A destination that cannot be read is a
 * warning and the matrix estimates, never a failed command.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';
import { s3Env, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { addDays } from '../../src/night/night-date.js';
import { openDestination } from '../../src/store/open.js';
import type { Destination } from '../../src/store/destination.js';
import type { SharedHistoryObject } from '../../src/store/shared-history.js';
import type { BuildHistory } from '../../src/night/history.js';
import type { NightState } from '../../src/night/state.js';

interface PlanJson {
  shared_history: string[] | null;
  machines: { name: string; slots: number; order: string[]; estimate_s: number }[];
  builds: { id: string; machine: string; order: number; estimate_s: number; estimate_from: 'history' | 'config' }[];
}

describe.each(['file', 's3'] as const)('shared build history at a %s destination', (kind) => {
  let server: S3rver | undefined;
  let folder: string;
  let root2: string;
  let night: NightFixture;
  let destination: Destination;
  let configPlan: PlanJson;
  let m1Run: Awaited<ReturnType<typeof runCli>>;
  const d0 = () => night.date;
  const d1 = () => addDays(night.date, 1);
  const d2 = () => addDays(night.date, 2);
  /** m1 uses the fixture's root, m2 its own: m2 never sees m1's local history.json. */
  const cli = (machine: 'm1' | 'm2', date: string, ...args: string[]) =>
    runCli([...args, '--config', night.configDir, '--machine', machine, '--date', date, ...(machine === 'm2' ? ['--root', root2] : [])]);
  const plan = async (machine: 'm1' | 'm2', date: string) => {
    const result = await cli(machine, date, 'plan', '--all-machines', '--json');
    expect(result.exitCode).toBe(0);
    return { ...result, json: JSON.parse(result.stdout) as PlanJson };
  };
  const owners = (p: PlanJson) => Object.fromEntries(p.builds.map((b) => [b.id, b.machine]));

  beforeAll(async () => {
    Object.assign(process.env, s3Env);
    folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-shared-'));
    root2 = await mkdtemp(path.join(os.tmpdir(), 'nightshift-root2-'));
    let upload: string;
    if (kind === 's3') {
      server = await startS3rver();
      upload = `upload:\n  to: "s3://${server.bucket}/nightlies/{date}"\n  endpoint: "${server.endpoint}"\n  attempts: 2\n`;
      destination = await openDestination({ url: `s3://${server.bucket}/nightlies/`, endpoint: server.endpoint, pathStyle: true });
    } else {
      upload = `upload:\n  to: "file://${folder}/{date}"\n`;
      destination = await openDestination({ url: `file://${folder}/` });
    }
    // Two machines of one slot share every cell: the split follows the estimates.
    night = await makeNightFixture({ executor: 'host', machines: 'machines:\n  m1: { slots: 1 }\n  m2: { slots: 1 }\n', scheduleExtra: upload });
    configPlan = (await plan('m2', d0())).json;
    m1Run = await cli('m1', d0(), 'run');
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await night?.cleanup();
    await rm(folder, { recursive: true, force: true });
    await rm(root2, { recursive: true, force: true });
  });

  it('plans by the matrix estimates while there is no history, without a warning', () => {
    expect(configPlan.shared_history).toEqual([]);
    expect(configPlan.builds.every((b) => b.estimate_from === 'config')).toBe(true);
    expect(m1Run.stderr).toBe('');
  });

  it('writes nightshift/history/m1.json after m1 publishes its night: its history.json, per build', async () => {
    expect(m1Run.stdout).toMatch(/upload to /);
    expect(await destination.list('nightshift/history/')).toEqual(['nightshift/history/m1.json']);
    const object = JSON.parse((await destination.getBytes('nightshift/history/m1.json'))!.toString('utf8')) as SharedHistoryObject;
    const local = JSON.parse(await readFile(path.join(night.root, 'history.json'), 'utf8')) as BuildHistory;
    expect(object).toMatchObject({ version: 1, machine: 'm1', builds: local.builds });
    const ran = configPlan.builds
      .filter((b) => b.machine === 'm1')
      .map((b) => b.id)
      .sort();
    expect(Object.keys(object.builds).sort()).toEqual(ran);
  });

  it("gives m2 the same split as m1 for the night after next, by m1's durations", async () => {
    const [onM1, onM2] = [await plan('m1', d2()), await plan('m2', d2())];
    expect(onM2.stderr).toBe('');
    expect(onM2.json.shared_history).toEqual(['m1']);
    expect(owners(onM2.json)).toEqual(owners(onM1.json));
    // m1's successes are now known to take seconds, not their 10m/30m estimates; its failure says nothing.
    const m1State = JSON.parse(await readFile(path.join(night.root, d0(), 'night.json'), 'utf8')) as NightState;
    for (const build of m1State.builds) {
      const planned = onM2.json.builds.find((b) => b.id === build.id)!;
      if (build.status === 'succeeded') expect(planned).toMatchObject({ estimate_from: 'history', estimate_s: build.duration_s });
      if (build.status === 'failed') expect(planned.estimate_from).toBe('config');
    }
    expect(owners(onM2.json)).not.toEqual(owners(configPlan));
  });

  it('keeps the split of night D and of the night after after D is published (nights two before count)', async () => {
    expect(owners((await plan('m2', d0())).json)).toEqual(owners(configPlan));
    expect(owners((await plan('m2', d1())).json)).toEqual(owners(configPlan));
  });

  it("runs m2's night by that split and order, and adds m2.json", async () => {
    const planned = (await plan('m2', d2())).json;
    const mine = planned.machines.find((m) => m.name === 'm2')!;
    const result = await cli('m2', d2(), 'run');
    expect(result.stderr).toBe('');
    const state = JSON.parse(await readFile(path.join(root2, d2(), 'night.json'), 'utf8')) as NightState;
    expect(state.builds.map((b) => b.id).sort()).toEqual([...mine.order].sort());
    // Started in the planned order (one slot), with the planned estimates recorded.
    const started = [...state.builds].sort((a, b) => a.started_at!.localeCompare(b.started_at!)).map((b) => b.id);
    expect(started).toEqual(mine.order);
    for (const build of state.builds) expect(build.estimate_s).toBe(planned.builds.find((b) => b.id === build.id)!.estimate_s);
    expect(await destination.list('nightshift/history/')).toEqual(['nightshift/history/m1.json', 'nightshift/history/m2.json']);
    expect((await plan('m1', addDays(d0(), 3))).json.shared_history).toEqual(['m1', 'm2']);
  }, 60_000);

  it('warns and plans by the matrix when an object is not a history', async () => {
    const body = 'not json';
    await destination.putBytes('nightshift/history/zz-broken.json', body, { sha256: 'x' });
    const result = await plan('m2', d0());
    expect(result.stderr).toMatch(/nightshift\/history\/zz-broken\.json is not a nightshift history; it is left out/);
    expect(result.json.shared_history).toEqual(['m1', 'm2']);
  });

  // Only a server can go away; a local folder is always there.
  if (kind === 's3')
    it('warns and uses the matrix estimates when the destination cannot be read', async () => {
      await server!.stop();
      try {
        const result = await plan('m2', d2());
        expect(result.stderr).toMatch(/shared build history at s3:\/\/.* could not be read .*matrix estimates/);
        expect(result.json.shared_history).toBeNull();
        // The split falls back to the matrix (the order may still use m2's own history.json).
        expect(owners(result.json)).toEqual(owners(configPlan));
      } finally {
        await server!.start();
      }
    }, 60_000);
});
