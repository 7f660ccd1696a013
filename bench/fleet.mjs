// A fleet on one host, with real processes: three (and four) `nightshift run` machines, each with its own
// root, one file:// destination, host builds that sleep for durations the configuration does not know.
// Each night runs twice on the same durations: the static split (every machine computes the same plan)
// and the shared queue (`queue:` on a real Redis, a fresh queue per night); makespan against the bound.
//   node bench/fleet.mjs [--nights 2] [--scale 0.1] [--machines 3,4] [--modes static,queue]
// The matrix is bench/schedule.mjs's wide one (45 cells: CPU wheels ~15 min, CUDA wheels ~70 min, libtorch
// 2.5x), its minutes scaled to --scale seconds. The matrix declares those expected durations as its
// estimates; each build actually sleeps ±30 % around them (a seeded draw per night, the same for both
// modes), read by the recipe from a file the configuration only names. Makespan runs from the night's
// first build start to its last build end across the machines (their night.json); the lower bound is
// max(real work / slots, longest build). Per-build overhead (process start, logs, night.json) counts
// against both modes alike and is not in the bound; the "no overhead" column is the same night's order
// simulated on zero-cost slots (as bench/schedule.mjs does), to tell the scheduling from the overhead.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { planNight } from '../dist/plan/plan.js';
import { startRedis } from './redis.mjs';

const { values } = parseArgs({
  options: {
    nights: { type: 'string', default: '2' },
    scale: { type: 'string', default: '0.1' },
    machines: { type: 'string', default: '3,4' },
    modes: { type: 'string', default: 'static,queue' },
    slots: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
  },
});
const NIGHTS = Number(values.nights);
const SCALE = Number(values.scale);
const MACHINE_COUNTS = values.machines.split(',').map(Number);
const MODES = values.modes.split(',');
const SLOTS = Number(values.slots);
const TARGET = 1.1;
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-fleet-'));

/** A deterministic generator, so every run draws the same durations. */
function random(seed) {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const PYTHONS = ['3.9', '3.10', '3.11', '3.12', '3.13', '3.13t', '3.14'];
const CUDAS = ['cu118', 'cu126', 'cu128', 'cu130'];
// Expected minutes per package; the cells are bench/schedule.mjs's wide matrix.
const PACKAGES = { 'manywheel-cpu': 15, manywheel: 70, 'libtorch-cpu': 37.5, libtorch: 175 };
const CELLS = [
  ...PYTHONS.map((python) => ({ id: `manywheel-cpu_${python}_cpu`, minutes: PACKAGES['manywheel-cpu'] })),
  ...PYTHONS.flatMap((python) => CUDAS.map((cuda) => ({ id: `manywheel_${python}_${cuda}`, minutes: PACKAGES.manywheel }))),
  ...['cxx11-abi', 'pre-cxx11'].map((abi) => ({ id: `libtorch-cpu_cpu_${abi}`, minutes: PACKAGES['libtorch-cpu'] })),
  ...CUDAS.flatMap((cuda) => ['cxx11-abi', 'pre-cxx11'].map((abi) => ({ id: `libtorch_${cuda}_${abi}`, minutes: PACKAGES.libtorch }))),
];

const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd });
const source = path.join(work, 'recipes-src');
mkdirSync(source);
// The build sleeps for its own line of the night's durations file: nothing the plan or the queue can see.
writeFileSync(
  path.join(source, 'build.sh'),
  `seconds=$(awk -v id="$NIGHTSHIFT_BUILD_ID" '$1 == id { print $2 }' "$BENCH_DURATIONS")
[ -n "$seconds" ] || { echo "no duration for $NIGHTSHIFT_BUILD_ID in $BENCH_DURATIONS" >&2; exit 3; }
exec sleep "$seconds"
`,
);
git(source, 'init', '-q', '-b', 'main');
git(source, 'add', '-A');
git(source, 'commit', '-qm', 'bench recipe');
execFileSync('git', ['clone', '-q', '--bare', source, path.join(work, 'recipes.git')]);

