/**
 * What a run of a night does with what an earlier run left — pure. Succeeded builds are kept (unless
 * forced); everything else selected is run again. Builds left `running` belong to a runner that died:
 * the caller kills what is left of them (containers, host processes) before they run again. Cells built by
 * hand outside this machine's share are marked `manual`: kept apart from the nightly everywhere.
 */
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
  };
}
