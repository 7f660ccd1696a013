// Streams a build that writes a large log through `nightshift run` and `nightshift log`, sampling the
// nightshift process's resident memory: it must stay flat however big the log is.
//   node bench/log-stream.mjs [--mb 200] [--docker]
// Prints the figures and, last, one summary line.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync, statSync, openSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' }, docker: { type: 'boolean', default: false } } });
const mb = Number(values.mb);
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));

const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd: path.join(work, 'src') });
mkdirSync(path.join(work, 'src'));
writeFileSync(
  path.join(work, 'src', 'loud.sh'),
  `# $LOG_MB MiB of output in 100-byte lines, then an artifact\nyes "$(printf '%099d' 0)" | head -c $((LOG_MB * 1024 * 1024))\necho done > "$NIGHTSHIFT_OUT/loud.whl"\n`,
);
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-qm', 'bench recipe');
execFileSync('git', ['clone', '-q', '--bare', path.join(work, 'src'), path.join(work, 'recipes.git')]);

const where = values.docker ? '    image: nightshift-test/busybox:latest\n    network: none\n' : '    executor: host\n';
mkdirSync(path.join(work, 'config', 'schedules'), { recursive: true });
const matrix = `recipes: { repo: "${path.join(work, 'recipes.git')}" }
axes:
  python: ["3.12"]
  size: [{ value: small, mb: ${Math.max(1, Math.round(mb / 10))} }, { value: big, mb: ${mb} }]
packages:
  loud:
${where}    command: ["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/loud.sh\\""]
    timeout: 30m
env: { LOG_MB: "{size.mb}" }
`;
writeFileSync(path.join(work, 'config', 'matrix.yaml'), matrix);
writeFileSync(path.join(work, 'config', 'schedules', 'bench.yaml'), `cron: "0 1 * * *"\nroot: "${path.join(work, 'nights')}"\nmachines:\n  bench: { slots: 1 }\n`);
const common = ['--config', path.join(work, 'config'), '--machine', 'bench', '--date', '2030_01_01'];
const logOf = (id) => path.join(work, 'nights', '2030_01_01', 'logs', 'succeeded', `${id}.log`);

/** Runs the command, sampling VmRSS of its process every 20 ms; returns seconds and RSS figures in MiB. */
function measure(args, stdout = 'ignore') {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', stdout, 'inherit'] });
    const samples = [];
    const timer = setInterval(() => {
      try {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
        if (kb) samples.push(kb / 1024);
      } catch {
        // the process has exited between two samples: nothing to read
      }
    }, 20);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const settled = samples.slice(Math.floor(samples.length * 0.2));
      resolve({ code, seconds, peak: Math.max(...samples), early: samples[Math.min(5, samples.length - 1)], settledMin: Math.min(...settled), samples: samples.length });
    });
  });
}

try {
  // The same night twice, a tenth of the log and then all of it: the runner's peak must not grow with it.
  const results = {};
  for (const size of ['small', 'big']) {
    const id = `loud_3.12_${size}`;
    const run = await measure(['run', '--only', id, ...common]);
    const bytes = statSync(logOf(id)).size;
    const reader = await measure(['log', id, ...common], openSync('/dev/null', 'w'));
    results[size] = { run, reader, bytes };
    console.log(
      `${size.padEnd(5)}: ${(bytes / 2 ** 20).toFixed(0).padStart(5)} MiB log in ${run.seconds.toFixed(2)} s (${(bytes / 2 ** 20 / run.seconds).toFixed(0)} MiB/s), runner peak RSS ${run.peak.toFixed(0)} MiB; nightshift log printed it in ${reader.seconds.toFixed(2)} s, peak RSS ${reader.peak.toFixed(0)} MiB`,
    );
  }
  const growth = results.big.run.peak - results.small.run.peak;
  const readerGrowth = results.big.reader.peak - results.small.reader.peak;
  const flat = growth < 15 && readerGrowth < 15;
  console.log(
    `summary: ${mb} MiB log via ${values.docker ? 'docker' : 'host'} executor; runner peak RSS ${results.big.run.peak.toFixed(0)} MiB (${growth >= 0 ? '+' : ''}${growth.toFixed(0)} MiB vs a ${Math.round(mb / 10)} MiB log), log reader ${results.big.reader.peak.toFixed(0)} MiB (${readerGrowth >= 0 ? '+' : ''}${readerGrowth.toFixed(0)} MiB); ${flat ? 'flat' : 'NOT flat'}`,
  );
  process.exitCode = results.big.run.code === 0 && flat ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
