/**
 * The night when the fleet pulls it from the shared queue — pure. There is no split to show: each free
 * slot takes the longest waiting build its machine may build (eligible.ts). What can be said beforehand
 * is the queue's order, who may build each cell, and how long the night is expected to last: the same
 * pull simulated with the expected durations over every slot of the fleet.
 */
import type { Cell, Machine } from '../config/model.js';
import { eligibleMachines } from './eligible.js';
import { longestFirst } from './order.js';

export interface QueuedBuild {
  id: string;
  cell: Cell;
  estimateS: number;
  /** 1-based place in the queue (longest expected first). */
  order: number;
  /** The machines that may take it; empty when none may. */
  machines: string[];
}

export interface QueuePlan {
  /** In queue order. */
  builds: QueuedBuild[];
  /** The sum of every build's expected duration. */
  totalWorkS: number;
  /** Every slot of every machine. */
  slots: number;
  /** Expected wall time of the night: each build on the eligible slot that comes free first, longest first. */
  expectedS: number;
}

export function planQueueNight(cells: readonly Cell[], machines: readonly Machine[], estimate: (cell: Cell) => number): QueuePlan {
  const eligible = eligibleMachines(machines);
  const ordered = longestFirst(cells.map((cell) => ({ id: cell.id, estimateS: estimate(cell), cell })));
  const builds = ordered.map(({ id, cell, estimateS }, i) => ({ id, cell, estimateS, order: i + 1, machines: eligible(id, cell.package.resources) }));
  const lanes = machines.flatMap((machine) => Array.from({ length: Math.max(1, machine.slots) }, () => ({ machine: machine.name, load: 0 })));
  for (const build of builds) {
    let best: (typeof lanes)[number] | undefined;
    for (const lane of lanes) if (build.machines.includes(lane.machine) && (best === undefined || lane.load < best.load)) best = lane;
    if (best) best.load += build.estimateS;
  }
  return {
    builds,
    totalWorkS: builds.reduce((sum, b) => sum + b.estimateS, 0),
    slots: lanes.length,
    expectedS: Math.max(0, ...lanes.map((lane) => lane.load)),
  };
}
