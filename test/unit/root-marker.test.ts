/**
 * The root marker on real folders: which roots a night marks (new ones, ones holding only nightshift
 * nights), which it leaves unmarked (dated folders nightshift did not make), and what prune then refuses.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { nightLayout } from '../../src/night/layout.js';
import { openNight } from '../../src/night/open-night.js';
import { markRoot, ROOT_MARKER, rootRefusal } from '../../src/night/root-marker.js';
import { systemFolderReason } from '../../src/config/system-folders.js';
import { trimCaches } from '../../src/runner/cache-trim.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'nightshift-marker-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

const markerOf = (dir: string) => path.join(dir, ROOT_MARKER);

describe('opening a night marks its root', () => {
  it('a new root gets the marker, a small JSON saying what made it and when', async () => {
    const fresh = path.join(root, 'nights');
    expect(await rootRefusal(fresh)).toBeUndefined(); // nothing there yet, nothing to refuse
    expect(await openNight(nightLayout(fresh, '2026_11_22'), 'run')).toBeUndefined();
    const written = JSON.parse(await readFile(markerOf(fresh), 'utf8')) as { created_at: string };
    expect(written).toMatchObject({ version: 1, created_by: 'nightshift run', nights_found: 0 });
    expect(Date.parse(written.created_at)).not.toBeNaN();
    expect(await rootRefusal(fresh)).toBeUndefined();
  });

  it('a root from before markers, holding only nightshift nights, is taken over', async () => {
    await mkdir(path.join(root, '2026_11_20'));
    await writeFile(path.join(root, '2026_11_20', 'night.json'), '{}');
    await mkdir(path.join(root, '2026_11_21', 'logs', 'master'), { recursive: true }); // a run that died before night.json
    await mkdir(path.join(root, 'published'));
    expect(await rootRefusal(root)).toMatch(/it has no \.nightshift-root/);
    expect(await markRoot(root, 'daemon')).toBeUndefined();
    expect(JSON.parse(await readFile(markerOf(root), 'utf8'))).toMatchObject({ created_by: 'nightshift daemon', nights_found: 2 });
    expect(await rootRefusal(root)).toBeUndefined();
  });

  it('a root with dated folders nightshift did not make stays unmarked, and says why', async () => {
    for (const name of ['2019_05_03', '2019_05_04', '2019_06_01', '2019_07_14']) await mkdir(path.join(root, name, 'photos'), { recursive: true });
    const why = await openNight(nightLayout(root, '2026_11_22'));
    expect(why).toContain(`${root} is not marked as nightshift's (.nightshift-root): 2019_05_03, 2019_05_04, 2019_06_01 and 1 more are dated folders without night.json`);
    expect(why).toMatch(/prune and the disk guard remove nothing there/);
    expect(existsSync(markerOf(root))).toBe(false);
    expect(await rootRefusal(root)).toMatch(/^nothing removed under .*: it has no \.nightshift-root/);
  });

  it('a marker is never overwritten, and a folder named like it is no marker', async () => {
    await writeFile(markerOf(root), '{"version":1,"created_at":"2020-01-01T00:00:00.000Z"}\n');
    await markRoot(root, 'run');
    expect(await readFile(markerOf(root), 'utf8')).toContain('2020-01-01');
    const other = path.join(root, 'other');
    await mkdir(markerOf(other), { recursive: true });
    expect(await rootRefusal(other)).toMatch(/it has no \.nightshift-root/);
  });

  it('refuses to open a night in a system folder (exit 2), and prune refuses it even with a marker', async () => {
    const error = (await markRoot('/usr/lib', 'run').catch((e: unknown) => e)) as NightshiftError;
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(
      'root /usr/lib cannot hold nights: /usr/lib is inside the system folder /usr; give nightshift a folder of its own, e.g. /var/lib/nightshift (prune removes old night folders and caches under root)',
    );
    expect(await rootRefusal('/')).toMatch(/^nothing removed under \/: \/ is a system folder/);
  });
});

describe('cache trimming', () => {
  it('removes no cache under a root without the marker, and trims once the root is marked', async () => {
    await mkdir(path.join(root, 'cache', 'old-key'), { recursive: true });
    await writeFile(path.join(root, 'cache', 'old-key', 'objects'), Buffer.alloc(4096, 1));
    const refused = await trimCaches({ root, capBytes: 0, dryRun: false });
    expect(refused.removed).toEqual([]);
    expect(refused.errors).toEqual([expect.stringMatching(/^nothing removed under .*: it has no \.nightshift-root/)]);
    expect(existsSync(path.join(root, 'cache', 'old-key', 'objects'))).toBe(true);
    await markRoot(root, 'run');
    const trimmed = await trimCaches({ root, capBytes: 0, dryRun: false });
    expect(trimmed.removed.map((c) => c.key)).toEqual(['old-key']);
    expect(existsSync(path.join(root, 'cache', 'old-key'))).toBe(false);
  });
});

describe('systemFolderReason', () => {
  it.each([
    ['/', '/ is a system folder'],
    ['/etc', '/etc is a system folder'],
    ['/usr/local/lib', '/usr/local/lib is inside the system folder /usr'],
    ['/proc/1', '/proc/1 is inside the system folder /proc'],
    ['/var', '/var is a system folder'],
    ['/var/lib', '/var/lib is a system folder'],
    ['/home', '/home is a system folder'],
    ['/home/ann', '/home/ann is a home folder'],
    ['/root', '/root is a system folder'],
    ['/srv/me/', '/srv/me is the home folder of the user running nightshift'],
    ['/tmp', '/tmp is a system folder'],
    ['/lib64', '/lib64 is a system folder'],
  ])('%s: %s', (dir, reason) => expect(systemFolderReason(dir, '/srv/me')).toBe(reason));

  it.each(['/var/lib/nightshift', '/srv/nightshift', '/home/ann/nightshift', '/tmp/nightshift-root', '/data/nights', '/opt/nightshift/work'])('%s is fine', (dir) => {
    expect(systemFolderReason(dir, '/srv/me')).toBeUndefined();
  });
});
