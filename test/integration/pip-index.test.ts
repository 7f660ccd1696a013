/**
 * The pip nightly channel (`upload.index`) with real pip against the index served over HTTP: Python's
 * http.server in front of a file:// destination, and s3rver's own HTTP (with an index document, as an
 * S3 website serves it). Three nights of two machines, one cell per machine and channel: pip gets the
 * newest good wheel of each channel, a cell that failed tonight leaves yesterday's, nights older than
 * keep_days leave the index and their wheels the destination (except one a latest pointer still names:
 * cu128 fails from the second night on), and a wheel changed after the index was written is refused by its hash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';
import { writeConfigDir } from '../helpers/config-dir.js';
import { runCli } from '../helpers/run-cli.js';
import { s3Env, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { openDestination } from '../../src/store/open.js';
import type { Destination } from '../../src/store/destination.js';
import { addDays } from '../../src/night/night-date.js';

/** Writes a small valid wheel (METADATA, WHEEL, RECORD) whose version is the night's date; fails for the CUDA values listed in broken.txt. */
const MAKE_WHEEL = `import base64, hashlib, os, sys, zipfile
cuda = os.environ['NIGHTSHIFT_CUDA']
if cuda in open(os.path.join(os.environ['NIGHTSHIFT_RECIPES'], 'broken.txt')).read().split():
    print('build broken for ' + cuda)
    sys.exit(3)
version = '1.0.dev' + os.environ['NIGHTSHIFT_DATE'].replace('_', '')
info = 'night_demo-' + version + '.dist-info'
files = {
    'night_demo/__init__.py': 'CUDA = "' + cuda + '"\\n',
    info + '/METADATA': 'Metadata-Version: 2.1\\nName: Night_Demo\\nVersion: ' + version + '\\nRequires-Python: >=3.7\\n',
    info + '/WHEEL': 'Wheel-Version: 1.0\\nGenerator: nightshift-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
def digest(data):
    return 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
record = ''.join(name + ',' + digest(text.encode()) + ',' + str(len(text.encode())) + '\\n' for name, text in files.items()) + info + '/RECORD,,\\n'
files[info + '/RECORD'] = record
with zipfile.ZipFile(os.path.join(os.environ['NIGHTSHIFT_OUT'], 'Night_Demo-' + version + '-py3-none-any.whl'), 'w') as wheel:
    for name, text in files.items():
        wheel.writestr(zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0)), text, compress_type=zipfile.ZIP_DEFLATED)
`;

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');
const version = (date: string) => `1.0.dev${date.replaceAll('_', '')}`;

/**
 * A past date unique to the run, with room for the nights after it. Past: wheels leave the destination
 * only when the night uploaded is not dated after today's clock.
 */
function firstNight(): string {
  const pick = (n: number) => Math.floor(Math.random() * n);
  return `${2001 + pick(20)}_${String(1 + pick(12)).padStart(2, '0')}_${String(1 + pick(25)).padStart(2, '0')}`;
}

