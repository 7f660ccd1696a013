// The shared queue at fleet scale, against a real Redis: 100 machines (each its own queue connection, as
// separate hosts would have) with a few slots each share a night of 2,000 cells of near-zero work.
//   node bench/queue-scale.mjs [--machines 100] [--slots 3] [--cells 2000] [--work-ms 1] [--lease 120] [--eligible 1]
// Each slot loops take -> work (--work-ms, ±50 %) -> finish. Dispatch latency is the time from a slot becoming
// free (its build's work ended) to its next build taken: the finish and the take, both round trips to
// Redis. A slot's first take (every slot at once when the night opens) is shown apart. Redis commands per
// build come from INFO commandstats around the night (commands inside BullMQ's scripts included).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { openNightQueue } from '../dist/queue/night-queue.js';
import { commandCalls, startRedis } from './redis.mjs';

const { values } = parseArgs({
  options: {
    machines: { type: 'string', default: '100' },
    slots: { type: 'string', default: '3' },
    cells: { type: 'string', default: '2000' },
    'work-ms': { type: 'string', default: '1' },
    lease: { type: 'string', default: '120' },
    eligible: { type: 'string', default: '1' },
  },
});
const MACHINES = Number(values.machines);
const SLOTS = Number(values.slots);
const CELLS = Number(values.cells);
const WORK_MS = Number(values['work-ms']);
const LEASE_MS = Number(values.lease) * 1000;
// The share of the night each machine may run (as selectors bind cells to machines): below 1, `take` passes over the rest.
const ELIGIBLE = Number(values.eligible);
const TARGET_P99_MS = 100;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The value at fraction `q` of the sorted `xs`. */
function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

function describe(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  return { n: sorted.length, p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? NaN };
}

