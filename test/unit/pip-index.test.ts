/**
 * The pip channel's format: PEP 503 names, the kept nights, links that resolve from the page's own URL
 * to the object's, and Requires-Python read from the end of a wheel (zip files written here byte by byte).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { PipIndex } from '../../src/config/model.js';
import type { Destination } from '../../src/store/destination.js';
import { FileDestination } from '../../src/store/file.js';
import type { Manifest } from '../../src/store/manifest.js';
import { manifestKey } from '../../src/store/published-layout.js';
import { agedNights, keptNights, normalizeProject, projectPage, rootPage, wheelProject, writePipIndexes, type ChannelWheel } from '../../src/store/pip-index.js';
import { readRequiresPython, requiresPythonOf } from '../../src/store/wheel-metadata.js';

/** A zip of the entries in order (METADATA deflated, the rest stored), as a wheel tool writes one. */
function zip(entries: [name: string, data: Buffer][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const deflate = name.endsWith('METADATA');
    const body = deflate ? deflateRawSync(data) : data;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

const METADATA = Buffer.from('Metadata-Version: 2.1\nName: torch\nVersion: 2.6.0.dev20261130\nRequires-Python: >=3.9\n\nRequires-Python: not a header, the description\n');
const big = Buffer.alloc(200_000, 7);

describe('the pip channel format', () => {
  it('normalises project names as PEP 503 says, from the wheel file name', () => {
    expect(['Night_Demo', 'a.-_b', 'Torch', 'zope.interface'].map(normalizeProject)).toEqual(['night-demo', 'a-b', 'torch', 'zope-interface']);
    expect(wheelProject('Night_Demo-1.0.dev20261130-py3-none-any.whl')).toBe('night-demo');
    expect(wheelProject('torch-2.6.0.dev20261130+cu126-cp312-cp312-manylinux_2_28_x86_64.whl')).toBe('torch');
    expect(wheelProject('torch-2.6.0.tar.gz')).toBeUndefined();
  });

  it('keeps the newest keep_days nights up to the newest published one, tonight or later', () => {
    const dates = ['2026_11_01', '2026_11_28', '2026_11_29', '2026_11_30', 'junk', '2026_12_01'];
    expect(keptNights(dates, '2026_11_30', 2, '2026_12_01')).toEqual(['2026_11_30', '2026_12_01']);
    expect(keptNights(dates, '2026_11_30', 30, '2026_12_01')).toEqual(['2026_11_28', '2026_11_29', '2026_11_30', '2026_12_01']);
    expect(keptNights(['2026_11_01'], '2026_11_30', 3, '2026_11_30')).toEqual([]);
    // An old night uploaded again keeps the window at the newest published night.
    expect(keptNights(dates, '2026_11_01', 2, '2026_12_01')).toEqual(['2026_11_30', '2026_12_01']);
    // A night dated after today's clock (a test run with --date) does not empty the channel of the real ones.
    expect(keptNights([...dates, '2090_01_01'], '2026_12_01', 2, '2026_12_01')).toEqual(['2026_11_30', '2026_12_01']);
    expect(keptNights([...dates, '2090_01_01'], '2090_01_01', 2, '2026_12_01')).toEqual(['2090_01_01']);
  });

  it("writes links that resolve from the page's own URL to the object, with the sha256 and Requires-Python escaped", () => {
    const wheel: ChannelWheel = {
      project: 'torch',
      file: 'torch-2.6.0.dev20261130+cu126-cp312-cp312-linux_x86_64.whl',
      key: 'nightlies/2026_11_30/torch/cu126/torch-2.6.0.dev20261130+cu126-cp312-cp312-linux_x86_64.whl',
      sha256: 'a'.repeat(64),
      date: '2026_11_30',
      requiresPython: '>=3.9',
    };
    const html = projectPage('whl/nightly/cu126', 'torch', [wheel]);
    const [, href, rest] = /<a href="([^"]+)"([^>]*)>/.exec(html)!;
    const resolved = new URL(href!.replaceAll('&amp;', '&'), 'https://downloads.example.com/whl/nightly/cu126/simple/torch/');
    expect(decodeURIComponent(resolved.pathname)).toBe(`/${wheel.key}`);
    expect(resolved.hash).toBe(`#sha256=${wheel.sha256}`);
    expect(rest).toBe(' data-requires-python="&gt;=3.9"');
    expect(rootPage(['night-demo', 'torch'])).toMatch(/<a href="night-demo\/">night-demo<\/a><br>\n\s*<a href="torch\/">torch<\/a>/);
  });

  it('reads Requires-Python from the end of a wheel, and asks for more of it when METADATA lies further back', () => {
    const last = zip([
      ['torch/_C.so', big],
      ['torch-2.6.0.dist-info/METADATA', METADATA],
      ['torch-2.6.0.dist-info/RECORD', Buffer.from('')],
    ]);
    expect(readRequiresPython(last.subarray(-64 * 1024), last.length)).toEqual({ kind: 'found', requiresPython: '>=3.9' });

    const first = zip([
      ['torch-2.6.0.dist-info/METADATA', METADATA],
      ['torch/_C.so', big],
    ]);
    expect(readRequiresPython(first.subarray(-64 * 1024), first.length)).toEqual({ kind: 'need', lastBytes: first.length });
    expect(readRequiresPython(first, first.length)).toEqual({ kind: 'found', requiresPython: '>=3.9' });

    const none = zip([['x.dist-info/METADATA', Buffer.from('Name: x\nVersion: 1\n')]]);
    expect(readRequiresPython(none, none.length)).toEqual({ kind: 'found', requiresPython: undefined });
    const text = Buffer.from('not a zip at all, just some text');
    expect(readRequiresPython(text, text.length)).toMatchObject({ kind: 'unreadable' });
    expect(requiresPythonOf('Name: x\r\nrequires-python:  >=3.8, <4 \r\n')).toBe('>=3.8, <4');
  });
});

