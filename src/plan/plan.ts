/** The night's plan: every cell on one machine, each machine's builds in start order — pure. */
import type { Cell, Machine } from '../config/model.js';
import { expectedFinish, longestFirst } from './order.js';
import { splitCells, type Split } from './split.js';

export interface PlannedBuild {
  id: string;
  cell: Cell;
  machine: string;
  estimateS: number;
  /** 1-based start order on its machine. */
  order: number;
}

export interface MachinePlan {
  machine: Machine;
  /** In start order. */
  builds: PlannedBuild[];
  totalEstimateS: number;
  expectedFinishS: number;
}

export interface Plan {
  machines: MachinePlan[];
  unplaced: Cell[];
  conflicts: Split['conflicts'];
  unmatchedSelectors: Split['unmatchedSelectors'];
}

export interface PlanOptions {
  /**
   * Expected duration of a cell for the split across machines; the matrix's `estimate` by default.
   * It must be the same on every machine (see src/runner/estimates.ts), or machines disagree on who
   * builds what.
   */
  estimate?: (cell: Cell) => number;
  /** Expected duration for the start order within a machine, which may know more; `estimate` by default. */
  orderEstimate?: (cell: Cell) => number;
}

export function planNight(cells: readonly Cell[], machines: readonly Machine[], options: PlanOptions = {}): Plan {
  const estimate = options.estimate ?? ((cell: Cell) => cell.package.estimateS);
  const orderEstimate = options.orderEstimate ?? estimate;
  const split = splitCells(cells, machines, estimate);
  const machinePlans = machines.map((machine): MachinePlan => {
    const ordered = longestFirst(split.byMachine.get(machine.name)!.map((cell) => ({ id: cell.id, estimateS: orderEstimate(cell), cell })));
    const builds = ordered.map(({ id, cell, estimateS }, i) => ({ id, cell, machine: machine.name, estimateS, order: i + 1 }));
    return {
      machine,
      builds,
      totalEstimateS: builds.reduce((sum, b) => sum + b.estimateS, 0),
      expectedFinishS: expectedFinish(builds, machine.slots),
    };
  });
  return { machines: machinePlans, unplaced: split.unplaced, conflicts: split.conflicts, unmatchedSelectors: split.unmatchedSelectors };
}
