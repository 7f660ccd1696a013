/**
 * `nightshift plan`: which machine builds which cell, in what order — before anything runs. With the
 * shared queue (`queue:`) there is no split to show: the queue's order, who may build each cell, and the
 * expected length of the night.
 */
import type { Cell, Schedule } from '../config/model.js';
import { loadSchedule, machineName, requireMachine, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { cellVars } from '../matrix/expand.js';
import { filterIds } from '../matrix/select.js';
import { render } from '../matrix/template.js';
import { loadEstimates, planOptions, type NightEstimates } from '../runner/estimates.js';
import { resolveNightDate } from '../night/night-date.js';
import { planNight, type MachinePlan, type PlannedBuild } from '../plan/plan.js';
import { planQueueNight, type QueuedBuild } from '../plan/queue-plan.js';
import { redactedRedisUrl, resolveRedisUrl } from '../config/queue-url.js';
import { formatDuration } from '../units.js';
import { table } from '../output/table.js';

export interface PlanCommandOptions extends GlobalOptions {
  allMachines?: boolean;
  only?: string[];
  skip?: string[];
  json?: boolean;
}

export async function plan(options: PlanCommandOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const machines = chooseMachines(schedule, options, io);
  // The same estimates as the night itself: shared history for the split, local too for the order.
  const estimates = await loadEstimates(schedule, date, { warn: (line) => io.err(`nightshift: ${line}`) });
  if (schedule.queue) return queuePlan(config.cells, schedule, date, machines, estimates, options, io);
  const planned = planNight(config.cells, schedule.machines, planOptions(estimates)).machines.filter((m) => machines.includes(m.machine.name));
  const shown = planned.map((m) => ({ ...m, builds: filterIds(m.builds, options) }));
  const count = shown.reduce((sum, m) => sum + m.builds.length, 0);
  if (count === 0) throw nothingPlanned(machines, options);
  if (options.json) io.out(JSON.stringify(planJson(schedule, date, shown, estimates), null, 2));
  else io.out(planTable(schedule, date, shown, count, estimates));
  return ExitCode.ok;
}

function nothingPlanned(machines: readonly string[], options: PlanCommandOptions): NightshiftError {
  const what = options.only?.length || options.skip?.length ? 'no build matches the --only/--skip selectors' : 'no builds are planned';
  return new NightshiftError(`${what} on ${machines.join(', ')}; see every build id with nightshift plan --all-machines`, ExitCode.nothingSelected);
}

/** The night from the shared queue: every cell the shown machines may build, in the queue's order (longest expected first). */
function queuePlan(cells: readonly Cell[], schedule: Schedule, date: string, machines: string[], estimates: NightEstimates, options: PlanCommandOptions, io: Io): number {
  // The queue's order comes from the estimate every machine agrees on: the one of the split.
  const night = planQueueNight(cells, schedule.machines, (cell) => estimates.split(cell).estimateS);
  const shown = filterIds(
    night.builds.filter((b) => b.machines.some((name) => machines.includes(name)) || (options.allMachines && b.machines.length === 0)),
    options,
  );
  if (shown.length === 0) throw nothingPlanned(machines, options);
  const nobody = night.builds.filter((b) => b.machines.length === 0);
  if (nobody.length) {
    io.err(
      `nightshift: warning: no machine may build ${nobody.map((b) => b.id).join(', ')}: no machine's selector takes it, or it needs more than the budget of every machine that may; ` +
        `give it a machine in ${schedule.file}`,
    );
  }
  const url = redactedRedisUrl(resolveRedisUrl(schedule)!.url);
  const everyMachine = schedule.machines.map((m) => m.name);
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          schedule: schedule.name,
          date,
          timezone: schedule.timezone,
          split: 'dynamic',
          queue: { url },
          shared_history: estimates.sharedFrom ?? null,
          total_work_s: night.totalWorkS,
          slots: night.slots,
          expected_s: night.expectedS,
          machines: schedule.machines.filter((m) => machines.includes(m.name)).map((m) => ({ name: m.name, slots: m.slots })),
          builds: shown.map((b) => ({
            id: b.id,
            package: b.cell.package.name,
            ...axisValues(b.cell),
            order: b.order,
            machines: b.machines,
            executor: b.cell.package.executor,
            image: queuedImage(b, date),
            estimate_s: b.estimateS,
            estimate_from: estimates.split(b.cell).from,
            timeout_s: b.cell.package.timeoutS,
          })),
        },
        null,
        2,
      ),
    );
    return ExitCode.ok;
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [
    `${schedule.name} · night ${date} (${schedule.timezone}) · ${plural(shown.length, 'build')} · the split is dynamic`,
    `the machines pull their builds from the shared queue at ${url}, longest expected first: each free slot takes the longest waiting build its machine may build`,
    `expected night ${formatDuration(night.expectedS)}: total work ${formatDuration(night.totalWorkS)} over ${plural(everyMachine.length, 'machine')} (${plural(night.slots, 'slot')})`,
  ];
  if (estimates.sharedFrom?.length) lines.push(`estimates: build history of ${estimates.sharedFrom.join(', ')} (shared), else the matrix`);
  const who = (b: QueuedBuild) => (b.machines.length === 0 ? '(none)' : b.machines.length === everyMachine.length ? 'any' : b.machines.join(', '));
  const rows = shown.map((b) => [String(b.order), b.id, queuedImage(b, date) ?? '(host)', formatDuration(b.estimateS), estimates.split(b.cell).from, who(b)]);
  lines.push('', ...table([['#', 'build', 'image', 'estimate', 'from', 'machines'], ...rows], { alignRight: [3] }));
  io.out(lines.join('\n'));
  return ExitCode.ok;
}