describe('machines publishing at once', () => {
  const folders: string[] = [];
  afterAll(async () => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });
  const index: PipIndex = { path: 'whl/nightly', keepDays: 30 };
  const date = '2026_11_30';
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  /** A machine's night at the destination: its wheel, then its manifest (as publishNight orders them). */
  async function publish(destination: Destination, machine: string, project: string) {
    const file = `${project}-1.0.dev20261130-py3-none-any.whl`;
    const key = `${date}/${project}/${file}`;
    const body = `wheel of ${project}`;
    await destination.putBytes(key, body, { sha256: sha(body) });
    const build = { id: project, package: project, axes: {}, status: 'succeeded', started_at: null, finished_at: null, duration_s: 1, exit_code: 0, reason: null, log: null };
    const manifest: Manifest = {
      version: 1,
      date,
      machine,
      schedule: 'nightly',
      finished_at: null,
      destination: destination.url,
      recipes: null,
      builds: [{ ...build, artifacts: [{ file, key, size: body.length, sha256: sha(body) }], published: true }],
    };
    const text = JSON.stringify(manifest);
    await destination.putBytes(manifestKey(date, machine), text, { sha256: sha(text) });
  }
  const write = (destination: Destination) =>
    writePipIndexes({ destination, index, tonight: date, clockToday: date, varsFor: (build, at) => ({ package: build.package, id: build.id, ...at }) });

  it("keep each other's wheels when one machine writes its pages after the other read the manifests", async () => {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-pip-race-'));
    folders.push(folder);
    const disk = new FileDestination({ url: `${pathToFileURL(folder).href}/` });
    await publish(disk, 'm1', 'alpha');
    // m1 has read the manifests (only its own); before its first page lands, m2 publishes and writes its pages.
    let m2Done = false;
    const m1View: Destination = Object.assign(Object.create(disk) as Destination, {
      putBytes: async (...args: Parameters<Destination['putBytes']>) => {
        if (!m2Done) {
          m2Done = true;
          await publish(disk, 'm2', 'beta');
          const m2 = await write(disk);
          expect([...m2.channels.get('whl/nightly')!.map((w) => w.project)].sort()).toEqual(['alpha', 'beta']);
        }
        return disk.putBytes(...args);
      },
    });
    const m1 = await write(m1View);
    expect(
      m1.channels
        .get('whl/nightly')!
        .map((w) => w.project)
        .sort(),
    ).toEqual(['alpha', 'beta']);
    const root = (await disk.getBytes('whl/nightly/simple/index.html'))!.toString('utf8');
    expect(root).toContain('<a href="alpha/">alpha</a>');
    expect(root).toContain('<a href="beta/">beta</a>');
    expect((await disk.getBytes('whl/nightly/simple/beta/index.html'))!.toString('utf8')).toContain(
      `../../../${date}/beta/beta-1.0.dev20261130-py3-none-any.whl#sha256=${sha('wheel of beta')}`,
    );
  });
});

