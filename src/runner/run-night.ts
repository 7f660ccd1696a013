/**
 * One run of a night on this machine: open the folder, take its lock, clone the recipes, run the
 * selected builds in slots, record what happened. Used by `run`, `build` and the daemon. Builds that
 * already succeeded are kept (unless forced); builds an earlier runner left running are cleaned up and
 * run again. Whatever fails, the lock is released and night.json says where things stand.
 */
import os from 'node:os';
import type { Cell, Machine, Matrix, Schedule } from '../config/model.js';
import { defaultMemoryBudget } from './admission.js';
import { uploadNight } from '../store/upload-night.js';
import type { PublishOutcome } from '../store/publish.js';
import { removeContainers } from '../build/docker-executor.js';
import { killLeftovers, pidFileOf } from '../build/host-containment.js';
import type { Executors } from '../build/executor.js';
import { bookkeepingError, runBuilds, type RunnerEvent } from './run-builds.js';
import { removeStaleTemps } from '../files.js';
import { longestExpectedFirst } from '../plan/order.js';
import { recordDurations } from '../night/history.js';
import { keepEarlierLogs } from '../night/attempt-logs.js';
import { NIGHT_STATE_FILE, nightLayout, workDir, type NightLayout } from '../night/layout.js';
import { acquireNightLock, assertNightOwner } from '../night/lock.js';
import { appendMasterLog, openNight } from '../night/open-night.js';
import { fetchRecipes } from '../night/recipes.js';
import { planResume, queueResume, type QueueResumePlan } from '../night/resume.js';
import { emptyNightState, NightStateStore, readNightState, type BuildRecord, type NightState } from '../night/state.js';
import { redactedRedisUrl } from '../config/queue-url.js';
import type { NightCell } from '../queue/night-queue.js';
import { runFromQueue } from './queued-night.js';
import { clearCancelRequests, watchCancelRequests } from '../night/cancel-requests.js';

export interface NightRequest {
  matrix: Matrix;
  /** The matrix's cells (for upload key templates), not only the selected ones. */
  allCells: readonly Cell[];
  schedule: Schedule;
  date: string;
  machine: string;
  /** The cells to build on this machine (any order: they run longest expected first). */
  cells: readonly Cell[];
  slots: number;
  /** Expected seconds of a cell on this machine (loadEstimates' `order`), for the start order and admission; the matrix estimate when left out. */
  estimate?: (cell: Cell) => number;
  /** The machine's declared budget (schedule `memory`, `cpus`, `gpus`); memory defaults to this host's memory minus a reserve. */
  budget?: { memory?: number; cpus?: number; gpus?: number };
  /** Rebuild cells that already succeeded. */
  force?: boolean;
  /** Clone the recipes again even when this night already has a clone. */
  refreshRecipes?: boolean;
  /** Written to the lock and the master log: 'run', 'build', 'daemon'. */
  purpose: string;
  /** Publish the night's results when the builds are done (not after a stop signal). */
  upload: boolean;
  /** Ids built by hand outside this machine's share (`build`): recorded as manual, never part of the nightly. */
  manual?: ReadonlySet<string>;
  /**
   * Take the builds from the schedule's shared queue instead: `cells` are then the cells this machine
   * may build, and `night` every cell of the night, which this machine adds to the queue (a no-op when
   * another machine added them first).
   */
  queue?: { url: string; leaseMs: number; startWaitMs: number; night: readonly NightCell[] };
}

export interface NightCollaborators {
  executors: Executors;
  signal: AbortSignal;
  onEvent?: (event: RunnerEvent) => void;
  /** Told what is happening before the builds start (kept, orphaned, recipes). */
  say?: (line: string) => void;
  now?: () => Date;
}

export interface NightOutcome {
  layout: NightLayout;
  state: NightState;
  /** Records of the builds this run ran, in start order. */
  ran: BuildRecord[];
  /** Ids kept because they had already succeeded. */
  kept: string[];
  /** What the upload did, when it ran. */
  upload?: PublishOutcome;
}

