/**
 * What a run of a night does with what an earlier run left — pure. Succeeded builds are kept (unless
 * forced); everything else selected is run again. Builds left `running` belong to a runner that died:
 * the caller kills what is left of them (containers, host processes) before they run again. Cells built by
 * hand outside this machine's share are marked `manual`: kept apart from the nightly everywhere.
 */
import { unlistedAttributes } from '../matrix/unlisted-values.js';
import type { Cell } from '../config/model.js';
import type { BuildRecord, NightState } from './state.js';

export interface ResumePlan {
  /** Cells to run, in the order given. */
  toRun: Cell[];
  /** Ids skipped because they already succeeded. */
  kept: string[];
  /** Ids an earlier runner left `running`. */
  orphaned: string[];
  /** The state with every selected cell present and the ones to run reset to pending. */
  state: NightState;
}

export function planResume(
  state: NightState,
  cells: readonly Cell[],
  options: { force: boolean; estimate: (cell: Cell) => number; /** Ids built by hand outside this machine's share: recorded as manual. */ manual?: ReadonlySet<string> },
): ResumePlan {
  const builds = new Map(state.builds.map((b) => [b.id, b]));
  const toRun: Cell[] = [];
  const kept: string[] = [];
  const orphaned: string[] = [];
  cells.forEach((cell, index) => {
    const previous = builds.get(cell.id);
    if (previous?.status === 'succeeded' && !options.force) {
      kept.push(cell.id);
      return;
    }
    if (previous?.status === 'running') orphaned.push(cell.id);
    toRun.push(cell);
    builds.set(cell.id, { ...pendingRecord(cell, index + 1, options.estimate(cell)), attempt: previous?.attempt ?? 0, ...(options.manual?.has(cell.id) && { manual: true }) });
  });
  return { toRun, kept, orphaned, state: { ...state, builds: [...builds.values()] } };
}

export function pendingRecord(cell: Cell, order: number, estimateS: number): BuildRecord {
  const attributes = unlistedAttributes(cell);
  return {
    id: cell.id,
    package: cell.package.name,
    axes: Object.fromEntries(Object.entries(cell.values).map(([axis, v]) => [axis, v.value])),
    executor: cell.package.executor,
    image: cell.package.image,
    status: 'pending',
    order,
    estimate_s: estimateS,
    attempt: 0,
    ...(attributes && { attributes }),
  };
}

/** What a run fed by the shared queue finds of an earlier run of this night on this machine. */
export interface QueueResumePlan {
  /** Builds that ended (succeeded, failed, timed out): never built again here; the queue knows them ended. */
  ended: BuildRecord[];
  /** Ids an earlier runner left `running`: cleaned up by the caller; the queue hands them out again once their lease runs out. */
  orphaned: string[];
  /** The state with the orphaned builds recorded as canceled. */
  state: NightState;
}

export function queueResume(state: NightState): QueueResumePlan {
  const ended = state.builds.filter((b) => !b.manual && (b.status === 'succeeded' || b.status === 'failed' || b.status === 'timed_out'));
  const orphaned = state.builds.filter((b) => b.status === 'running').map((b) => b.id);
  const builds = state.builds.map((b) =>
    b.status === 'running' ? { ...b, status: 'canceled' as const, reason: 'left running by a runner that died; back to the shared queue, for any machine' } : b,
  );
  return { ended, orphaned, state: { ...state, builds } };
}
