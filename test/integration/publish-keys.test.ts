/**
 * Two builds of a night whose artifact keys render alike (a key template that `validate` refuses
 * today, but another machine may still run an older configuration): neither swaps the other's object,
 * and neither claims to be published with what the other made. Real night folders, a real file://
 * destination, publishNight itself.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringMatching } from '../helpers/expect.js';
import { artifactDir, nightLayout } from '../../src/night/layout.js';
import type { BuildRecord, NightState } from '../../src/night/state.js';
import type { Destination } from '../../src/store/destination.js';
import { openDestination } from '../../src/store/open.js';
import { publishNight } from '../../src/store/publish.js';

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const DATE = '2031_03_04';
let work: string;
let destination: Destination;

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'nightshift-keys-'));
  destination = await openDestination({ url: `file://${work}/published/` });
});
afterAll(() => rm(work, { recursive: true, force: true }));

/** A machine's finished night whose builds each wrote `same.whl` with their own content. */
async function night(machine: string, builds: Record<string, string>) {
  const layout = nightLayout(path.join(work, machine), DATE);
  const records: BuildRecord[] = [];
  for (const [id, content] of Object.entries(builds)) {
    await mkdir(artifactDir(layout, id), { recursive: true });
    await writeFile(path.join(artifactDir(layout, id), 'same.whl'), content);
    records.push({
      id,
      package: id,
      axes: {},
      executor: 'host',
      image: null,
      status: 'succeeded',
      order: records.length + 1,
      estimate_s: 60,
      attempt: 1,
      artifacts: [{ file: 'same.whl', size: content.length, sha256: sha256(content) }],
    });
  }
  const state: NightState = { version: 1, date: DATE, machine, schedule: 'nightly', updated_at: new Date().toISOString(), builds: records };
  return publishNight({
    night: layout,
    state,
    published: { rootUrl: destination.url, artifactPrefix: '' },
    keyTemplate: '{file}',
    varsFor: (b) => ({ id: b.id, package: b.package, file: '' }),
    destination,
  });
}

describe('artifact keys two builds of a night share', () => {
  it('on one machine: neither is sent, both fail naming the other, neither is published', async () => {
    const outcome = await night('m0', { a: 'wheel of a\n', b: 'wheel of b\n' });
    expect(outcome.failed).toEqual([
      {
        key: 'same.whl',
        error: 'artifacts/a/same.whl not published: artifacts/b/same.whl of this night has the same key with other content; make upload.key tell the builds apart (add {id})',
      },
      {
        key: 'same.whl',
        error: 'artifacts/b/same.whl not published: artifacts/a/same.whl of this night has the same key with other content; make upload.key tell the builds apart (add {id})',
      },
    ]);
    expect(await destination.head('same.whl')).toBeUndefined();
    expect(outcome.latest).toEqual([]);
  });

  it('on two machines: the second is refused, naming the build and machine that hold the key, and the object stays', async () => {
    await rm(path.join(work, 'published'), { recursive: true, force: true });
    const first = await night('m1', { c: 'wheel of c\n' });
    expect(first.failed).toEqual([]);
    const second = await night('m2', { d: 'wheel of d\n' });
    expect(second.failed).toEqual([
      {
        key: 'same.whl',
        error: `artifacts/d/same.whl not published: the key already holds other content (sha256 ${sha256('wheel of c\n')}, from c on m1 this night), which nightshift does not replace; make upload.key tell the builds apart (add {id}), or remove the object if it is stale`,
      },
    ]);
    expect((await destination.getBytes('same.whl'))!.toString()).toBe('wheel of c\n');
    const manifest = JSON.parse((await destination.getBytes(`nightshift/nights/${DATE}/m2/manifest.json`))!.toString()) as { builds: { id: string; published: boolean }[] };
    expect(manifest.builds.map((b) => [b.id, b.published])).toEqual([['d', false]]);
    expect(second.latest).toEqual([]);
    expect(first.latest).toEqual(['c']);
  });

  it('does not move a latest pointer it cannot read, and names it', async () => {
    await rm(path.join(work, 'published'), { recursive: true, force: true });
    await destination.putBytes('nightshift/latest/e.json', '{"id":"e","date":', { sha256: sha256('{"id":"e","date":') });
    const outcome = await night('m3', { e: 'wheel of e\n' });
    expect(outcome.latest).toEqual([]);
    expect(outcome.failed).toEqual([
      {
        key: 'nightshift/latest/e.json',
        error: stringMatching(/latest\/e\.json is not a latest pointer this nightshift can read \(not JSON .*\); remove it to let the next upload write it again$/),
      },
    ]);
  });
});