export async function runNight(request: NightRequest, collaborators: NightCollaborators): Promise<NightOutcome> {
  const { matrix, date, machine } = request;
  const root = request.schedule.root;
  const now = collaborators.now ?? (() => new Date());
  const say = collaborators.say ?? (() => {});
  const layout = nightLayout(root, date);
  const unmarked = await openNight(layout, request.purpose);
  // One machine per night folder: checked before the lock (a clear message) and again under it.
  assertNightOwner(await readNightState(layout.state), machine, layout.dir);
  const lock = await acquireNightLock(layout.lock, { purpose: request.purpose });
  const master = (line: string) => appendMasterLog(layout, 'run', line);
  // `nightshift cancel ID` asks this run (the lock's holder) to cancel builds; requests for an earlier run are void.
  await clearCancelRequests(layout).catch(() => undefined);
  const cancels = watchCancelRequests(layout);
  try {
    await master(`${request.purpose} started by pid ${process.pid} on ${machine}: ${request.cells.length} build(s) selected`);
    if (unmarked) await master(unmarked);
    // A writer killed mid-write (power loss, kill -9) leaves its temporary night.json behind.
    await removeStaleTemps(layout.dir, NIGHT_STATE_FILE);
    const store = new NightStateStore(layout.state);
    const loaded = await store.load();
    assertNightOwner(loaded, machine, layout.dir);
    const previous = loaded ?? (await store.replace(emptyNightState({ date: request.date, machine: request.machine, schedule: request.schedule.name }, now())));

    const estimate = request.estimate ?? ((cell: Cell) => cell.package.estimateS);
    const ordered = longestExpectedFirst(request.cells, estimate);
    const resume = request.queue
      ? fromQueueResume(queueResume(previous))
      : { ...planResume(previous, ordered, { force: request.force ?? false, estimate, manual: request.manual }), ended: [] as BuildRecord[] };
    await store.update((state) => {
      Object.assign(state, resume.state, {
        machine,
        schedule: request.schedule.name,
        started_at: state.started_at ?? now().toISOString(),
        finished_at: undefined,
        runner_pid: process.pid,
        queue: request.queue && { url: redactedRedisUrl(request.queue.url) },
      });
    });
    if (resume.kept.length) say(`${resume.kept.length} build(s) already succeeded and are kept${request.queue ? '' : ' (--force rebuilds them)'}`);
    for (const id of resume.orphaned) {
      // (With the shared queue, the queue hands an orphaned build out again once its lease runs out.)
      // Left running by a runner that died: its container or host processes may still be there. Killed
      // (and waited for) before anything of the rerun is emptied, so no late write lands in the new folders.
      let what = 'its container was removed';
      if (previous.builds.find((b) => b.id === id)?.executor === 'host') {
        what = (await killLeftovers(pidFileOf(workDir(layout, id)))) ? 'its processes were killed' : 'none of its processes was left';
      } else {
        await removeContainers({ 'nightshift.night': date, 'nightshift.build': id, 'nightshift.machine': machine, 'nightshift.root': root }).catch(() => {});
      }
      await master(`${id} was left running by an earlier runner; ${what} and it runs again`);
    }
    for (const cell of resume.toRun) await keepEarlierLogs(layout, cell.id, previous.builds.find((b) => b.id === cell.id)?.attempt ?? 0);

    const recipes = await fetchRecipes({ repo: matrix.recipes.repo, ref: matrix.recipes.ref, dest: layout.recipes, refresh: request.refreshRecipes ?? false }).catch(
      async (error: unknown) => {
        await master(`recipes: ${(error as Error).message}`);
        throw error;
      },
    );
    await store.update((state) => {
      state.recipes = { repo: matrix.recipes.repo, ref: matrix.recipes.ref, commit: recipes.commit };
    });
    await master(`recipes ${recipes.reused ? 'reused' : 'cloned'} at ${recipes.commit}`);
    say(`recipes ${matrix.recipes.ref} at ${recipes.commit.slice(0, 12)}${recipes.reused ? " (this night's clone)" : ''}`);

    const slotRunner = {
      layout,
      estimate,
      slots: request.slots,
      budget: { memory: request.budget?.memory ?? defaultMemoryBudget(os.totalmem()), cpus: request.budget?.cpus, gpus: request.budget?.gpus },
      matrix,
      machine,
      store,
      executors: collaborators.executors,
      signal: collaborators.signal,
      cancels,
      onEvent: collaborators.onEvent,
      now,
    };
    const ran = request.queue
      ? await runFromQueue({ ...slotRunner, queue: request.queue, cells: request.cells, ended: resume.ended, schedule: request.schedule.name, date, say, master })
      : await runBuilds({ ...slotRunner, cells: resume.toRun });
    const notRecorded = await recordDurations(
      root,
      ran
        .filter((b) => b.duration_s !== undefined && b.status !== 'canceled' && b.status !== 'not_run' && !b.manual)
        .map((b) => ({ id: b.id, date, duration_s: b.duration_s!, status: b.status })),
    );
    // Estimates lack one night then; the night itself is whole.
    if (notRecorded) await master(`warning: this night's durations were not added to history.json: ${notRecorded}`);
    await store
      .update((s) => {
        s.finished_at = now().toISOString();
        s.runner_pid = undefined;
      })
      .catch((error: unknown) => {
        throw bookkeepingError(error, store.file);
      });
    const failed = ran.filter((b) => b.status !== 'succeeded').length;
    await master(`${request.purpose} finished: ${ran.length - failed} succeeded, ${failed} did not${collaborators.signal.aborted ? ' (stopped by a signal)' : ''}`);
    // A stopped night exits now; `nightshift upload` publishes it later.
    const upload =
      request.upload && !collaborators.signal.aborted ? await uploadNight({ schedule: request.schedule, cells: request.allCells, night: layout, store, now }) : undefined;
    return { layout, state: store.get(), ran, kept: resume.kept, upload };
  } finally {
    cancels.stop();
    await clearCancelRequests(layout).catch(() => undefined);
    await lock.release();
  }
}

/** A schedule machine's declared budget, as a night request takes it. */
export function machineBudget(machine: Machine | undefined): NightRequest['budget'] {
  return machine && { memory: machine.memoryBytes, cpus: machine.cpus, gpus: machine.gpus };
}

/** The queue's resume plan in the static one's terms: nothing to run from a list, ended builds that succeeded kept. */
function fromQueueResume(plan: QueueResumePlan) {
  return { ...plan, toRun: [] as Cell[], kept: plan.ended.filter((b) => b.status === 'succeeded').map((b) => b.id) };
}