/** matrix.yaml: the wide matrix as four host packages whose estimates are the expected durations. */
function matrixYaml(durationsFile) {
  const host = (minutes, axes) => `    executor: host
    command: ["sh", "build.sh"]
    artifacts: optional
    estimate: ${Math.round(minutes * 60)}s
    axes: ${axes}
`;
  return `recipes: { repo: "${path.join(work, 'recipes.git')}", ref: main }
axes:
  python: [${PYTHONS.map((p) => `"${p}"`).join(', ')}]
  cuda: [cpu, ${CUDAS.join(', ')}]
packages:
  manywheel-cpu:
${host(PACKAGES['manywheel-cpu'], '{ cuda: [cpu] }')}  manywheel:
${host(PACKAGES.manywheel, `{ cuda: [${CUDAS.join(', ')}] }`)}  libtorch-cpu:
${host(PACKAGES['libtorch-cpu'], '{ python: [], cuda: [cpu], abi: [cxx11-abi, pre-cxx11] }')}  libtorch:
${host(PACKAGES.libtorch, `{ python: [], cuda: [${CUDAS.join(', ')}], abi: [cxx11-abi, pre-cxx11] }`)}env:
  BENCH_DURATIONS: "${durationsFile}"
`;
}

function scheduleYaml(run, machines, queueUrl) {
  return `cron: "0 1 * * *"
root: "${path.join(run, 'roots', 'default')}"
machines:
${machines.map((name) => `  ${name}: { slots: ${SLOTS} }`).join('\n')}
upload: { to: "file://${path.join(run, 'dest')}", key: "{id}/{file}" }
${queueUrl ? `queue: { url: "${queueUrl}", lease: 2m }\n` : ''}`;
}

/** Runs every machine's `nightshift run` at once; resolves with their exit codes once all have ended. */
function runMachines(config, run, machines, date) {
  return Promise.all(
    machines.map(
      (machine) =>
        new Promise((resolve) => {
          const args = [cli, 'run', '--config', config, '--machine', machine, '--root', path.join(run, 'roots', machine), '--date', date];
          const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
          child.on('close', (code, signal) => resolve({ machine, code: code ?? signal, stderr }));
        }),
    ),
  );
}

/** Wall time when `durations` (in start order) run on `slots` lanes, each build on the first free one. */
function listSchedule(durations, slots) {
  const lanes = new Array(slots).fill(0);
  for (const d of durations) lanes[lanes.indexOf(Math.min(...lanes))] += d;
  return Math.max(0, ...lanes);
}

/** The same night without any overhead, as bench/schedule.mjs simulates it: each mode's order on zero-cost slots. */
function simulated(mode, machines, durations) {
  const expected = new Map(CELLS.map((cell) => [cell.id, cell.minutes]));
  if (mode === 'queue') {
    const order = [...CELLS].sort((a, b) => b.minutes - a.minutes || (a.id < b.id ? -1 : 1));
    return listSchedule(
      order.map((cell) => durations.get(cell.id)),
      machines.length * SLOTS,
    );
  }
  const cells = CELLS.map((cell) => ({ id: cell.id, package: { name: cell.id.split('_')[0], estimateS: expected.get(cell.id) }, values: {} }));
  const plan = planNight(
    cells,
    machines.map((name) => ({ name, slots: SLOTS })),
    { estimate: (cell) => cell.package.estimateS },
  );
  return Math.max(
    ...plan.machines.map((m) =>
      listSchedule(
        m.builds.map((b) => durations.get(b.id)),
        SLOTS,
      ),
    ),
  );
}

