/**
 * `nightshift run`: this machine's whole night, unattended. A second run of the same night resumes it.
 * `nightshift retry`: the same run, of only the builds of the night that ended without succeeding.
 */
import { defaultExecutors } from '../build/executors.js';
import { progress } from '../runner/progress.js';
import { loadSchedule, requireMachine, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { stopOnSignals } from '../runner/signals.js';
import { ExitCode, NightshiftError } from '../errors.js';
import type { Schedule } from '../config/model.js';
import { nightLayout } from '../night/layout.js';
import { resolveNightDate } from '../night/night-date.js';
import { loadEstimates, orderSeconds, type NightEstimates } from '../runner/estimates.js';
import { machineBuilds, runScheduledNight } from '../runner/scheduled-night.js';
import { planResume } from '../night/resume.js';
import { emptyNightState, readNightState } from '../night/state.js';
import { longestExpectedFirst } from '../plan/order.js';
import { table } from '../output/table.js';
import { filterIds } from '../matrix/select.js';
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
  const warn = (line: string) => io.err(`nightshift: ${line}`);
  const estimates = await loadEstimates(schedule, date, { warn });
  const mine = machineBuilds(config, schedule, machine, options, estimates);
  if (mine.builds.length === 0) {
    throw new NightshiftError(
      `nothing to build on ${machine}${options.only || options.skip ? ' with these --only/--skip selectors' : ''}; see nightshift plan --all-machines`,
      ExitCode.nothingSelected,
    );
  }
  if (options.dryRun) return dryRun(schedule, date, machine, mine, estimates, options, io);

  const reporter = progress(io, mine.builds.length);
  // The signal's message goes above the live lines, starting on its own line.
  const stop = stopOnSignals((signal) => reporter.warn(`nightshift: ${signal}: stopping; running builds are killed and marked canceled`));
  try {
    const { night } = await runScheduledNight(
      { config, schedule, date, machine, only: options.only, skip: options.skip, force: options.force, refreshRecipes: options.refreshRecipes, purpose: 'run', estimates },
      {
        executors: defaultExecutors(),
        signal: stop.signal,
        onEvent: (event) => reporter.onEvent(event),
        say: (line) => reporter.say(line),
        warn: (line) => reporter.warn(`nightshift: ${line}`),
      },
    );
    reporter.stop();
    return reportOutcome(night, io, stop.signal.aborted);
  } finally {
    reporter.stop();
    stop.dispose();
  }
}

/** Builds that ended without succeeding: what `retry` runs again (a build still pending or running is the run's). */
const RETRIED = new Set(['failed', 'timed_out', 'canceled', 'not_run']);

export async function retry(options: Omit<RunOptions, 'only' | 'force'>, io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const state = await readNightState(nightLayout(schedule.root, date).state);
  if (!state?.builds.length) {
    throw new NightshiftError(`night ${date} has no builds on this machine to retry (under ${schedule.root}); nightshift run starts it`, ExitCode.nothingSelected);
  }
  const ids = filterIds(
    state.builds.filter((b) => RETRIED.has(b.status) && !b.manual),
    { skip: options.skip },
  ).map((b) => b.id);
  if (ids.length === 0) {
    const left = state.builds.filter((b) => b.status === 'pending' || b.status === 'running').length;
    io.out(`nothing to retry in night ${date}: no build ended without succeeding${left ? ` (${left} not ended yet)` : ''}`);
    return ExitCode.ok;
  }
  io.out(`retrying ${ids.length} build(s) of night ${date}: ${ids.join(', ')}`);
  return run({ ...options, only: ids }, io);
}

/** What would run, in order, and what would be kept; writes nothing. */
async function dryRun(
  schedule: Schedule,
  date: string,
  machine: string,
  mine: ReturnType<typeof machineBuilds>,
  estimates: NightEstimates,
  options: RunOptions,
  io: Io,
): Promise<number> {
  const layout = nightLayout(schedule.root, date);
  const state = (await readNightState(layout.state)) ?? emptyNightState({ date, machine, schedule: schedule.name }, new Date());
  io.out(`dry run: night ${date} on ${machine}, ${mine.machine.slots} slot(s), folder ${layout.dir}`);
  if (schedule.queue) {
    io.out(
      `the builds come from the shared queue (queue: in ${schedule.file}): ${machine} takes whichever of these is next when a slot is free, as do the other machines that may build them`,
    );
  }
  const estimate = orderSeconds(estimates);
  const ordered = longestExpectedFirst(
    mine.builds.map((b) => b.cell),
    estimate,
  );
  // The rule the run itself applies (what is kept, what runs), without writing anything.
  const kept = new Set(planResume(state, ordered, { force: options.force ?? false, estimate }).kept);
  const action = (id: string) => (kept.has(id) ? 'keep (succeeded)' : 'build');
  const rows = ordered.map((cell, i) => [String(i + 1), cell.id, action(cell.id), formatDuration(estimate(cell))]);
  io.out(table([['#', 'build', 'action', 'expected'], ...rows], { alignRight: [3] }).join('\n'));
  return ExitCode.ok;
}
