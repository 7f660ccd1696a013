/**
 * The two destinations behave the same: one suite, run against a real s3rver and a file:// folder.
 * Then what only S3 has: a missing bucket, unknown credentials, and a server that goes away and
 * comes back.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DestinationError, type Destination } from '../../src/store/destination.js';
import { openDestination } from '../../src/store/open.js';
import { s3Env, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { stringContaining, stringMatching } from '../helpers/expect.js';

const MiB = 1024 * 1024;
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error,
  );

let work: string;
/** A file over 100 MB with an odd tail, so S3 gets 7 parts, the last one short. */
let big: { file: string; size: number; sha256: string };

beforeAll(async () => {
  Object.assign(process.env, s3Env);
  work = await mkdtemp(path.join(tmpdir(), 'nightshift-destinations-'));
  big = await writePatternFile(path.join(work, 'big.whl'), 101 * MiB + 12_345);
});
afterAll(() => rm(work, { recursive: true, force: true }));

/**
 * Fast and deterministic: one pseudo-random MiB, each copy stamped with its index, so a part sent
 * twice, dropped or put in the wrong order changes the hash.
 */
async function writePatternFile(file: string, size: number) {
  const block = Buffer.alloc(MiB);
  let x = 0x2545f491;
  for (let i = 0; i < MiB; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block.writeInt32LE(x | 0, i);
  }
  const hash = createHash('sha256');
  function* blocks() {
    for (let offset = 0, i = 0; offset < size; offset += MiB, i++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - offset)));
      chunk.writeUInt32LE(i, 0);
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(blocks()), createWriteStream(file));
  return { file, size, sha256: hash.digest('hex') };
}

async function hashStream(stream: NodeJS.ReadableStream): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

interface Target {
  destination: Destination;
  /** The stored object's content as a stream, read past the Destination interface. */
  download(key: string): Promise<NodeJS.ReadableStream>;
  /** Whether the S3 upload went multipart (s3rver keeps its uploads folder once one happened). */
  usedMultipart?(): boolean;
}

