// A build writing a big log to stdout through nightshift (docker executor) against the same container
// with its stdout redirected to a file by hand: `docker run --rm --log-driver none ... > file` (nightshift
// also runs containers with --log-driver none), and, for reference, Docker's default log driver. Samples
// the nightshift process's resident memory every 50 ms.
//   node bench/logs.mjs [--mb 1024] [--rounds 3]
// Each round runs nightshift and `--log-driver none > file` back to back, which one first alternating
// between rounds; the median of the rounds' ratios counts (the load of a shared machine drifts).
// Prints the figures and, last, one summary line; exits 1 when the ratio misses the target or the log
// came out short (bench/all.mjs marks it and still runs the others).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync, statSync, openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '1024' }, rounds: { type: 'string', default: '3' } } });
const mb = Number(values.mb);
const rounds = Number(values.rounds);
const IMAGE = 'nightshift-test/busybox:latest';
const TARGET = 1.1;
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));
const label = `nightshift-bench-logs-${process.pid}`;
const script = `yes "$(printf '%099d' 0)" | head -c $((${mb} * 1024 * 1024))`;

const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd: path.join(work, 'src') });
mkdirSync(path.join(work, 'src'));
writeFileSync(path.join(work, 'src', 'README'), 'a loud build\n');
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-qm', 'bench recipe');
execFileSync('git', ['clone', '-q', '--bare', path.join(work, 'src'), path.join(work, 'recipes.git')]);
mkdirSync(path.join(work, 'config', 'schedules'), { recursive: true });
writeFileSync(
  path.join(work, 'config', 'matrix.yaml'),
  `recipes: { repo: "${path.join(work, 'recipes.git')}" }
axes:
  python: ["3.12"]
packages:
  loud:
    image: ${IMAGE}
    network: none
    artifacts: optional
    command: ["sh", "-c", ${JSON.stringify(script)}]
    timeout: 30m
`,
);
writeFileSync(path.join(work, 'config', 'schedules', 'bench.yaml'), `cron: "0 1 * * *"\nroot: "${path.join(work, 'nights')}"\nmachines:\n  bench: { slots: 1 }\n`);
const common = ['--config', path.join(work, 'config'), '--machine', 'bench'];
const logOf = (date) => path.join(work, 'nights', date, 'logs', 'succeeded', 'loud_3.12.log');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs the command, sampling VmRSS of its process every 50 ms (when asked); seconds and peak MiB. */
function measure(file, args, { stdout = 'ignore', sample = false } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, args, { stdio: ['ignore', stdout, 'inherit'] });
    // With stdout 'pipe': when each output line arrived, in seconds from the start.
    const lines = [];
    let partial = '';
    child.stdout?.setEncoding('utf8').on('data', (text) => {
      const at = Number(process.hrtime.bigint() - started) / 1e9;
      const parts = (partial + text).split('\n');
      partial = parts.pop();
      for (const line of parts) lines.push({ at, line });
    });
    const samples = [];
    const timer = sample
      ? setInterval(() => {
          try {
            const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
            if (kb) samples.push(kb / 1024);
          } catch {
            // the process has exited between two samples: nothing to read
          }
        }, 50)
      : undefined;
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${file} ${args.join(' ')} exited ${code}`));
      else resolve({ seconds, lines, peak: samples.length ? Math.max(...samples) : NaN });
    });
  });
}

/** The container with its stdout into a file, by hand. */
async function byHand(extra) {
  const out = path.join(work, 'by-hand.log');
  const fd = openSync(out, 'w');
  try {
    const result = await measure('docker', ['run', '--rm', '--network', 'none', '--label', label, ...extra, IMAGE, 'sh', '-c', script], { stdout: fd });
    return { ...result, bytes: statSync(out).size };
  } finally {
    closeSync(fd);
    rmSync(out, { force: true });
  }
}

const mibps = (bytes, s) => `${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s`;

try {
  const json = await byHand([]);
  console.log(`docker run (default log driver) > file: ${(json.bytes / 2 ** 20).toFixed(0)} MiB in ${json.seconds.toFixed(2)} s (${mibps(json.bytes, json.seconds)})`);
  const nones = [];
  const runs = [];
  let bytes = 0;
  const ratios = [];
  for (let round = 1; round <= rounds; round++) {
    const byHandFirst = round % 2 === 1;
    const handRound = async () => {
      const none = await byHand(['--log-driver', 'none']);
      console.log(
        `round ${round}: docker run --log-driver none > file: ${(none.bytes / 2 ** 20).toFixed(0)} MiB in ${none.seconds.toFixed(2)} s (${mibps(none.bytes, none.seconds)})`,
      );
      return none;
    };
    const none = byHandFirst ? await handRound() : undefined;
    const date = `2030_01_${String(round).padStart(2, '0')}`;
    const run = await measure(process.execPath, [cli, 'run', ...common, '--date', date], { sample: true, stdout: 'pipe' });
    const at = (re) => run.lines.find((l) => re.test(l.line))?.at ?? NaN;
    const startedAt = at(/ start loud_/);
    const endedAt = at(/ succeeded loud_/);
    bytes = statSync(logOf(date)).size;
    runs.push({ ...run, before: startedAt, build: endedAt - startedAt, after: run.seconds - endedAt });
    console.log(
      `round ${round}: nightshift run: ${(bytes / 2 ** 20).toFixed(0)} MiB log in ${run.seconds.toFixed(2)} s for the whole night (${mibps(bytes, run.seconds)}), peak RSS ${run.peak.toFixed(0)} MiB; before the build (start-up, recipes clone) ${startedAt.toFixed(2)} s, the build ${(endedAt - startedAt).toFixed(2)} s, after it (upload of the log to the local destination, manifest) ${(run.seconds - endedAt).toFixed(2)} s`,
    );
    rmSync(path.join(work, 'nights', date), { recursive: true, force: true });
    rmSync(path.join(work, 'nights', 'published'), { recursive: true, force: true });
    const hand = none ?? (await handRound());
    nones.push(hand.seconds);
    ratios.push({ whole: run.seconds / hand.seconds, build: runs.at(-1).build / hand.seconds });
    console.log(
      `round ${round} (${byHandFirst ? 'by hand first' : 'nightshift first'}): ratio ${ratios.at(-1).whole.toFixed(2)}, the build alone ${ratios.at(-1).build.toFixed(2)}`,
    );
  }
  const none = median(nones);
  const whole = median(runs.map((r) => r.seconds));
  const build = median(runs.map((r) => r.build));
  const after = median(runs.map((r) => r.after));
  const peak = Math.max(...runs.map((r) => r.peak));
  const ratio = median(ratios.map((r) => r.whole));
  const buildRatio = median(ratios.map((r) => r.build));
  if (bytes < mb * 2 ** 20) console.log(`the log is short: ${bytes} bytes, expected ${mb * 2 ** 20}`);
  console.log(
    `summary: ${mb} MiB to stdout (median of ${rounds}, and of the rounds' ratios): nightshift run ${whole.toFixed(2)} s vs docker run --log-driver none > file ${none.toFixed(2)} s, ratio ${ratio.toFixed(2)} (target <= ${TARGET}) ${ratio <= TARGET ? 'ok' : 'OVER'}; the build alone ${build.toFixed(2)} s (ratio ${buildRatio.toFixed(2)}), upload after it ${after.toFixed(2)} s; default log driver ${json.seconds.toFixed(2)} s (${(json.seconds / none).toFixed(2)}x); nightshift peak RSS ${peak.toFixed(0)} MiB`,
  );
  process.exitCode = ratio <= TARGET && bytes >= mb * 2 ** 20 ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
  const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=${label}`], { encoding: 'utf8' }).trim();
  if (left) execFileSync('docker', ['rm', '-f', ...left.split('\n')], { stdio: 'ignore' });
}