/** `python3 -m http.server` on a free port, serving `folder`. */
async function serveFolder(folder: string): Promise<{ url: string; stop: () => void }> {
  const child: ChildProcess = spawn('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', folder, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = / port (\d+)/.exec(seen);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`python3 -m http.server exited (${String(code)}): ${seen}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, stop: () => void child.kill('SIGTERM') };
}

/** Real pip: downloads `project` from the index into a new folder; its exit code, output and the files it got. */
async function pipDownload(indexUrl: string, project: string) {
  const into = await mkdtemp(path.join(os.tmpdir(), 'nightshift-pip-'));
  const result = await execa(
    'python3',
    [
      '-m',
      'pip',
      'download',
      '--no-deps',
      '--pre',
      '--no-cache-dir',
      '--disable-pip-version-check',
      '--retries',
      '0',
      '--timeout',
      '20',
      '--index-url',
      indexUrl,
      project,
      '-d',
      into,
    ],
    { reject: false, all: true, env: { PIP_CONFIG_FILE: '/dev/null' }, stdin: 'ignore' },
  );
  const files = await readdir(into);
  await rm(into, { recursive: true, force: true });
  return { exitCode: result.exitCode, output: result.all, files };
}

describe.each(['file', 's3'] as const)('a pip nightly channel on %s', (kind) => {
  let s3: S3rver | undefined;
  let http: { url: string; stop: () => void } | undefined;
  let folder: string;
  let repo: RecipesRepo;
  let configDir: string;
  let destination: Destination;
  let baseUrl: string;
  const d1 = firstNight();
  const [d2, d3] = [addDays(d1, 1), addDays(d1, 2)];
  const runs: Record<string, Awaited<ReturnType<typeof runCli>>> = {};
  const channelUrl = (cuda: string) => `${baseUrl}whl/nightly/${cuda}/simple/`;
  const page = async (cuda: string) => (await destination.getBytes(`whl/nightly/${cuda}/simple/night-demo/index.html`))!.toString('utf8');

  beforeAll(async () => {
    Object.assign(process.env, s3Env);
    folder = await mkdtemp(path.join(os.tmpdir(), 'nightshift-channel-'));
    repo = await makeRecipesRepo({ files: { 'make_wheel.py': MAKE_WHEEL, 'broken.txt': '' } });
    let to: string;
    if (kind === 's3') {
      s3 = await startS3rver();
      to = `to: "s3://${s3.bucket}/nightlies/{date}"\n  endpoint: "${s3.endpoint}"\n  attempts: 2`;
      destination = await openDestination({ url: `s3://${s3.bucket}/nightlies/`, endpoint: s3.endpoint, pathStyle: true });
      // As an S3 website serves it: a folder's URL gives its index.html.
      const { S3Client, PutBucketWebsiteCommand } = await import('@aws-sdk/client-s3');
      const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' });
      await client.send(new PutBucketWebsiteCommand({ Bucket: s3.bucket, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } } }));
      client.destroy();
      baseUrl = `${s3.endpoint}/${s3.bucket}/nightlies/`;
    } else {
      to = `to: "file://${folder}/{date}"`;
      destination = await openDestination({ url: `file://${folder}/` });
      http = await serveFolder(folder);
      baseUrl = http.url;
    }
    const root = path.join(folder, '..', `${path.basename(folder)}-root`);
    configDir = writeConfigDir({
      matrix: `recipes: { repo: "${repo.url}", ref: main }\naxes:\n  cuda: [cpu, cu126, cu128]\npackages:\n  demo:\n    executor: host\n    command: ["sh", "-c", "exec python3 \\"$NIGHTSHIFT_RECIPES/make_wheel.py\\""]\n    timeout: 1m\n`,
      schedules: {
        nightly:
          `cron: "0 1 * * *"\nroot: "${root}"\nmachines:\n  m1: { builds: ["*cpu"] }\n  m2: { slots: 2, builds: ["*cu12*"] }\n` +
          `upload:\n  ${to}\n  key: "{package}/{cuda}/{file}"\n  index: { path: "whl/nightly/{cuda}", keep_days: 2 }\n`,
      },
    });
    for (const date of [d1, d2, d3]) {
      // cu128 breaks on the second night, for longer than keep_days: its latest pointer keeps its first wheel.
      if (date === d2) await repo.commit({ 'broken.txt': 'cu128\n' }, 'break cu128');
      // Tonight the cu126 cell breaks: its channel must keep yesterday's wheel.
      if (date === d3) await repo.commit({ 'broken.txt': 'cu126\ncu128\n' }, 'break cu126');
      // Both machines at once, each with its own root: neither may lose the other's wheels.
      await Promise.all(
        ['m1', 'm2'].map(async (machine) => {
          runs[`${date}/${machine}`] = await runCli(['run', '--config', configDir, '--machine', machine, '--date', date, '--root', path.join(root, machine)]);
        }),
      );
    }
  }, 180_000);
  afterAll(async () => {
    http?.stop();
    await s3?.close();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await repo?.cleanup();
    await rm(folder, { recursive: true, force: true });
    await rm(`${folder}-root`, { recursive: true, force: true });
  });

  it('the nights ran and each upload rebuilt the index from every machine', () => {
    expect(Object.fromEntries(Object.entries(runs).map(([night, run]) => [night, run.exitCode])), JSON.stringify(Object.values(runs).map((run) => run.stderr))).toEqual({
      [`${d1}/m1`]: 0,
      [`${d1}/m2`]: 0,
      [`${d2}/m1`]: 0,
      [`${d2}/m2`]: 1,
      [`${d3}/m1`]: 0,
      [`${d3}/m2`]: 1,
    });
  });

  it('pip downloads the newest good nightly of each channel; a cell that failed tonight leaves yesterday’s', async () => {
    const cpu = await pipDownload(channelUrl('cpu'), 'Night.Demo');
    expect(cpu.output).toContain('Saved');
    expect(cpu.files).toEqual([`Night_Demo-${version(d3)}-py3-none-any.whl`]);
    const cu126 = await pipDownload(channelUrl('cu126'), 'night-demo');
    expect(cu126.exitCode, cu126.output).toBe(0);
    expect(cu126.files).toEqual([`Night_Demo-${version(d2)}-py3-none-any.whl`]);
  });

  it('lists the wheels of the kept nights only, with relative links and their sha256, under the PEP 503 name', async () => {
    const root = (await destination.getBytes('whl/nightly/cpu/simple/index.html'))!.toString('utf8');
    expect(root).toContain('<a href="night-demo/">night-demo</a>');
    const cpu = await page('cpu');
    const keys = [...cpu.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    const wheel = async (date: string, cuda: string) => (await destination.getBytes(`${date}/demo/${cuda}/Night_Demo-${version(date)}-py3-none-any.whl`))!;
    // keep_days 2: the first night has left the index.
    expect(keys).toEqual(
      await Promise.all([d2, d3].map(async (date) => `../../../../../${date}/demo/cpu/Night_Demo-${version(date)}-py3-none-any.whl#sha256=${sha256(await wheel(date, 'cpu'))}`)),
    );
    expect(await page('cu126')).toContain(`${d2}/demo/cu126/Night_Demo-${version(d2)}-py3-none-any.whl#sha256=${sha256(await wheel(d2, 'cu126'))}`);
    expect(await page('cu126')).not.toContain(d1);
    // Read from the wheel's METADATA (deflated, at the end of the zip), escaped as PEP 503 asks.
    expect(cpu.match(/ data-requires-python="&gt;=3\.7">/g)).toHaveLength(2);
  });

  it('removes the wheels of nights older than keep_days from the destination, keeping one a latest pointer names', async () => {
    const wheelKey = (date: string, cuda: string) => `${date}/demo/${cuda}/Night_Demo-${version(date)}-py3-none-any.whl`;
    // The first night's cpu and cu126 wheels are gone; newer nights name other wheels for those cells.
    expect(await destination.head(wheelKey(d1, 'cpu'))).toBeUndefined();
    expect(await destination.head(wheelKey(d1, 'cu126'))).toBeUndefined();
    expect(await destination.head(wheelKey(d2, 'cpu'))).toBeDefined();
    // cu128 has failed ever since: its pointer still names the first night's wheel, which stays, installable from its URL.
    const pointer = JSON.parse((await destination.getBytes('nightshift/latest/demo_cu128.json'))!.toString('utf8')) as { date: string };
    expect(pointer.date).toBe(d1);
    expect(await destination.head(wheelKey(d1, 'cu128'))).toBeDefined();
    expect(await page('cu128')).not.toContain('.whl');
    const direct = await pipDownload(channelUrl('cpu'), `${baseUrl}${wheelKey(d1, 'cu128')}`);
    expect(direct.exitCode, direct.output).toBe(0);
    expect(direct.files).toEqual([`Night_Demo-${version(d1)}-py3-none-any.whl`]);
    // Only wheels go: the old night's manifests and logs stay, and no empty folder is left on disk.
    expect(await destination.head(`nightshift/nights/${d1}/m1/manifest.json`)).toBeDefined();
    expect((await destination.list(`nightshift/nights/${d1}/m2/logs/`)).length).toBe(2);
    if (kind === 'file') {
      expect(existsSync(path.join(folder, d1, 'demo', 'cpu'))).toBe(false);
      expect(existsSync(path.join(folder, d1, 'demo', 'cu128'))).toBe(true);
    }
    // Each machine's upload of the third night removed what it found (they ran at once) and said so.
    const logs = await Promise.all(['m1', 'm2'].map((m) => readFile(path.join(`${folder}-root`, m, d3, 'logs', 'master', 'upload.log'), 'utf8')));
    const removed = logs.join('').match(/(\d+) older wheel\(s\) removed/g) ?? [];
    expect(removed.length).toBeGreaterThan(0);
    expect(logs.join('')).toContain('1 older wheel(s) kept for their latest pointer');
  });

  it('`nightshift upload` again rewrites no page that is unchanged', async () => {
    const again = await runCli(['upload', '--config', configDir, '--date', d3, '--root', path.join(`${folder}-root`, 'm1')]);
    expect(again.exitCode).toBe(0);
    const lines = (await readFile(path.join(`${folder}-root`, 'm1', d3, 'logs', 'master', 'upload.log'), 'utf8')).trim().split('\n');
    // Nothing left to remove either; the wheel the cu128 pointer names is still kept.
    expect(lines.filter((line) => line.includes('pip index:')).at(-1)).toMatch(
      /pip index: 3 channel\(s\), 3 wheel\(s\) of the last 2 night\(s\), 0 page\(s\) written, 1 older wheel\(s\) kept for their latest pointer$/,
    );
  });

  it('pip refuses a wheel whose bytes changed after the index was written', async () => {
    const key = `${d2}/demo/cu126/Night_Demo-${version(d2)}-py3-none-any.whl`;
    const tampered = Buffer.concat([(await destination.getBytes(key))!, Buffer.from('tampered')]);
    if (kind === 's3') await destination.putBytes(key, tampered, { sha256: sha256(tampered) });
    else {
      // A new file renamed over the key: the published file may be a hard link to the night's own artifact.
      await writeFile(path.join(folder, `${key}.new`), tampered);
      await rename(path.join(folder, `${key}.new`), path.join(folder, key));
    }
    const refused = await pipDownload(channelUrl('cu126'), 'night-demo');
    expect(refused.exitCode).not.toBe(0);
    expect(refused.output).toMatch(/DO NOT MATCH THE HASHES/);
    expect(refused.files).toEqual([]);
  });
});
