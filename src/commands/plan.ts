/** `nightshift plan`: which machine builds which cell, in what order — before anything runs. */
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
  const planned = planNight(config.cells, schedule.machines, planOptions(estimates)).machines.filter((m) => machines.includes(m.machine.name));
  const shown = planned.map((m) => ({ ...m, builds: filterIds(m.builds, options) }));
  const count = shown.reduce((sum, m) => sum + m.builds.length, 0);
  if (count === 0) {
    const what = options.only?.length || options.skip?.length ? 'no build matches the --only/--skip selectors' : 'no builds are planned';
    throw new NightshiftError(`${what} on ${machines.join(', ')}; see every build id with nightshift plan --all-machines`, ExitCode.nothingSelected);
  }
  if (options.json) io.out(JSON.stringify(planJson(schedule, date, shown, estimates), null, 2));
  else io.out(planTable(schedule, date, shown, count, estimates));
  return ExitCode.ok;
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
