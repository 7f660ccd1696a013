/**
 * The morning report of a fleet that shares a queue: tonight's manifests of two machines in a real
 * file:// destination, with cells that ended on both machines, a cell no machine ran, and a machine that
 * published nothing; `nightshift report --print` merges them by cell.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { runCli } from '../helpers/run-cli.js';
import type { Destination } from '../../src/store/destination.js';
import type { Manifest, ManifestBuild } from '../../src/store/manifest.js';
import { openDestination } from '../../src/store/open.js';

const TONIGHT = '2026_11_22';
const YESTERDAY = '2026_11_21';
let work: string;
let destination: Destination;
let configDir: string;

/** A build of `wheel` for python `python`, which ended at `hour` (UTC) of the night's day. */
function build(date: string, machine: string, python: string, status: string, hour: number): ManifestBuild {
  const id = `wheel_${python}`;
  const day = date.replaceAll('_', '-');
  const failed = status !== 'succeeded';
  return {
    id,
    package: 'wheel',
    axes: { python },
    status,
    started_at: `${day}T0${hour - 1}:00:00.000Z`,
    finished_at: `${day}T0${hour}:00:00.000Z`,
    duration_s: 3600 + hour,
    exit_code: failed ? 2 : 0,
    reason: failed ? 'exit code 2' : null,
    log: `nightshift/nights/${date}/${machine}/logs/${id}.log`,
    artifacts: [],
    published: !failed,
  };
}

async function put(key: string, body: string): Promise<void> {
  await destination.putBytes(key, body, { sha256: createHash('sha256').update(body).digest('hex') });
}

async function publish(date: string, machine: string, builds: ManifestBuild[]): Promise<void> {
  const manifest: Manifest = { version: 1, date, machine, schedule: 'nightly', finished_at: null, destination: destination.url, recipes: null, builds };
  await put(`nightshift/nights/${date}/${machine}/manifest.json`, JSON.stringify(manifest));
  for (const b of builds) await put(b.log!, `building ${b.id} on ${machine}\nerror: ${b.id} broke on ${machine}\n`);
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'nightshift-report-fleet-'));
  destination = await openDestination({ url: `file://${work}/published/` });
  const matrix = `recipes: { repo: "https://example.com/recipes.git" }
axes:
  python: ["3.10", "3.11", "3.12", "3.13", "3.14"]
packages:
  wheel: { image: "img", command: [build] }
`;
  const schedule = `cron: "5 0 * * *"
root: "${work}/root"
machines:
  m0: { slots: 2 }
  m1: { slots: 2 }
  m2: { slots: 2 }
upload:
  to: "file://${work}/published/{date}"
queue:
  url: "redis://127.0.0.1:6379/0"
report:
  cron: "0 7 * * *"
  to: [builds@example.com]
`;
  configDir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
  // Yesterday 3.10 succeeded on m0 and failed later on m1: it was good, so tonight is no "fixed".
  await publish(YESTERDAY, 'm0', [build(YESTERDAY, 'm0', '3.10', 'succeeded', 3), build(YESTERDAY, 'm0', '3.13', 'succeeded', 2)]);
  await publish(YESTERDAY, 'm1', [build(YESTERDAY, 'm1', '3.10', 'failed', 5), build(YESTERDAY, 'm1', '3.11', 'succeeded', 2)]);
  // Tonight: 3.10 succeeded on m0 and failed later on m1; 3.11 and 3.14 succeeded on both (3.11 ended
  // later on m1, 3.14 on m0); 3.12 ran nowhere; 3.13 failed on m0 only. m2 published nothing.
  await publish(TONIGHT, 'm0', [
    build(TONIGHT, 'm0', '3.10', 'succeeded', 2),
    build(TONIGHT, 'm0', '3.11', 'succeeded', 3),
    build(TONIGHT, 'm0', '3.13', 'failed', 2),
    build(TONIGHT, 'm0', '3.14', 'succeeded', 4),
  ]);
  await publish(TONIGHT, 'm1', [build(TONIGHT, 'm1', '3.10', 'failed', 6), build(TONIGHT, 'm1', '3.11', 'succeeded', 5), build(TONIGHT, 'm1', '3.14', 'succeeded', 3)]);
}, 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  removeConfigDirs();
});

describe('nightshift report with the shared queue', () => {
  let stdout: string;
  beforeAll(async () => {
    const result = await runCli(['report', '--print', '--config', configDir, '--machine', 'm0', '--date', TONIGHT]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    stdout = result.stdout;
  });

  it('shows a cell that ended on two machines once, with its newest good result', () => {
    // 5 cells, each once: 3.10, 3.11 and 3.14 are not counted twice, and 3.10's failure on m1 is not one.
    expect(stdout).toMatch(new RegExp(`^Subject: nightshift ${TONIGHT}: 1 of 5 builds failed, 1 machine missing, 1 missing$`, 'm'));
    expect(stdout).toContain('schedule nightly: 3 succeeded, 1 failed, 1 missing');
    expect(stdout).toMatch(/^ +wheel +ok 1h +ok 1h +MISSING +FAILED 1h +ok 1h$/m);
    expect(stdout).not.toMatch(/wheel_3\.10 -- /);
    // Yesterday's 3.10 succeeded on m0 (and failed later on m1): good, so not "fixed" tonight.
    expect(stdout).not.toMatch(/Fixed tonight/);
  });

  it('names the machine of the result shown, and the other machine it also ran on', async () => {
    const html = await readFile(path.join(work, 'root', TONIGHT, 'report.html'), 'utf8');
    expect(html).toMatch(/<td title="wheel_3\.10 · succeeded · 1h · m0 \(also ran on m1: failed\)"/);
    // Both succeeded: m1's ended later.
    expect(html).toMatch(/<td title="wheel_3\.11 · succeeded · 1h · m1 \(also ran on m0: succeeded\)"/);
    expect(html).toMatch(/<td title="wheel_3\.14 · succeeded · 1h · m0 \(also ran on m1: succeeded\)"/);
    expect(html).toMatch(/<td title="wheel_3\.13 · failed: exit code 2 · 1h · m0"/);
  });

  it('says a cell no machine ran is missing, naming who reported and who published nothing', () => {
    expect(stdout).toContain('!! No result for 1 build, missing: no machine ran it (m0 and m1 reported without it; m2 published nothing): wheel_3.12');
    expect(stdout).toContain('!! m2 DID NOT REPORT: it published nothing for this night (down, still running, or its upload failed); the other machines could take');
  });

  it("counts each machine's own builds, and shows the failure with its machine and log tail", () => {
    expect(stdout).toContain('Machines: m0 4 builds, 1 failed; m1 3 builds, 1 failed; m2 DID NOT REPORT');
    expect(stdout).toMatch(/wheel_3\.13 -- FAILED\n +Machine: +m0\n/);
    expect(stdout).toContain('error: wheel_3.13 broke on m0');
    expect(stdout).not.toContain('broke on m1');
  });
});