describe.each(['s3', 'file'] as const)('%s destination', (kind) => {
  let server: S3rver | undefined;
  let t: Target;

  beforeAll(async () => {
    if (kind === 's3') {
      const s = (server = await startS3rver());
      const destination = await openDestination({ url: `s3://${s.bucket}/root/`, endpoint: s.endpoint, pathStyle: true });
      const client = new S3Client({
        region: 'us-east-1',
        endpoint: s.endpoint,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      t = {
        destination,
        download: async (key) => (await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: `root/${key}` }))).Body as NodeJS.ReadableStream,
        usedMultipart: () => existsSync(path.join(s.dir, s.bucket, '._S3rver_uploads')),
      };
    } else {
      const root = path.join(work, 'published');
      t = { destination: await openDestination({ url: `file://${root}/` }), download: (key) => Promise.resolve(createReadStream(path.join(root, key))) };
    }
  });
  afterAll(() => server?.close());

  it('names its root as a URL', () => {
    expect(t.destination.url).toBe(kind === 's3' ? `s3://${server!.bucket}/root/` : `file://${work}/published/`);
  });

  it('round-trips small objects with their sha256, in nested folders', async () => {
    const { destination } = t;
    const manifest = JSON.stringify({ version: 1, builds: [] });
    await destination.putBytes('nightshift/nights/2030_01_01/m1/manifest.json', manifest, { sha256: sha256(manifest), contentType: 'application/json' });
    const bytes = new Uint8Array([0, 1, 2, 255]);
    await destination.putBytes('deep/a/b/c/d.bin', bytes, { sha256: sha256(bytes) });

    expect(await destination.head('nightshift/nights/2030_01_01/m1/manifest.json')).toEqual({ size: manifest.length, sha256: sha256(manifest) });
    expect((await destination.getBytes('nightshift/nights/2030_01_01/m1/manifest.json'))!.toString('utf8')).toBe(manifest);
    expect(await destination.head('deep/a/b/c/d.bin')).toEqual({ size: 4, sha256: sha256(bytes) });
    expect([...(await destination.getBytes('deep/a/b/c/d.bin'))!]).toEqual([0, 1, 2, 255]);
  });

  it('overwrites an object in place', async () => {
    await t.destination.putBytes('latest/x.json', 'one', { sha256: sha256('one') });
    await t.destination.putBytes('latest/x.json', 'two!', { sha256: sha256('two!') });
    expect(await t.destination.head('latest/x.json')).toEqual({ size: 4, sha256: sha256('two!') });
    expect((await t.destination.getBytes('latest/x.json'))!.toString()).toBe('two!');
  });

  it("reads only the tail of an object when asked (a log's last lines), all of a shorter one", async () => {
    const log = Array.from({ length: 5000 }, (_, i) => `line ${i}`).join('\n');
    await t.destination.putBytes('logs/long.log', log, { sha256: sha256(log) });
    expect((await t.destination.getBytes('logs/long.log', { lastBytes: 20 }))!.toString()).toBe(log.slice(-20));
    expect((await t.destination.getBytes('logs/long.log', { lastBytes: 10 ** 7 }))!.toString()).toBe(log);
    expect(await t.destination.getBytes('logs/none.log', { lastBytes: 20 })).toBeUndefined();
  });

  it('says undefined for what is not there: a key, a folder, a key under a missing folder', async () => {
    await t.destination.putBytes('here/file.txt', 'x', { sha256: sha256('x') });
    for (const key of ['nothing.txt', 'here', 'here/other.txt', 'no/such/folder/file.txt', 'here/file.txt/below']) {
      expect(await t.destination.head(key), key).toBeUndefined();
      expect(await t.destination.getBytes(key), key).toBeUndefined();
    }
  });

  it('lists every key under a prefix, sorted, matching the prefix as a string like S3', async () => {
    const keys = ['list/2030_01_01/b.whl', 'list/2030_01_01/a/z.whl', 'list/2030_01_02/c.whl', 'list/2030_01_10/d.whl', 'list/other.txt'];
    for (const key of [...keys].reverse()) await t.destination.putBytes(key, key, { sha256: sha256(key) });
    expect(await t.destination.list('list/')).toEqual([...keys].sort());
    expect(await t.destination.list('list/2030_01_0')).toEqual(['list/2030_01_01/a/z.whl', 'list/2030_01_01/b.whl', 'list/2030_01_02/c.whl']);
    expect(await t.destination.list('list/2030_01_01/')).toEqual(['list/2030_01_01/a/z.whl', 'list/2030_01_01/b.whl']);
    expect(await t.destination.list('nope/')).toEqual([]);
    expect(await t.destination.list('')).toEqual(expect.arrayContaining(keys));
  });

  it('lists past one page: 1100 keys', async () => {
    const keys = Array.from({ length: 1100 }, (_, i) => `many/${String(i % 7)}/${String(i).padStart(4, '0')}.txt`);
    await eachLimit(keys, 16, (key) => t.destination.putBytes(key, 'x', { sha256: sha256('x') }));
    const listed = await t.destination.list('many/');
    expect(listed).toHaveLength(1100);
    expect(listed).toEqual([...keys].sort());
  });

  it('streams a file over 100 MB up and it comes back byte for byte', async () => {
    await t.destination.putFile('2030_01_01/manywheel/cu126/big.whl', big.file, { sha256: big.sha256 });
    expect(await t.destination.head('2030_01_01/manywheel/cu126/big.whl')).toEqual({ size: big.size, sha256: big.sha256 });
    expect(await hashStream(await t.download('2030_01_01/manywheel/cu126/big.whl'))).toEqual({ sha256: big.sha256, size: big.size });
    if (t.usedMultipart) expect(t.usedMultipart()).toBe(true);
  });

  it('puts a small file in one request and records the sha256 given', async () => {
    const file = path.join(work, `small-${kind}.txt`);
    await writeFile(file, 'small wheel\n');
    await t.destination.putFile('small/pkg.whl', file, { sha256: sha256('small wheel\n') });
    expect(await t.destination.head('small/pkg.whl')).toEqual({ size: 12, sha256: sha256('small wheel\n') });
    expect((await t.destination.getBytes('small/pkg.whl'))!.toString()).toBe('small wheel\n');
    // An empty artifact is an object too.
    await writeFile(`${file}.empty`, '');
    await t.destination.putFile('small/empty.whl', `${file}.empty`, { sha256: sha256('') });
    expect(await t.destination.head('small/empty.whl')).toEqual({ size: 0, sha256: sha256('') });
  });

  it('refuses to upload what is not a regular file (a pipe has no size to announce)', async () => {
    const fifo = path.join(work, `fifo-${kind}`);
    execFileSync('mkfifo', [fifo]);
    const error = await failure(t.destination.putFile('pipe.whl', fifo, { sha256: 'x' }));
    expect(error).toMatchObject({ name: 'DestinationError', transient: false, message: stringContaining('not a regular file') });
  });

  it('stops an upload when aborted, leaving no object', async () => {
    // A file destination links a file like `big` in no time; a read-only one (0400: a copy would be
    // writable by its owner) is copied, and a copy takes long enough to be stopped.
    const mode = (await stat(big.file)).mode & 0o7777;
    if (kind === 'file') await chmod(big.file, 0o400);
    try {
      const controller = new AbortController();
      const upload = t.destination.putFile('aborted/big.whl', big.file, { sha256: big.sha256, signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      await expect(upload).rejects.toMatchObject({ name: 'AbortError' });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await t.destination.head('aborted/big.whl')).toBeUndefined();
      expect(await t.destination.list('aborted/')).toEqual([]);
    } finally {
      await chmod(big.file, mode);
    }
  });

  it('computes the sha256 it records when not given one', async () => {
    const file = path.join(work, `unhashed-${kind}.log`);
    await writeFile(file, 'a log\n');
    await t.destination.putFile('logs/unhashed.log', file, { contentType: 'text/plain; charset=utf-8' });
    expect(await t.destination.head('logs/unhashed.log')).toEqual({ size: 6, sha256: sha256('a log\n') });
  });

  it('refuses keys that could escape the root, without trying', async () => {
    for (const key of ['../escape.txt', 'a/../../escape.txt', '/etc/passwd', 'a//b', './a', '', 'a/.']) {
      const error = await failure(t.destination.putBytes(key, 'x', { sha256: sha256('x') }));
      expect(error, key).toBeInstanceOf(DestinationError);
      expect(error).toMatchObject({ transient: false, message: stringContaining('invalid key') });
      await expect(t.destination.getBytes(key)).rejects.toBeInstanceOf(DestinationError);
    }
    await expect(t.destination.list('../')).rejects.toBeInstanceOf(DestinationError);
    expect(existsSync(path.join(work, 'escape.txt'))).toBe(false);
  });

  it('deletes an object, leaving its neighbours; deleting what is not there is no error', async () => {
    const { destination } = t;
    await destination.putBytes('old/2030_01_01/demo/cpu/a.whl', 'a', { sha256: sha256('a') });
    await destination.putBytes('old/2030_01_01/demo/cpu/b.whl', 'b', { sha256: sha256('b') });
    await destination.putBytes('old/2030_01_01/demo/cu126/c.whl', 'c', { sha256: sha256('c') });
    await destination.delete('old/2030_01_01/demo/cpu/a.whl');
    expect(await destination.head('old/2030_01_01/demo/cpu/a.whl')).toBeUndefined();
    expect(await destination.list('old/')).toEqual(['old/2030_01_01/demo/cpu/b.whl', 'old/2030_01_01/demo/cu126/c.whl']);
    await destination.delete('old/2030_01_01/demo/cpu/a.whl');
    await destination.delete('old/never/written.whl');
    await destination.delete('old/2030_01_01/demo/cpu/b.whl');
    await destination.delete('old/2030_01_01/demo/cu126/c.whl');
    expect(await destination.list('old/')).toEqual([]);
    await expect(destination.delete('../escape.txt')).rejects.toBeInstanceOf(DestinationError);
    // A key written again after its folder was emptied and removed lands as before.
    await destination.putBytes('old/2030_01_01/demo/cpu/a.whl', 'a2', { sha256: sha256('a2') });
    expect((await destination.getBytes('old/2030_01_01/demo/cpu/a.whl'))!.toString()).toBe('a2');
  });

  it('fails clearly when the local file to upload is missing', async () => {
    const error = await failure(t.destination.putFile('missing.whl', path.join(work, 'no-such.whl'), { sha256: 'x' }));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error).toMatchObject({ transient: false, message: stringMatching(/missing\.whl: cannot read .*no-such\.whl.*ENOENT/) });
    expect(await t.destination.head('missing.whl')).toBeUndefined();
  });
});

