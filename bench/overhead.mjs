// What nightshift adds around the containers themselves: 40 no-op builds (`true` in the test image, no
// network) at 2 slots through `nightshift run`, against the same 40 containers started by
// `seq 40 | xargs -P 2 docker run --rm --network none IMAGE true`. Each round runs both sides, back to
// back, the first one alternating between rounds (so neither always gets the warmer or quieter turn);
// the round's ratio compares the two, and the median of the rounds' ratios counts: on a shared machine
// the load drifts over minutes, which a ratio of two medians taken far apart would mix in.
//   node bench/overhead.mjs [--builds 40] [--slots 2] [--rounds 3]
// Prints the figures and, last, one summary line; exits 1 when the ratio misses the target (bench/all.mjs
// marks it and still runs the others).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { builds: { type: 'string', default: '40' }, slots: { type: 'string', default: '2' }, rounds: { type: 'string', default: '3' } } });
const builds = Number(values.builds);
const slots = Number(values.slots);
const rounds = Number(values.rounds);
const IMAGE = 'nightshift-test/busybox:latest';
const TARGET = 1.15;
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));
const label = `nightshift-bench-overhead-${process.pid}`;

const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd: path.join(work, 'src') });
mkdirSync(path.join(work, 'src'));
writeFileSync(path.join(work, 'src', 'README'), 'no-op builds\n');
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-qm', 'bench recipe');
execFileSync('git', ['clone', '-q', '--bare', path.join(work, 'src'), path.join(work, 'recipes.git')]);

const ns = Array.from({ length: builds }, (_, i) => `"${String(i + 1).padStart(2, '0')}"`).join(', ');
mkdirSync(path.join(work, 'config', 'schedules'), { recursive: true });
writeFileSync(
  path.join(work, 'config', 'matrix.yaml'),
  `recipes: { repo: "${path.join(work, 'recipes.git')}" }
axes:
  n: [${ns}]
packages:
  noop:
    image: ${IMAGE}
    network: none
    command: ["true"]
    artifacts: optional
    timeout: 5m
`,
);
writeFileSync(path.join(work, 'config', 'schedules', 'bench.yaml'), `cron: "0 1 * * *"\nroot: "${path.join(work, 'nights')}"\nmachines:\n  bench: { slots: ${slots} }\n`);

/** Seconds the command took; throws when it fails. */
function timed(file, args, options = {}) {
  const started = process.hrtime.bigint();
  const result = spawnSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...options });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.status}: ${result.stdout}${result.stderr}`);
  return seconds;
}

let night = 0;
function nightshift() {
  // A fresh night each time (a new date), so every round runs all the builds.
  night += 1;
  const date = `2030_01_${String(night).padStart(2, '0')}`;
  return timed(process.execPath, [cli, 'run', '--config', path.join(work, 'config'), '--machine', 'bench', '--date', date]);
}
function xargs() {
  return timed('sh', ['-c', `seq ${builds} | xargs -P ${slots} -I{} docker run --rm --network none --label ${label} ${IMAGE} true`]);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  // One of each first, unmeasured: image and page caches warm for both sides alike.
  xargs();
  nightshift();
  const ours = [];
  const theirs = [];
  const ratios = [];
  for (let round = 0; round < rounds; round++) {
    let x, n;
    if (round % 2 === 0) {
      x = xargs();
      n = nightshift();
    } else {
      n = nightshift();
      x = xargs();
    }
    theirs.push(x);
    ours.push(n);
    ratios.push(n / x);
    console.log(
      `round ${round + 1} (${round % 2 === 0 ? 'xargs first' : 'nightshift first'}): xargs ${x.toFixed(2)} s, nightshift run ${n.toFixed(2)} s, ratio ${(n / x).toFixed(2)}`,
    );
  }
  const a = median(ours);
  const b = median(theirs);
  const ratio = median(ratios);
  console.log(
    `${builds} no-op containers at ${slots} at once: xargs -P ${slots} docker run median ${b.toFixed(2)} s (${((b / builds) * slots * 1000).toFixed(0)} ms a container per slot); nightshift run median ${a.toFixed(2)} s (${(((a - b) / builds) * 1000).toFixed(0)} ms more a build); ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}`,
  );
  console.log(
    `summary: ${builds} no-op docker builds at ${slots} slots: nightshift ${a.toFixed(2)} s vs xargs docker run ${b.toFixed(2)} s (median of ${rounds} rounds, and of their ratios), ratio ${ratio.toFixed(2)} (target <= ${TARGET}) ${ratio <= TARGET ? 'ok' : 'OVER'}`,
  );
  process.exitCode = ratio <= TARGET ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
  // Leftovers of an interrupted round: only this bench's containers (by label) and nightshift's of this bench machine.
  const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=${label}`], { encoding: 'utf8' }).stdout.trim();
  if (left) spawnSync('docker', ['rm', '-f', ...left.split('\n')], { stdio: 'ignore' });
}
