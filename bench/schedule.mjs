// How close nightshift's plan gets to the best possible night, against the old cron's static queues.
//   node bench/schedule.mjs [--trials 400]
// Simulated nights: CPU builds ~15 min, CUDA builds ~70 min, libtorch 2.5x longer, each actual duration
// ±30 % around its expected value. nightshift splits cells over machines and orders each machine longest
// expected first (expected = what history learns: the cell's mean duration); builds then start on the
// first free slot. The old builder cron had fixed serial queues per machine, written by hand. The lower
// bound is max(total work / total slots, longest build): no schedule can beat it.
import { parseArgs } from 'node:util';
import { planNight } from '../dist/plan/plan.js';

const { values } = parseArgs({ options: { trials: { type: 'string', default: '400' } } });
const TRIALS = Number(values.trials);

/** A deterministic generator, so every run prints the same figures. */
function random(seed) {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** The cells of a PyTorch-shaped matrix, with their expected durations in seconds. */
function matrix(pythons, cudas) {
  const cells = [];
  for (const python of pythons) for (const cuda of cudas) cells.push({ id: `manywheel_${python}_${cuda}`, expected: cuda === 'cpu' ? 15 * 60 : 70 * 60 });
  for (const cuda of cudas) for (const abi of ['cxx11-abi', 'pre-cxx11']) cells.push({ id: `libtorch_${cuda}_${abi}`, expected: 2.5 * (cuda === 'cpu' ? 15 * 60 : 70 * 60) });
  return cells;
}
const MATRICES = {
  'today (23 cells)': matrix(['3.10', '3.11', '3.12', '3.13'], ['cpu', 'cu126', 'cu128', 'cu130'])
    .filter((c) => !/cu1(28|30)_pre/.test(c.id))
    .concat([{ id: 'manywheel_3.13t_cu128', expected: 70 * 60 }]),
  'wide (45 cells)': matrix(['3.9', '3.10', '3.11', '3.12', '3.13', '3.13t', '3.14'], ['cpu', 'cu118', 'cu126', 'cu128', 'cu130']),
};

/** Wall time when `durations` (in start order) run on `slots` lanes, each build on the first free one. */
function listSchedule(durations, slots) {
  const lanes = new Array(slots).fill(0);
  for (const d of durations) {
    let lane = 0;
    for (let i = 1; i < lanes.length; i++) if (lanes[i] < lanes[lane]) lane = i;
    lanes[lane] += d;
  }
  return Math.max(0, ...lanes);
}

/** nightshift: the plan's split and order (from expected durations), then slots take the next build. */
function nightshiftMakespan(cells, actual, machines, slots) {
  const asCells = cells.map((c) => ({ id: c.id, package: { name: c.id.split('_')[0], estimateS: c.expected }, values: {} }));
  const plan = planNight(
    asCells,
    machines.map((name) => ({ name, slots })),
    { estimate: (cell) => cell.package.estimateS },
  );
  return Math.max(
    ...plan.machines.map((m) =>
      listSchedule(
        m.builds.map((b) => actual.get(b.id)),
        slots,
      ),
    ),
  );
}

/** The old cron: cells dealt in matrix order to machines, then to `slots` serial queues per machine. */
function staticQueuesMakespan(cells, actual, machineCount, slots) {
  const queues = Array.from({ length: machineCount * slots }, () => 0);
  cells.forEach((cell, i) => {
    const machine = i % machineCount;
    const queue = Math.floor(i / machineCount) % slots;
    queues[machine * slots + queue] += actual.get(cell.id);
  });
  return Math.max(...queues);
}

const summary = [];
for (const [name, cells] of Object.entries(MATRICES)) {
  console.log(`\n${name}, 4 slots per machine, ${TRIALS} simulated nights per row`);
  console.log('machines  nightshift mean / worst   static queues mean / worst   nights nightshift was better / worse');
  for (const machineCount of [1, 2, 3, 4, 6]) {
    const next = random(machineCount * 7919 + cells.length);
    const machines = Array.from({ length: machineCount }, (_, i) => `linux-${i}`);
    const ours = [];
    const theirs = [];
    let better = 0;
    let worse = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const actual = new Map(cells.map((c) => [c.id, c.expected * (0.7 + 0.6 * next())]));
      const work = [...actual.values()];
      const bound = Math.max(work.reduce((a, b) => a + b, 0) / (machineCount * 4), ...work);
      const a = nightshiftMakespan(cells, actual, machines, 4) / bound;
      const b = staticQueuesMakespan(cells, actual, machineCount, 4) / bound;
      ours.push(a);
      theirs.push(b);
      if (a < b - 1e-9) better += 1;
      if (a > b + 1e-9) worse += 1;
    }
    const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const row = { name, machineCount, oursMean: mean(ours), oursWorst: Math.max(...ours), theirsMean: mean(theirs), theirsWorst: Math.max(...theirs), better, worse };
    summary.push(row);
    console.log(
      `${String(machineCount).padStart(8)}  ${row.oursMean.toFixed(3).padStart(10)} / ${row.oursWorst.toFixed(3)}   ${row.theirsMean.toFixed(3).padStart(13)} / ${row.theirsWorst.toFixed(3)}   ${String(better).padStart(5)} / ${worse} of ${TRIALS}`,
    );
  }
}
const worstMean = Math.max(...summary.map((r) => r.oursMean));
const worst = Math.max(...summary.map((r) => r.oursWorst));
// Where both reach the bound (few cells, many machines) neither can do better: a tie, not a loss.
const neverWorseOnAverage = summary.every((r) => r.oursMean <= r.theirsMean + 1e-9);
const overallMean = summary.reduce((s, r) => s + r.oursMean, 0) / summary.length;
console.log(
  `\nsummary: makespan / lower bound — nightshift mean ${overallMean.toFixed(3)} (worst row ${worstMean.toFixed(3)}, worst night ${worst.toFixed(3)}); static queues mean ${(summary.reduce((s, r) => s + r.theirsMean, 0) / summary.length).toFixed(3)} (worst row ${Math.max(...summary.map((r) => r.theirsMean)).toFixed(3)}); nightshift ${neverWorseOnAverage ? 'better or equal' : 'WORSE'} on average at every machine count`,
);
