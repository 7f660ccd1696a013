/**
 * Which machine builds which cell — pure and deterministic, so every machine of the fleet computes the
 * same split from the same files. Selectors first; the rest go to the machines without selectors,
 * longest first, each onto the slot (of any such machine) expected to come free first.
 */
import type { Cell, Machine } from '../config/model.js';
import { selector } from '../matrix/select.js';
import { earliestLane, laneLoads, longestFirst } from './order.js';

export interface Split {
  /** Machine name to the cells it builds (not yet ordered). */
  byMachine: Map<string, Cell[]>;
  /** Cells no selector claims while every machine has selectors. */
  unplaced: Cell[];
  /** Cells claimed by the selectors of more than one machine (kept on the first). */
  conflicts: { id: string; machines: string[] }[];
  /** Each selector glob that matches no cell, by machine. */
  unmatchedSelectors: { machine: string; index: number; glob: string }[];
}

export function splitCells(cells: readonly Cell[], machines: readonly Machine[], estimate: (cell: Cell) => number): Split {
  const byMachine = new Map<string, Cell[]>(machines.map((m) => [m.name, []]));
  const conflicts: Split['conflicts'] = [];
  const unmatchedSelectors: Split['unmatchedSelectors'] = [];
  const pool: Cell[] = [];

  const claims = machines.map((machine) => ({ machine, match: machine.builds ? selector(machine.builds) : undefined }));
  for (const machine of machines) {
    machine.builds?.forEach((glob, index) => {
      const match = selector(glob);
      if (!cells.some((cell) => match(cell.id))) unmatchedSelectors.push({ machine: machine.name, index, glob });
    });
  }
  for (const cell of cells) {
    const owners = claims.filter((claim) => claim.match?.(cell.id)).map((claim) => claim.machine.name);
    if (owners.length > 1) conflicts.push({ id: cell.id, machines: owners });
    if (owners.length > 0) byMachine.get(owners[0]!)!.push(cell);
    else pool.push(cell);
  }

  const sharers = machines.filter((m) => !m.builds);
  if (sharers.length === 0) return { byMachine, unplaced: pool, conflicts, unmatchedSelectors };

  const lanes = sharers.flatMap((machine) =>
    laneLoads(longestFirst(byMachine.get(machine.name)!.map((cell) => ({ id: cell.id, estimateS: estimate(cell) }))), machine.slots).map((load) => ({
      machine: machine.name,
      load,
    })),
  );
  const loads = lanes.map((lane) => lane.load);
  const ordered = longestFirst(pool.map((cell) => ({ id: cell.id, estimateS: estimate(cell), cell })));
  for (const { cell, estimateS } of ordered) {
    const lane = earliestLane(loads);
    loads[lane]! += estimateS;
    byMachine.get(lanes[lane]!.machine)!.push(cell);
  }
  return { byMachine, unplaced: [], conflicts, unmatchedSelectors };
}
