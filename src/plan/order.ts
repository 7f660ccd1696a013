/** Build order within a machine, and when its slots are expected to finish — pure. */
import type { Cell } from '../config/model.js';

export interface Estimated {
  id: string;
  estimateS: number;
}

/** Longest expected first; ties by id, so every machine computes the same order. */
export function longestFirst<T extends Estimated>(builds: readonly T[]): T[] {
  return [...builds].sort((a, b) => b.estimateS - a.estimateS || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The cells in start order: longest expected first (ties by id). */
export function longestExpectedFirst(cells: readonly Cell[], estimate: (cell: Cell) => number): Cell[] {
  return longestFirst(cells.map((cell) => ({ id: cell.id, estimateS: estimate(cell), cell }))).map((e) => e.cell);
}

/** Lane end times when `builds` start in this order, each on the first slot to come free. */
export function laneLoads(builds: readonly Estimated[], slots: number): number[] {
  const lanes = new Array<number>(Math.max(1, slots)).fill(0);
  for (const build of builds) {
    const lane = earliestLane(lanes);
    lanes[lane]! += build.estimateS;
  }
  return lanes;
}

export function earliestLane(lanes: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < lanes.length; i++) if (lanes[i]! < lanes[best]!) best = i;
  return best;
}

/** Expected wall time of the builds at `slots` at once, started in this order. */
export function expectedFinish(builds: readonly Estimated[], slots: number): number {
  return Math.max(0, ...laneLoads(builds, slots));
}