describe('wheels of nights older than keep_days', () => {
  const folders: string[] = [];
  afterAll(async () => {
    for (const folder of folders) await rm(folder, { recursive: true, force: true });
  });
  const index: PipIndex = { path: 'whl/nightly', keepDays: 2 };
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const [d1, d2, d3] = ['2026_11_28', '2026_11_29', '2026_11_30'];
  const wheelOf = (project: string, date: string) => `${project}-1.0.dev${date.replaceAll('_', '')}-py3-none-any.whl`;

  async function destination(): Promise<FileDestination> {
    const folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-pip-aged-'));
    folders.push(folder);
    return new FileDestination({ url: `${pathToFileURL(folder).href}/` });
  }

  /** A machine's night: each build's wheel at `key` (default: under the date), then the manifest naming them. */
  async function publish(to: Destination, date: string, builds: { id: string; status?: string; key?: string }[]) {
    const entries = [];
    for (const b of builds) {
      const file = wheelOf(b.id, date);
      const key = b.key ?? `${date}/${b.id}/${file}`;
      const body = `wheel of ${b.id} on ${date}`;
      const status = b.status ?? 'succeeded';
      if (status === 'succeeded') await to.putBytes(key, body, { sha256: sha(body) });
      const build = { id: b.id, package: b.id, axes: {}, status, started_at: null, finished_at: null, duration_s: 1, exit_code: 0, reason: null, log: null };
      entries.push({ ...build, artifacts: status === 'succeeded' ? [{ file, key, size: body.length, sha256: sha(body) }] : [], published: status === 'succeeded' });
    }
    const manifest: Manifest = { version: 1, date, machine: 'm1', schedule: 'nightly', finished_at: null, destination: to.url, recipes: null, builds: entries };
    const text = JSON.stringify(manifest);
    await to.putBytes(manifestKey(date, 'm1'), text, { sha256: sha(text) });
  }
  async function pointTo(to: Destination, id: string, date: string) {
    const file = wheelOf(id, date);
    const body = `wheel of ${id} on ${date}`;
    const pointer = {
      id,
      date,
      machine: 'm1',
      commit: null,
      manifest: manifestKey(date, 'm1'),
      artifacts: [{ file, key: `${date}/${id}/${file}`, size: body.length, sha256: sha(body) }],
    };
    const text = JSON.stringify(pointer);
    await to.putBytes(`nightshift/latest/${id}.json`, text, { sha256: sha(text) });
  }
  const write = (to: Destination, tonight = d3, clockToday = d3) =>
    writePipIndexes({ destination: to, index, tonight, clockToday, varsFor: (build, at) => ({ package: build.package, id: build.id, ...at }) });
  const present = async (to: Destination, key: string) => (await to.list(key)).includes(key);

  it('are the nights before the kept window, and none for a night dated after today', () => {
    expect(agedNights([d1, d2, d3, '2026_11_01'], d3, 2, d3)).toEqual(['2026_11_01', d1]);
    expect(agedNights([d1, d2, d3], '2090_01_01', 2, d3)).toEqual([]);
    // An old night uploaded again ages from the newest published night, as the pages do.
    expect(agedNights([d1, d2, d3], d1, 2, d3)).toEqual([d1]);
  });

  it('leave the destination after the pages, unless a later night or a latest pointer names them', async () => {
    const disk = await destination();
    // alpha: good every night. beta: good on d1 only (its pointer stays there). gamma: an undated key d3 published again.
    await publish(disk, d1, [{ id: 'alpha' }, { id: 'beta' }, { id: 'gamma', key: 'gamma/gamma.whl' }]);
    await publish(disk, d2, [{ id: 'alpha' }, { id: 'beta', status: 'failed' }]);
    await publish(disk, d3, [{ id: 'alpha' }, { id: 'beta', status: 'failed' }, { id: 'gamma', key: 'gamma/gamma.whl' }]);
    await pointTo(disk, 'beta', d1);
    const order: string[] = [];
    const watched: Destination = Object.assign(Object.create(disk) as Destination, {
      putBytes: (...args: Parameters<Destination['putBytes']>) => (order.push(`put ${args[0]}`), disk.putBytes(...args)),
      delete: (key: string) => (order.push(`delete ${key}`), disk.delete(key)),
    });
    const outcome = await write(watched);
    expect(outcome.problems).toEqual([]);
    expect(outcome.deleted).toEqual([`${d1}/alpha/${wheelOf('alpha', d1)}`]);
    expect(outcome.keptForLatest).toEqual([`${d1}/beta/${wheelOf('beta', d1)}`]);
    expect(await present(disk, `${d1}/alpha/${wheelOf('alpha', d1)}`)).toBe(false);
    expect(await present(disk, `${d1}/beta/${wheelOf('beta', d1)}`)).toBe(true);
    expect(await present(disk, 'gamma/gamma.whl')).toBe(true);
    // Pages first: the first delete comes after the last page.
    const firstDelete = order.findIndex((line) => line.startsWith('delete '));
    const lastPut = order.length - 1 - [...order].reverse().findIndex((line) => line.startsWith('put '));
    expect(firstDelete).toBeGreaterThan(lastPut);
    expect(order.slice(0, lastPut + 1).some((line) => line.endsWith('/index.html'))).toBe(true);
    expect(await present(disk, `${d1}/alpha/`)).toBe(false);
    // Again: nothing left to remove, nothing counted.
    expect((await write(disk)).deleted).toEqual([]);
  });

  it('stay when a later night’s manifest cannot be read, or when the night uploaded is dated after today', async () => {
    const disk = await destination();
    await publish(disk, d1, [{ id: 'alpha' }]);
    await publish(disk, d3, [{ id: 'alpha' }]);
    await disk.putBytes(manifestKey(d3, 'm2'), '{"version": 1, "broken', { sha256: sha('x') });
    const unreadable = await write(disk);
    expect(unreadable.deleted).toEqual([]);
    expect(unreadable.problems).toContainEqual(
      expect.stringMatching(new RegExp(`^wheels of nights older than keep_days not removed: .*${d3}/m2/manifest\\.json is not a manifest.*the next upload tries again$`)),
    );
    expect(await present(disk, `${d1}/alpha/${wheelOf('alpha', d1)}`)).toBe(true);

    await disk.delete(manifestKey(d3, 'm2'));
    const future = await write(disk, '2090_01_01', d3);
    expect(future.deleted).toEqual([]);
    expect(await present(disk, `${d1}/alpha/${wheelOf('alpha', d1)}`)).toBe(true);
  });

  it('that cannot be removed are a problem named for the log, and the next upload removes them', async () => {
    const disk = await destination();
    await publish(disk, d1, [{ id: 'alpha' }, { id: 'beta' }]);
    await publish(disk, d3, [{ id: 'alpha' }, { id: 'beta' }]);
    const failing: Destination = Object.assign(Object.create(disk) as Destination, {
      delete: (key: string) => (key.includes('alpha') ? Promise.reject(new Error('permission denied')) : disk.delete(key)),
    });
    const first = await write(failing);
    expect(first.deleted).toEqual([`${d1}/beta/${wheelOf('beta', d1)}`]);
    expect(first.problems).toEqual([
      `could not remove ${d1}/alpha/${wheelOf('alpha', d1)}, a wheel of a night older than keep_days: permission denied; the next upload tries again`,
    ]);
    expect((await disk.getBytes('whl/nightly/simple/alpha/index.html'))!.toString('utf8')).not.toContain(d1.replaceAll('_', ''));
    const second = await write(disk);
    expect(second.deleted).toEqual([`${d1}/alpha/${wheelOf('alpha', d1)}`]);
    expect(second.problems).toEqual([]);
  });
});
