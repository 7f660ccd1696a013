/** `nightshift run`: this machine's whole night, unattended. A second run of the same night resumes it. */
import { defaultExecutors } from '../build/executors.js';
import { progress } from '../build/progress.js';
import { loadSchedule, requireMachine, type GlobalOptions, type Io } from '../context.js';
import { stopOnSignals } from '../daemon/signals.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { filterIds } from '../matrix/select.js';
import { nightLayout } from '../night/layout.js';
import { resolveNightDate } from '../night/night-date.js';
import { nightOrder, runNight } from '../night/run-night.js';
import { readNightState } from '../night/state.js';
import { ensureFreeSpace } from '../night/disk-guard.js';
import { pruneNights } from '../night/prune.js';
import { table } from '../output/table.js';
import { planNight } from '../plan/plan.js';
import { formatDuration } from '../units.js';
import { reportOutcome } from './night-summary.js';

export interface RunOptions extends GlobalOptions {
  only?: string[];
  skip?: string[];
  force?: boolean;
  dryRun?: boolean;
  refreshRecipes?: boolean;
}

export async function run(options: RunOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const machine = requireMachine(schedule, options);
  const mine = planNight(config.cells, schedule.machines).machines.find((m) => m.machine.name === machine)!;
  const builds = filterIds(mine.builds, options);
  if (builds.length === 0) {
    throw new NightshiftError(`nothing to build on ${machine}${options.only || options.skip ? ' with these --only/--skip selectors' : ''}; see nightshift plan --all-machines`, ExitCode.nothingSelected);
  }

  if (options.dryRun) {
    const state = await readNightState(nightLayout(schedule.root, date).state);
    const done = new Set(state?.builds.filter((b) => b.status === 'succeeded').map((b) => b.id));
    const action = (id: string) => (done.has(id) && !options.force ? 'keep (succeeded)' : 'build');
    io.out(`dry run: night ${date} on ${machine}, ${mine.machine.slots} slot(s), folder ${nightLayout(schedule.root, date).dir}`);
    const { ordered, estimate } = await nightOrder(schedule.root, builds.map((b) => b.cell));
    const rows = ordered.map((cell, i) => [String(i + 1), cell.id, action(cell.id), formatDuration(estimate(cell))]);
    io.out(table([['#', 'build', 'action', 'expected'], ...rows], { alignRight: [3] }).join('\n'));
    return ExitCode.ok;
  }

  // Never start a night that would fail halfway for lack of disk: make room first, or refuse (exit 4).
  if (schedule.minFreeBytes !== undefined) {
    const room = await ensureFreeSpace({ root: schedule.root, today: date, minFreeBytes: schedule.minFreeBytes });
    if (room.freedNights.length) io.out(`made room under ${schedule.root}: removed night(s) ${room.freedNights.join(', ')}`);
    for (const error of room.errors) io.err(`nightshift: ${error}`);
  }

  const stop = stopOnSignals((signal) => io.err(`nightshift: ${signal}: stopping; running builds are killed and marked canceled`));
  const reporter = progress(io, builds.length);
  try {
    const outcome = await runNight(
      {
        matrix: config.matrix,
        allCells: config.cells,
        schedule,
        date,
        machine,
        cells: builds.map((b) => b.cell),
        slots: mine.machine.slots,
        force: options.force,
        refreshRecipes: options.refreshRecipes,
        purpose: 'run',
        upload: true,
      },
      { executors: defaultExecutors(), signal: stop.signal, onEvent: reporter.onEvent, say: (line) => io.out(line) },
    );
    reporter.stop();
    const exitCode = reportOutcome(outcome, io, stop.signal.aborted);
    if (!stop.signal.aborted) await pruneAfterNight(schedule.root, date, schedule.keepDays, machine, io);
    return exitCode;
  } finally {
    reporter.stop();
    stop.dispose();
  }
}

/** The end of a night: old nights and leftover containers go. Trouble here is reported, not fatal. */
async function pruneAfterNight(root: string, today: string, keepDays: number, machine: string, io: Io): Promise<void> {
  const result = await pruneNights({ root, today, keepDays, dryRun: false, machine });
  if (result.removed.length) io.out(`pruned night(s) older than ${keepDays} days: ${result.removed.join(', ')}`);
  if (result.containersRemoved.length) io.out(`removed leftover container(s): ${result.containersRemoved.join(', ')}`);
  for (const error of result.errors) io.err(`nightshift: prune: ${error}`);
}