describe('file destination specifics', () => {
  let root: string;
  let destination: Destination;
  beforeAll(async () => {
    root = path.join(work, 'file-specifics');
    destination = await openDestination({ url: `file://${root}/` });
  });

  it('writes through a temporary file: none is left, none is listed', async () => {
    await destination.putFile('a/big.whl', big.file, { sha256: big.sha256 });
    await destination.putBytes('a/small.json', '{}', { sha256: sha256('{}') });
    expect((await readdir(path.join(root, 'a'))).sort()).toEqual(['big.whl', 'small.json']);
    // One left by a crash mid-write is not an object.
    await writeFile(path.join(root, 'a', '.big.whl.123.abcd1234.nightshift-tmp'), 'partial');
    expect(await destination.list('a/')).toEqual(['a/big.whl', 'a/small.json']);
    await expect(destination.head('a/.big.whl.123.abcd1234.nightshift-tmp')).rejects.toBeInstanceOf(DestinationError);
  });

  it('leaves the old content and no temporary file when a write fails', async () => {
    await destination.putBytes('keep/x.txt', 'old', { sha256: sha256('old') });
    await expect(destination.putFile('keep/x.txt', path.join(work, 'no-such.whl'), { sha256: 'x' })).rejects.toBeInstanceOf(DestinationError);
    expect((await destination.getBytes('keep/x.txt'))!.toString()).toBe('old');
    expect(await readdir(path.join(root, 'keep'))).toEqual(['x.txt']);
  });

  it('stops a copy when aborted, leaving nothing behind', async () => {
    const controller = new AbortController();
    const copy = destination.putFile('aborted/big.whl', big.file, { sha256: big.sha256, signal: controller.signal });
    controller.abort();
    await expect(copy).rejects.toMatchObject({ name: 'AbortError' });
    expect(await readdir(path.join(root, 'aborted')).catch(() => [])).toEqual([]);
  });

  it('publishes a file on the same file system as a hard link that outlives the source, like a copy', async () => {
    const source = path.join(work, 'night-log.log');
    await writeFile(source, 'a long night\n');
    await destination.putFile('logs/linked.log', source, {});
    const published = path.join(root, 'logs', 'linked.log');
    const [before, after] = [await stat(source), await stat(published)];
    expect([after.dev, after.ino, after.nlink]).toEqual([before.dev, before.ino, 2]);
    expect(await readdir(path.join(root, 'logs'))).toEqual(['linked.log']);
    // A rerun writes a new log and renames it over the old name; prune unlinks: neither touches the published one.
    await writeFile(`${source}.next`, 'the rerun\n');
    await rename(`${source}.next`, source);
    await rm(source);
    expect((await readFile(published)).toString()).toBe('a long night\n');
    expect(await destination.head('logs/linked.log')).toEqual({ size: 13, sha256: sha256('a long night\n') });
    expect((await stat(published)).nlink).toBe(1);
  });

  it('publishes a new version of a linked file under the same key by replacing it, never by writing through the link', async () => {
    const source = path.join(work, 'night-log-2.log');
    await writeFile(source, 'first\n');
    await destination.putFile('logs/again.log', source, {});
    const second = path.join(work, 'night-log-3.log');
    await writeFile(second, 'second\n');
    await destination.putFile('logs/again.log', second, {});
    expect((await readFile(source)).toString()).toBe('first\n');
    expect((await destination.getBytes('logs/again.log'))!.toString()).toBe('second\n');
  });

  it('copies what a link would show differently: another mode (or owner) than a new file of its own gets', async () => {
    const source = path.join(work, 'read-only.whl');
    await writeFile(source, 'wheel\n');
    await chmod(source, 0o400);
    await destination.putFile('copied/read-only.whl', source, {});
    await destination.putBytes('copied/fresh.json', '{}', { sha256: sha256('{}') });
    const published = await stat(path.join(root, 'copied', 'read-only.whl'));
    const fresh = await stat(path.join(root, 'copied', 'fresh.json')); // the mode a new file gets here
    expect(published.ino).not.toBe((await stat(source)).ino);
    expect(published.mode & 0o7777).toBe(fresh.mode & 0o7777);
    expect((await destination.getBytes('copied/read-only.whl'))!.toString()).toBe('wheel\n');
  });

  // Another file system, where a link fails with EXDEV: /dev/shm when it is one (tmpfs on Linux).
  const shm = '/dev/shm';
  it.runIf(existsSync(shm))('copies a file from another file system', async () => {
    const dir = await mkdtemp(path.join(shm, 'nightshift-destinations-'));
    try {
      if ((await stat(dir)).dev === (await stat(root)).dev) return; // the same file system after all: nothing to show
      await writeFile(path.join(dir, 'elsewhere.log'), 'from tmpfs\n');
      await destination.putFile('copied/elsewhere.log', path.join(dir, 'elsewhere.log'), {});
      expect((await readFile(path.join(root, 'copied', 'elsewhere.log'))).toString()).toBe('from tmpfs\n');
      expect((await stat(path.join(root, 'copied', 'elsewhere.log'))).nlink).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says what is in the way when a folder of the key is a file', async () => {
    await destination.putBytes('blocker', 'x', { sha256: sha256('x') });
    const error = await failure(destination.putBytes('blocker/below.txt', 'y', { sha256: sha256('y') }));
    expect(error).toMatchObject({ name: 'DestinationError', transient: false, message: stringMatching(/blocker\/below\.txt: cannot write: .*(ENOTDIR|EEXIST)/) });
  });

  it('removes the folders a delete leaves empty, up to the root and no further, and never a folder as an object', async () => {
    await destination.putBytes('gone/2030_01_01/demo/cpu/a.whl', 'a', { sha256: sha256('a') });
    await destination.putBytes('gone/2030_01_01/keep.txt', 'k', { sha256: sha256('k') });
    await destination.delete('gone/2030_01_01/demo/cpu/a.whl');
    expect(existsSync(path.join(root, 'gone', '2030_01_01', 'demo'))).toBe(false);
    expect(await readdir(path.join(root, 'gone', '2030_01_01'))).toEqual(['keep.txt']);
    await destination.delete('gone/2030_01_01/keep.txt');
    expect(existsSync(path.join(root, 'gone'))).toBe(false);
    expect(existsSync(root)).toBe(true);
    await destination.putBytes('folder/inside.txt', 'i', { sha256: sha256('i') });
    await destination.delete('folder');
    expect(await destination.list('folder/')).toEqual(['folder/inside.txt']);
  });

  it('lists nothing, rather than failing, before anything was written', async () => {
    const empty = await openDestination({ url: `file://${path.join(work, 'never-written')}/` });
    expect(await empty.list('')).toEqual([]);
    expect(await empty.head('x')).toBeUndefined();
  });

  it('refuses a URL it does not know', async () => {
    await expect(openDestination({ url: 'ftp://example.com/x/' })).rejects.toThrow(/unsupported destination/);
  });
});

describe('s3 failures', () => {
  let server: S3rver;
  const retry = { attempts: 3, baseDelayMs: 20, maxDelayMs: 50 };
  const open = (bucket = server.bucket) => openDestination({ url: `s3://${bucket}/root/`, endpoint: server.endpoint, pathStyle: true }, { retry });

  beforeAll(async () => {
    server = await startS3rver({ bucket: 'failures' });
  });
  afterAll(() => server.close());

  it('a missing bucket fails at once, not transient, naming the bucket', async () => {
    const destination = await open('no-such-bucket');
    const started = Date.now();
    for (const operation of [
      () => destination.putBytes('a.txt', 'x', { sha256: sha256('x') }),
      () => destination.putFile('big.whl', big.file, { sha256: big.sha256 }),
      () => destination.getBytes('a.txt'),
      () => destination.list(''),
      () => destination.delete('a.txt'),
      // HEAD answers carry no error code: the destination asks about the bucket itself.
      () => destination.head('a.txt'),
    ]) {
      const error = await failure(operation());
      expect(error).toBeInstanceOf(DestinationError);
      expect(error).toMatchObject({ transient: false, message: stringMatching(/^s3:\/\/no-such-bucket\/root\/\S*: bucket "no-such-bucket" does not exist \(NoSuchBucket\)/) });
    }
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('unknown credentials fail at once, not transient, without showing them', async () => {
    const saved = process.env.AWS_ACCESS_KEY_ID;
    process.env.AWS_ACCESS_KEY_ID = 'AKIANOTKNOWNTOS3RVER';
    try {
      const destination = await open();
      const error = await failure(destination.putBytes('a.txt', 'x', { sha256: sha256('x') }));
      expect(error).toMatchObject({ name: 'DestinationError', transient: false, message: stringContaining('InvalidAccessKeyId') });
      expect((error as Error).message).not.toContain('AKIANOTKNOWNTOS3RVER');
      expect((error as Error).message).not.toContain(s3Env.AWS_SECRET_ACCESS_KEY);
      expect(JSON.stringify((error as Error).cause ?? {})).not.toContain('AKIANOTKNOWNTOS3RVER');
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved;
    }
  });

  it('a stopped server fails every operation after the retries, as transient; restarted, all works again', async () => {
    const destination = await open();
    await destination.putBytes('before.txt', 'kept', { sha256: sha256('kept') });
    await server.stop();
    try {
      for (const operation of [
        () => destination.putBytes('a.txt', 'x', { sha256: sha256('x') }),
        () => destination.putFile('big.whl', big.file, { sha256: big.sha256 }),
        () => destination.head('before.txt'),
        () => destination.getBytes('before.txt'),
        () => destination.list(''),
      ]) {
        const started = Date.now();
        const error = await failure(operation());
        expect(error).toBeInstanceOf(DestinationError);
        expect(error).toMatchObject({
          transient: true,
          message: stringMatching(/^s3:\/\/failures\/root\/\S*: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED.*gave up after 3 tries/),
        });
        // Two waits of 10 to 50 ms each: the retries happened, and quickly.
        expect(Date.now() - started).toBeGreaterThanOrEqual(20);
        expect(Date.now() - started).toBeLessThan(5000);
      }
    } finally {
      await server.start();
    }
    expect((await destination.getBytes('before.txt'))!.toString()).toBe('kept');
    await destination.putBytes('after.txt', 'back', { sha256: sha256('back') });
    expect(await destination.list('')).toEqual(['after.txt', 'before.txt']);
  });

  it('a server that dies in the middle of a multipart upload gives a transient error, and a retry later succeeds', async () => {
    const destination = await open();
    const uploads = path.join(server.dir, server.bucket, '._S3rver_uploads');
    const upload = destination.putFile('mid/big.whl', big.file, { sha256: big.sha256 });
    // Stop the server once it has received a part.
    for (let i = 0; i < 500; i++) {
      const parts = await readdir(uploads).then(
        (ids) => Promise.all(ids.map((id) => readdir(path.join(uploads, id)))),
        () => [],
      );
      if (parts.some((files) => files.some((f) => /^\d+$/.test(f)))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await server.stop();
    try {
      const error = await failure(upload);
      expect(error).toMatchObject({ name: 'DestinationError', transient: true, message: stringContaining('mid/big.whl') });
    } finally {
      await server.start();
    }
    expect(await destination.head('mid/big.whl')).toBeUndefined();
    await destination.putFile('mid/big.whl', big.file, { sha256: big.sha256 });
    expect(await destination.head('mid/big.whl')).toEqual({ size: big.size, sha256: big.sha256 });
  });
});
