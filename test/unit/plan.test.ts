import { describe, expect, it } from 'vitest';
import { planNight } from '../../src/plan/plan.js';
import { expectedFinish, longestFirst } from '../../src/plan/order.js';
import { cell, machine } from '../helpers/model.js';
import type { Cell } from '../../src/config/model.js';

/** A deterministic pseudo-random generator, so the "random" cases are the same on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function cells(count: number, next: () => number): Cell[] {
  return Array.from({ length: count }, (_, i) => cell(`pkg_${String(i).padStart(3, '0')}`, Math.round(600 + next() * 9000)));
}

const lowerBound = (all: Cell[], slots: number) => Math.max(all.reduce((s, c) => s + c.package.estimateS, 0) / slots, ...all.map((c) => c.package.estimateS));

describe('planNight', () => {
  it('puts every cell on exactly one machine', () => {
    const all = cells(45, random(1));
    const plan = planNight(all, [machine('a', 4), machine('b', 4), machine('c', 2)]);
    const placed = plan.machines.flatMap((m) => m.builds.map((b) => b.id));
    expect(placed.sort()).toEqual(all.map((c) => c.id).sort());
    expect(plan.unplaced).toEqual([]);
  });

  it('balances expected finish times close to the lower bound', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const next = random(seed);
      const all = cells(20 + Math.floor(next() * 60), next);
      const machines = [machine('a', 4), machine('b', 4), machine('c', 4)];
      const plan = planNight(all, machines);
      const makespan = Math.max(...plan.machines.map((m) => m.expectedFinishS));
      // Greedy longest-first is within 4/3 of optimal; on these sizes it stays far closer.
      expect(makespan / lowerBound(all, 12)).toBeLessThan(4 / 3);
    }
  });

  it('places the shared cells longest first, each on the machine expected to come free first (exact split)', () => {
    // Ids in ascending estimate order, so a split by id or by input order gives another (worse) answer.
    const all = [1, 2, 3, 4, 5, 6, 7].map((minutes) => cell(`p_${minutes}`, minutes * 60));
    const plan = planNight(all, [machine('a', 1), machine('b', 1)]);
    const byMachine = Object.fromEntries(plan.machines.map((m) => [m.machine.name, m.builds.map((b) => b.id)]));
    // 7→a, 6→b, 5→b (6 < 7), 4→a (7 < 11), 3→a (a tie goes to the first), 2→b, 1→b: 14 and 14 minutes.
    expect(byMachine).toEqual({ a: ['p_7', 'p_4', 'p_3'], b: ['p_6', 'p_5', 'p_2', 'p_1'] });
    expect(plan.machines.map((m) => m.expectedFinishS)).toEqual([14 * 60, 14 * 60]);
  });

  it('orders each machine longest expected first, ties by id', () => {
    const plan = planNight([cell('x_b', 60), cell('x_a', 60), cell('y_c', 600), cell('z_d', 5)], [machine('m', 2)]);
    expect(plan.machines[0]!.builds.map((b) => [b.id, b.order])).toEqual([
      ['y_c', 1],
      ['x_a', 2],
      ['x_b', 3],
      ['z_d', 4],
    ]);
  });

  it('is deterministic: cell order in the input does not change the split', () => {
    const all = cells(40, random(7));
    const machines = [machine('a', 3), machine('b', 2), machine('c', 4)];
    const reference = JSON.stringify(planNight(all, machines).machines.map((m) => m.builds.map((b) => b.id)));
    for (let seed = 1; seed <= 10; seed++) {
      const next = random(seed);
      const shuffled = [...all].sort(() => next() - 0.5);
      expect(JSON.stringify(planNight(shuffled, machines).machines.map((m) => m.builds.map((b) => b.id)))).toBe(reference);
    }
  });

  it('gives selected cells to their machine and balances the rest over the others', () => {
    const all = [cell('wheel-mac_3.12', 900), cell('wheel-mac_3.13', 900), ...cells(10, random(3))];
    const plan = planNight(all, [machine('linux-0', 2), machine('linux-1', 2), machine('mac-0', 1, ['wheel-mac_*'])]);
    const byName = Object.fromEntries(plan.machines.map((m) => [m.machine.name, m.builds.map((b) => b.id)]));
    expect(byName['mac-0']).toEqual(['wheel-mac_3.12', 'wheel-mac_3.13']);
    expect(byName['linux-0']!.length + byName['linux-1']!.length).toBe(10);
    expect(byName['linux-0']!.length).toBeGreaterThan(2);
    expect(byName['linux-1']!.length).toBeGreaterThan(2);
  });

  it('weighs machines by their slots', () => {
    const all = Array.from({ length: 30 }, (_, i) => cell(`c_${i}`, 3600));
    const plan = planNight(all, [machine('big', 4), machine('small', 1)]);
    expect(plan.machines.map((m) => m.builds.length)).toEqual([24, 6]);
    expect(plan.machines.map((m) => m.expectedFinishS)).toEqual([6 * 3600, 6 * 3600]);
  });

  it('reports conflicts, unplaced cells and selectors that match nothing', () => {
    const all = [cell('a_1', 10), cell('b_1', 10), cell('c_1', 10)];
    const plan = planNight(all, [machine('m1', 1, ['a_*', 'b_*']), machine('m2', 1, ['b_*', 'x_*'])]);
    expect(plan.conflicts).toEqual([{ id: 'b_1', machines: ['m1', 'm2'] }]);
    expect(plan.unplaced.map((c) => c.id)).toEqual(['c_1']);
    expect(plan.unmatchedSelectors).toEqual([{ machine: 'm2', index: 1, glob: 'x_*' }]);
  });
});

describe('order helpers', () => {
  it('simulates slots: each build starts on the first slot to come free', () => {
    const builds = longestFirst([
      { id: 'a', estimateS: 30 },
      { id: 'b', estimateS: 20 },
      { id: 'c', estimateS: 20 },
      { id: 'd', estimateS: 10 },
    ]);
    expect(expectedFinish(builds, 2)).toBe(40);
    expect(expectedFinish(builds, 1)).toBe(80);
    expect(expectedFinish([], 3)).toBe(0);
  });
});
