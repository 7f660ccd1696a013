// Uploads a 1 GiB artifact through the built destinations (dist/store/open.js) to a local s3rver and
// to a file:// folder, and shows that the uploader's memory stays bounded: S3 parts are 16 MiB, at
// most 4 in flight, so the peak must not grow with the file.
//   npm run build && node bench/upload.mjs [--mb 1024]
// The upload runs in a child process of its own (neither s3rver nor this script's sampling count),
// sampled every 50 ms through /proc/<pid>/status; the child also reports the kernel's own peak (VmHWM).
// Prints the figures and, last, one summary line per destination.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '1024' },
    // internal: the uploading child
    child: { type: 'boolean', default: false },
    url: { type: 'string' },
    endpoint: { type: 'string' },
    file: { type: 'string' },
    sha256: { type: 'string' },
  },
});

const MiB = 1024 * 1024;
const status = (pid = 'self') => readFileSync(`/proc/${pid}/status`, 'utf8');
const kb = (text, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);

if (values.child) {
  // The uploader: open the destination, upload, check what arrived, report timings and memory.
  const { openDestination } = await import(new URL('../dist/store/open.js', import.meta.url).href);
  const destination = await openDestination({ url: values.url, endpoint: values.endpoint, pathStyle: values.endpoint !== undefined });
  const before = kb(status(), 'VmRSS');
  const started = process.hrtime.bigint();
  await destination.putFile('bench/artifact.whl', values.file, { sha256: values.sha256 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const hwm = kb(status(), 'VmHWM');
  const head = await destination.head('bench/artifact.whl');
  process.stdout.write(`${JSON.stringify({ seconds, rssBeforeMiB: before / 1024, hwmMiB: hwm / 1024, head })}\n`);
  process.exit(0);
}

const mb = Number(values.mb);
const size = mb * MiB;
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-upload-'));
const script = new URL(import.meta.url).pathname;
let s3rver;

/** A fast, incompressible file: one random MiB repeated, each copy stamped with its index. */
async function writeArtifact(file) {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  async function* blocks() {
    for (let i = 0; i < mb; i++) {
      const chunk = Buffer.from(block);
      chunk.writeUInt32LE(i, 0);
      hash.update(chunk);
      yield chunk;
    }
  }
  await pipeline(Readable.from(blocks()), createWriteStream(file));
  return hash.digest('hex');
}

/** s3rver in its own process on a free port; resolves with its endpoint once it listens. */
async function startS3rver(dir) {
  const bin = path.join(path.dirname(new URL(import.meta.resolve('s3rver/package.json')).pathname), 'bin', 's3rver.js');
  // --openssl-legacy-provider: s3rver's continuation tokens use DES (see DESIGN.md, Testing).
  s3rver = spawn(process.execPath, ['--openssl-legacy-provider', bin, '--directory', dir, '--address', '127.0.0.1', '--port', '0', '--configure-bucket', 'bench', '--silent'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  const port = await new Promise((resolve, reject) => {
    s3rver.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /listening on [^\s:]+:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    s3rver.once('exit', (code) => reject(new Error(`s3rver exited (${code}): ${output}`)));
  });
  s3rver.stdout.resume();
  return `http://127.0.0.1:${port}`;
}

/** Runs the uploading child, sampling its VmRSS every 50 ms. */
function upload(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    let peak = 0;
    const timer = setInterval(() => {
      try {
        // An exiting process's status has no VmRSS line any more: skip that sample.
        const rss = kb(status(child.pid), 'VmRSS');
        if (rss > 0) peak = Math.max(peak, rss / 1024);
      } catch {
        // the process has exited between two samples: nothing to read
      }
    }, 50);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`uploader exited with ${code}`));
      resolve({ ...JSON.parse(out), sampledPeakMiB: peak });
    });
  });
}

const stopS3rver = () => {
  if (s3rver && s3rver.exitCode === null && s3rver.signalCode === null) s3rver.kill('SIGTERM');
};
process.once('SIGINT', () => {
  stopS3rver();
  rmSync(work, { recursive: true, force: true });
  process.exit(130);
});

try {
  const file = path.join(work, 'artifact.whl');
  let started = process.hrtime.bigint();
  const sha256 = await writeArtifact(file);
  console.log(`artifact: ${mb} MiB written in ${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(2)} s`);

  const endpoint = await startS3rver(path.join(work, 's3rver'));
  const targets = [
    { name: 's3rver', args: ['--url', 's3://bench/nightlies/', '--endpoint', endpoint] },
    { name: 'file', args: ['--url', `file://${path.join(work, 'published')}/`] },
  ];
  // s3rver's own default account; the SDK's Node 20 deprecation notice is noise here.
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  const summaries = [];
  let ok = true;
  for (const target of targets) {
    const r = await upload([...target.args, '--file', file, '--sha256', sha256], env);
    const intact = r.head?.size === size && r.head?.sha256 === sha256;
    ok &&= intact;
    const peak = Math.max(r.hwmMiB, r.sampledPeakMiB);
    const rate = mb / r.seconds;
    console.log(
      `${target.name.padEnd(6)}: ${mb} MiB in ${r.seconds.toFixed(2)} s (${rate.toFixed(0)} MiB/s); uploader RSS ${r.rssBeforeMiB.toFixed(0)} MiB before, peak ${r.sampledPeakMiB.toFixed(0)} MiB sampled / ${r.hwmMiB.toFixed(0)} MiB VmHWM; ${intact ? 'size and sha256 check out' : `MISMATCH: ${JSON.stringify(r.head)}`}`,
    );
    summaries.push(`summary: ${mb} MiB to ${target.name} in ${r.seconds.toFixed(1)} s (${rate.toFixed(0)} MiB/s), peak RSS ${peak.toFixed(0)} MiB`);
  }
  for (const line of summaries) console.log(line);
  process.exitCode = ok ? 0 : 1;
} finally {
  stopS3rver();
  rmSync(work, { recursive: true, force: true });
}