/** A queued build's image: which machine builds it is not known, so a template's {machine} stays as written. */
function queuedImage(build: QueuedBuild, date: string): string | null {
  const template = build.cell.package.image;
  if (template === null) return null;
  const rendered = render(template, cellVars(build.cell, { date, machine: '{machine}' }));
  return rendered.ok ? rendered.value : template;
}

/** --all-machines, --machine, or this host; a host that is not in the schedule sees every machine. */
function chooseMachines(schedule: Schedule, options: PlanCommandOptions, io: Io): string[] {
  const all = schedule.machines.map((m) => m.name);
  if (options.allMachines) return all;
  if (options.machine) return [requireMachine(schedule, options)];
  const here = machineName(options);
  if (all.includes(here)) return [here];
  io.err(`this host (${here}) is not in ${schedule.file}; showing every machine (choose one with --machine NAME)`);
  return all;
}

function image(build: PlannedBuild, date: string): string | null {
  const template = build.cell.package.image;
  if (template === null) return null;
  const rendered = render(template, cellVars(build.cell, { date, machine: build.machine }));
  return rendered.ok ? rendered.value : template;
}

function axisValues(cell: Cell): Record<string, string> {
  return Object.fromEntries(Object.entries(cell.values).map(([axis, v]) => [axis, v.value]));
}

function planJson(schedule: Schedule, date: string, machines: MachinePlan[], estimates: NightEstimates) {
  return {
    schedule: schedule.name,
    date,
    timezone: schedule.timezone,
    shared_history: estimates.sharedFrom ?? null,
    machines: machines.map((m) => ({
      name: m.machine.name,
      slots: m.machine.slots,
      order: m.builds.map((b) => b.id),
      estimate_s: m.totalEstimateS,
      expected_finish_s: m.expectedFinishS,
    })),
    builds: machines.flatMap((m) =>
      m.builds.map((b) => ({
        id: b.id,
        package: b.cell.package.name,
        ...axisValues(b.cell),
        machine: b.machine,
        order: b.order,
        executor: b.cell.package.executor,
        image: image(b, date),
        estimate_s: b.estimateS,
        estimate_from: estimates.order(b.cell).from,
        timeout_s: b.cell.package.timeoutS,
      })),
    ),
  };
}

function planTable(schedule: Schedule, date: string, machines: MachinePlan[], count: number, estimates: NightEstimates): string {
  const lines = [
    `${schedule.name} · night ${date} (${schedule.timezone}) · ${count} build${count === 1 ? '' : 's'} on ${machines.length} machine${machines.length === 1 ? '' : 's'}`,
  ];
  if (estimates.sharedFrom?.length) lines.push(`estimates: build history of ${estimates.sharedFrom.join(', ')} (shared), else the matrix`);
  for (const m of machines) {
    lines.push('', `${m.machine.name} · ${m.machine.slots} slot${m.machine.slots === 1 ? '' : 's'} · ${m.builds.length} builds · expected ${formatDuration(m.expectedFinishS)}`);
    const rows = m.builds.map((b) => [String(b.order), b.id, image(b, date) ?? '(host)', formatDuration(b.estimateS), estimates.order(b.cell).from]);
    lines.push(...table([['#', 'build', 'image', 'estimate', 'from'], ...rows], { alignRight: [3] }).map((line) => `  ${line}`));
  }
  return lines.join('\n');
}