let day = 0;
/** One night of one mode: a fresh config, roots and destination (no history carries over), the fleet run. */
async function night(mode, machines, durations, queueUrl) {
  day += 1;
  const date = new Date(Date.UTC(2030, 0, day)).toISOString().slice(0, 10).replaceAll('-', '_');
  const run = path.join(work, `${date}-${mode}`);
  const config = path.join(run, 'config');
  mkdirSync(path.join(config, 'schedules'), { recursive: true });
  const durationsFile = path.join(run, 'durations.txt');
  writeFileSync(durationsFile, [...durations].map(([id, seconds]) => `${id} ${seconds.toFixed(3)}\n`).join(''));
  writeFileSync(path.join(config, 'matrix.yaml'), matrixYaml(durationsFile));
  writeFileSync(path.join(config, 'schedules', 'bench.yaml'), scheduleYaml(run, machines, mode === 'queue' ? queueUrl : undefined));

  const exits = await runMachines(config, run, machines, date);
  for (const exit of exits) if (exit.code !== 0) console.log(`  ${mode}: ${exit.machine} exited ${exit.code}: ${exit.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const builds = machines.flatMap((machine) => {
    const state = JSON.parse(readFileSync(path.join(run, 'roots', machine, date, 'night.json'), 'utf8'));
    return state.builds.filter((build) => build.started_at).map((build) => ({ ...build, machine }));
  });
  const succeeded = new Map();
  for (const build of builds) if (build.status === 'succeeded') succeeded.set(build.id, (succeeded.get(build.id) ?? 0) + 1);
  const once = [...durations.keys()].filter((id) => succeeded.get(id) === 1).length;
  const first = Math.min(...builds.map((build) => Date.parse(build.started_at)));
  const last = Math.max(...builds.map((build) => Date.parse(build.finished_at ?? build.started_at)));
  return {
    makespan: (last - first) / 1000,
    ideal: simulated(mode, machines, durations),
    once,
    perMachine: machines.map((machine) => builds.filter((build) => build.machine === machine).length),
  };
}

const redis = MODES.includes('queue') ? await startRedis() : undefined;
const rows = [];
try {
  console.log(`${CELLS.length} cells, ${SLOTS} slots per machine, 1 simulated minute = ${SCALE} s, durations ±30 % around the matrix estimates`);
  console.log(`machines night  bound s  ${MODES.map((mode) => `${mode.padStart(9)} s  / bound  no overhead  cells ok`).join('  ')}`);
  for (const count of MACHINE_COUNTS) {
    const machines = Array.from({ length: count }, (_, i) => `m${i + 1}`);
    const ratios = Object.fromEntries(MODES.map((mode) => [mode, []]));
    const ideals = Object.fromEntries(MODES.map((mode) => [mode, []]));
    for (let n = 0; n < NIGHTS; n++) {
      const next = random(count * 7919 + n);
      const durations = new Map(CELLS.map((cell) => [cell.id, cell.minutes * SCALE * (0.7 + 0.6 * next())]));
      const work = [...durations.values()];
      const bound = Math.max(work.reduce((a, b) => a + b, 0) / (count * SLOTS), ...work);
      // The mode that goes first alternates, so neither always gets the quieter turn of a shared machine.
      const order = n % 2 === 0 ? MODES : [...MODES].reverse();
      const results = {};
      for (const mode of order) results[mode] = await night(mode, machines, durations, redis?.url);
      for (const mode of MODES) ratios[mode].push(results[mode].makespan / bound);
      for (const mode of MODES) ideals[mode].push(results[mode].ideal / bound);
      console.log(
        `${String(count).padStart(8)} ${String(n + 1).padStart(5)}  ${bound.toFixed(1).padStart(7)}  ${MODES.map((mode) => `${results[mode].makespan.toFixed(1).padStart(9)}    ${(results[mode].makespan / bound).toFixed(3)}  ${(results[mode].ideal / bound).toFixed(3).padStart(11)}  ${`${results[mode].once}/${CELLS.length}`.padStart(8)}`).join('  ')}   builds per machine ${MODES.map((mode) => `${mode} ${results[mode].perMachine.join('/')}`).join(', ')}`,
      );
      for (const mode of MODES) if (results[mode].once !== CELLS.length) ratios[mode].failed = true;
    }
    rows.push({ count, ratios, ideals });
  }
} finally {
  await redis?.stop();
  if (!values.keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const parts = rows.map(
  ({ count, ratios, ideals }) =>
    `${count} machines ${MODES.map((mode) => `${mode} ${mean(ratios[mode]).toFixed(3)} (${mean(ideals[mode]).toFixed(3)} without overhead)`).join(', ')}`,
);
const allOk = rows.every(({ ratios }) => MODES.every((mode) => !ratios[mode].failed));
let verdict = '';
if (MODES.includes('queue')) {
  const onTarget = rows.every(({ ratios }) => mean(ratios.queue) <= TARGET);
  const ahead = !MODES.includes('static') || rows.every(({ ratios }) => mean(ratios.queue) < mean(ratios.static));
  verdict = `; queue ${onTarget ? `<= ${TARGET} x bound on every row` : `OVER ${TARGET} x bound on some row`}, ${ahead ? 'ahead of' : 'NOT ahead of'} the static split on every row`;
  process.exitCode = onTarget && ahead && allOk ? 0 : 1;
} else process.exitCode = allOk ? 0 : 1;
console.log(`\nsummary: wide matrix, ${NIGHTS} nights per row, makespan / bound (mean): ${parts.join('; ')}${verdict}${allOk ? '' : '; SOME CELLS DID NOT SUCCEED EXACTLY ONCE'}`);
