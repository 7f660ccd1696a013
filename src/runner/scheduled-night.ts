/**
 * A machine's whole scheduled night, as `run` and the daemon do it: make room on disk (or refuse),
 * run the builds (resuming what an earlier run left), upload, then prune old nights and trim caches.
 * Stages after the builds run even when some builds failed; a stop signal skips upload and prune
 * (`nightshift upload` and `prune` catch up).
 */
import type { Executors } from '../build/executor.js';
import type { RunnerEvent } from './run-builds.js';
import type { LoadedConfig } from '../config/load.js';
import type { Cell, Schedule } from '../config/model.js';
import { resolveRedisUrl } from '../config/queue-url.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { cellsFor } from '../plan/eligible.js';
import { longestExpectedFirst } from '../plan/order.js';
import type { NightCell } from '../queue/night-queue.js';
import { filterIds } from '../matrix/select.js';
import { planNight } from '../plan/plan.js';
import { ensureFreeSpace } from './disk-guard.js';
import { configEstimates, loadEstimates, orderSeconds, planOptions, type NightEstimates } from './estimates.js';
import { pruneNights, type PruneResult } from './prune.js';
import { markRoot } from '../night/root-marker.js';
import { machineBudget, runNight, type NightOutcome } from './run-night.js';

export interface ScheduledNightRequest {
  config: LoadedConfig;
  schedule: Schedule;
  date: string;
  machine: string;
  only?: readonly string[];
  skip?: readonly string[];
  force?: boolean;
  refreshRecipes?: boolean;
  /** 'run' or 'daemon', for the lock and the master log. */
  purpose: string;
  /** The night's estimates when the caller already loaded them (loadEstimates); read here otherwise. */
  estimates?: NightEstimates;
}

export interface ScheduledNightCollaborators {
  executors: Executors;
  signal: AbortSignal;
  onEvent?: (event: RunnerEvent) => void;
  /** Human-readable progress lines (stdout for `run`, the daemon's log). */
  say: (line: string) => void;
  /** Problems that do not stop the night (stderr for `run`). */
  warn: (line: string) => void;
}

export interface ScheduledNightOutcome {
  night: NightOutcome;
  pruned?: PruneResult;
}

/**
 * This machine's builds for the night, after --only/--skip, ordered by `estimates` (loadEstimates): its
 * share of the static split, or with the shared queue every cell it may build (which of them it builds
 * is decided during the night).
 */
export function machineBuilds(
  config: LoadedConfig,
  schedule: Schedule,
  machine: string,
  select: { only?: readonly string[]; skip?: readonly string[] } = {},
  estimates: NightEstimates = configEstimates,
) {
  if (schedule.queue) {
    const eligible = cellsFor(config.cells, schedule.machines, machine);
    const order = orderSeconds(estimates);
    const builds = longestExpectedFirst(eligible, order).map((cell, index) => ({ id: cell.id, cell, machine, estimateS: order(cell), order: index + 1 }));
    return { machine: schedule.machines.find((m) => m.name === machine)!, builds: filterIds(builds, select) };
  }
  const mine = planNight(config.cells, schedule.machines, planOptions(estimates)).machines.find((m) => m.machine.name === machine)!;
  return { machine: mine.machine, builds: filterIds(mine.builds, select) };
}

/** The night's cells as the shared queue carries them, with the split's estimates (the same on every machine). */
export function queueCells(cells: readonly Cell[], estimates: NightEstimates): NightCell[] {
  return cells.map((cell) => ({ id: cell.id, estimateS: estimates.split(cell).estimateS, needs: cell.package.resources }));
}

export async function runScheduledNight(request: ScheduledNightRequest, collaborators: ScheduledNightCollaborators): Promise<ScheduledNightOutcome> {
  const { config, schedule, date, machine } = request;
  const { say, warn } = collaborators;
  const queueUrl = resolveRedisUrl(schedule);
  if (queueUrl && request.force) {
    throw new NightshiftError(
      `--force cannot rebuild through the shared queue of ${schedule.file}: the night's ended builds stay ended; rebuild one by hand with \`nightshift build ID --force\``,
      ExitCode.usage,
    );
  }
  const estimates = request.estimates ?? (await loadEstimates(schedule, date, { warn }));
  const mine = machineBuilds(config, schedule, machine, request, estimates);

  // The root is nightshift's from its first night on (a root from before markers is taken over here):
  // the disk guard and prune remove nothing under a root that is not.
  const unmarked = await markRoot(schedule.root, request.purpose);
  if (unmarked) warn(unmarked);
  // Never start a night that would fail halfway for lack of disk: make room first, or refuse (exit 4).
  if (schedule.minFreeBytes !== undefined) {
    const room = await ensureFreeSpace({ root: schedule.root, today: date, timezone: schedule.timezone, minFreeBytes: schedule.minFreeBytes });
    if (room.trimmedCaches.length) say(`made room under ${schedule.root}: removed cache(s) ${room.trimmedCaches.join(', ')}`);
    if (room.freedNights.length) say(`made room under ${schedule.root}: removed night(s) ${room.freedNights.join(', ')}`);
    for (const error of room.errors) warn(error);
  }

  const night = await runNight(
    {
      matrix: config.matrix,
      allCells: config.cells,
      schedule,
      date,
      machine,
      cells: mine.builds.map((b) => b.cell),
      slots: mine.machine.slots,
      estimate: orderSeconds(estimates),
      budget: machineBudget(mine.machine),
      force: request.force,
      refreshRecipes: request.refreshRecipes,
      purpose: request.purpose,
      upload: true,
      queue: queueUrl &&
        schedule.queue && { url: queueUrl.url, leaseMs: schedule.queue.leaseMs, startWaitMs: schedule.queue.startWaitMs, night: queueCells(config.cells, estimates) },
    },
    { executors: collaborators.executors, signal: collaborators.signal, onEvent: collaborators.onEvent, say },
  );
  if (collaborators.signal.aborted) return { night };

  // The end of a night: old nights and leftover containers go. Trouble here is reported, not fatal.
  const pruned = await pruneNights({
    root: schedule.root,
    today: date,
    timezone: schedule.timezone,
    keepDays: schedule.keepDays,
    dryRun: false,
    machine,
    cacheSizeBytes: schedule.cacheSizeBytes,
  });
  if (pruned.removed.length) say(`pruned night(s) older than ${schedule.keepDays} days: ${pruned.removed.join(', ')}`);
  if (pruned.containersRemoved.length) say(`removed leftover container(s): ${pruned.containersRemoved.join(', ')}`);
  if (pruned.caches?.removed.length) say(`trimmed cache(s) to cache_size, least recently used first: ${pruned.caches.removed.map((c) => c.key).join(', ')}`);
  for (const error of pruned.errors) warn(`prune: ${error}`);
  return { night, pruned };
}