const redis = await startRedis();
const admin = new Redis(redis.url);
try {
  const options = { url: redis.url, schedule: 'bench', date: '2026-11-30', leaseMs: LEASE_MS };
  const queues = await Promise.all(Array.from({ length: MACHINES }, (_, i) => openNightQueue({ ...options, machine: `m${i}` })));
  const cells = Array.from({ length: CELLS }, (_, i) => ({ id: `cell_${String(i).padStart(5, '0')}`, estimateS: 60 + ((i * 7919) % 3600), needs: {} }));
  // Every runner adds the night; the first add wins, the others are no-ops, but not free: timed here for
  // two machines rather than a hundred (100 no-op adds of 2,000 cells keep Redis busy for about a minute).
  let mark = performance.now();
  await queues[0].addNight(cells);
  const firstAddS = (performance.now() - mark) / 1000;
  mark = performance.now();
  await queues[1 % MACHINES].addNight(cells);
  const againAddS = (performance.now() - mark) / 1000;
  const clients = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))[1]) - 1;

  const before = await commandCalls(admin);
  const redisCpuBefore = await redisCpuS(admin);
  const cpuBefore = process.cpuUsage();
  // This one process plays every machine: its event loop's delay is latency a real fleet spreads over 100 hosts.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  loopDelay.enable();
  const firstTakes = [];
  const dispatches = [];
  const finishes = [];
  const takes = [];
  let built = 0;
  const started = performance.now();

  /** Whether machine `m` may run the cell: all of them, or its own (cell number modulo machines) and a fixed pseudo-random share of the others. */
  const mayRun = (m, id) => {
    const n = Number(id.slice(5));
    return ELIGIBLE >= 1 || n % MACHINES === m || ((n * 2654435761 + m * 40503) >>> 0) / 2 ** 32 < ELIGIBLE;
  };
  const passes = [];

  /** One slot: take, work, finish, until the queue has nothing left for it. */
  async function slot(queue, m) {
    const machine = `m${m}`;
    let freeAt = started;
    let first = true;
    for (;;) {
      const takeStart = performance.now();
      let passed = 0;
      const job = await queue.take((id) => mayRun(m, id) || (passed++, false));
      const takenAt = performance.now();
      // An empty take: nothing this machine may run is waiting (the rest runs, or waits for other machines).
      if (job === undefined) {
        if (ELIGIBLE >= 1 || (await queue.progress()).allEnded) return;
        await sleep(100);
        freeAt = performance.now();
        continue;
      }
      passes.push(passed);
      (first ? firstTakes : dispatches).push(takenAt - freeAt);
      if (!first) takes.push(takenAt - takeStart);
      first = false;
      // Uniform in [0.5, 1.5] x --work-ms: slots of a real fleet do not all come free at once.
      if (WORK_MS > 0) await sleep(WORK_MS * (0.5 + Math.random()));
      const workEnded = performance.now();
      // As the runner does (src/runner/queued-builds.ts): the end goes to the queue while the slot already takes its next build.
      ending.push(
        queue.finish(job, { status: 'succeeded', machine, finished_at: new Date().toISOString() }).then(() => {
          finishes.push(performance.now() - workEnded);
          built++;
        }),
      );
      freeAt = workEnded;
    }
  }
  const ending = [];
  await Promise.all(queues.flatMap((queue, i) => Array.from({ length: SLOTS }, () => slot(queue, i))));
  await Promise.all(ending);
  const wallS = (performance.now() - started) / 1000;
  loopDelay.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const benchCpuS = (cpu.user + cpu.system) / 1e6;
  const redisCpu = (await redisCpuS(admin)) - redisCpuBefore;
  const after = await commandCalls(admin);
  const progress = await queues[0].progress();
  await Promise.all(queues.map((queue) => queue.close()));

  const delta = Object.entries(after)
    .map(([name, calls]) => [name, calls - (before[name] ?? 0)])
    .filter(([name, calls]) => calls > 0 && name !== 'info')
    .sort((a, b) => b[1] - a[1]);
  const total = delta.reduce((sum, [, calls]) => sum + calls, 0);
  const dispatch = describe(dispatches);
  const first = describe(firstTakes);
  const take = describe(takes);
  const finish = describe(finishes);
  const ms = (x) => `${x.toFixed(1)} ms`.padStart(9);

  console.log(
    `${MACHINES} machines x ${SLOTS} slots, ${CELLS} cells of ${WORK_MS} ms work, lease ${LEASE_MS / 1000} s, ${clients} Redis connections${ELIGIBLE < 1 ? `; each machine may run ${Math.round(ELIGIBLE * 100)} % of the cells: a take passed over ${describe(passes).p50} jobs (p50), ${describe(passes).p99} (p99)` : ''}`,
  );
  console.log(`adding the night: first machine ${firstAddS.toFixed(2)} s, a second machine's no-op add ${againAddS.toFixed(2)} s`);
  console.log(
    `built ${built} (queue: ${progress.completed} completed, ${progress.failed} failed, ${progress.waiting + progress.active} left) in ${wallS.toFixed(2)} s: ${(built / wallS).toFixed(0)} builds/s`,
  );
  console.log(
    `CPU during the night: redis-server ${redisCpu.toFixed(2)} s (${((100 * redisCpu) / wallS).toFixed(0)} % of a core), the machines' process ${benchCpuS.toFixed(2)} s (${((100 * benchCpuS) / wallS).toFixed(0)} %); its event loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms`,
  );
  console.log('\n                              n        p50        p99        max');
  for (const [name, d] of [
    ['dispatch (slot free -> taken)', dispatch],
    ['  of which take', take],
    ['  of which finish', finish],
    ['first take of a slot', first],
  ]) {
    console.log(`${name.padEnd(24)} ${String(d.n).padStart(7)}  ${ms(d.p50)}  ${ms(d.p99)}  ${ms(d.max)}`);
  }
  console.log(`\nRedis commands per build: ${(total / CELLS).toFixed(1)} (${total} during the night, scripts' inner commands included)`);
  for (const [name, calls] of delta.slice(0, 12)) console.log(`  ${name.padEnd(16)} ${(calls / CELLS).toFixed(2).padStart(8)} per build`);

  const onTarget = dispatch.p99 < TARGET_P99_MS && progress.completed === CELLS;
  console.log(
    `\nsummary: ${MACHINES} machines x ${SLOTS} slots, ${CELLS} builds in ${wallS.toFixed(1)} s; dispatch p50 ${dispatch.p50.toFixed(1)} ms, p99 ${dispatch.p99.toFixed(1)} ms (target < ${TARGET_P99_MS}), max ${dispatch.max.toFixed(0)} ms; ${(total / CELLS).toFixed(1)} Redis commands per build${progress.completed === CELLS ? '' : `; ONLY ${progress.completed} of ${CELLS} completed`}`,
  );
  process.exitCode = onTarget ? 0 : 1;
} finally {
  admin.disconnect();
  await redis.stop();
}

/** CPU seconds redis-server has used (user + system), from INFO cpu. */
async function redisCpuS(client) {
  const text = await client.info('cpu');
  return Number(/used_cpu_user:([\d.]+)/.exec(text)[1]) + Number(/used_cpu_sys:([\d.]+)/.exec(text)[1]);
}
