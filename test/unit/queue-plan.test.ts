/** Who may build a cell when the fleet pulls from the shared queue, and the queue night's expected length. */
import { describe, expect, it } from 'vitest';
import { eligibleMachines, fitsBudget } from '../../src/plan/eligible.js';
import { planQueueNight } from '../../src/plan/queue-plan.js';
import { cell, machine } from '../helpers/model.js';
import type { Cell, Machine } from '../../src/config/model.js';

const withNeeds = (c: Cell, resources: Cell['package']['resources']): Cell => ({ ...c, package: { ...c.package, resources } });

describe('eligibleMachines', () => {
  const fleet: Machine[] = [machine('a', 4), machine('b', 4), { ...machine('gpu-0', 2, ['libtorch_*']), gpus: 2 }, { ...machine('gpu-1', 2, ['libtorch_*']), gpus: 1 }];
  const eligible = eligibleMachines(fleet);

  it('gives a cell no selector takes to every machine without selectors', () => {
    expect(eligible('manywheel_3.12_cpu', {})).toEqual(['a', 'b']);
  });

  it('gives a selected cell to every machine whose selector matches it, and only those', () => {
    expect(eligible('libtorch_cu126_cxx11-abi', {})).toEqual(['gpu-0', 'gpu-1']);
  });

  it('leaves out a machine whose declared budget is too small, and counts an undeclared budget as large enough', () => {
    expect(eligible('libtorch_cu126_cxx11-abi', { gpus: 2 })).toEqual(['gpu-0']);
    expect(eligible('libtorch_cu126_cxx11-abi', { gpus: 3 })).toEqual([]);
    expect(eligible('manywheel_3.12_cpu', { gpus: 3, memoryBytes: 2 ** 40 })).toEqual(['a', 'b']);
    expect(eligible('libtorch_cu126_cxx11-abi', { gpus: 'all' })).toEqual(['gpu-0', 'gpu-1']);
  });

  it('has nobody for a cell no selector takes when every machine has selectors', () => {
    expect(eligibleMachines([machine('x', 1, ['conda_*'])])('manywheel_3.12_cpu', {})).toEqual([]);
  });

  it('checks memory and cpus like gpus', () => {
    const small: Machine = { ...machine('s', 1), memoryBytes: 1024, cpus: 4 };
    expect(fitsBudget({ memoryBytes: 1024, cpus: 4 }, small)).toBe(true);
    expect(fitsBudget({ memoryBytes: 1025 }, small)).toBe(false);
    expect(fitsBudget({ cpus: 5 }, small)).toBe(false);
  });
});

describe('planQueueNight', () => {
  it('orders the night longest expected first and lists who may build each cell', () => {
    const cells = [cell('conda_3.12', 600), withNeeds(cell('libtorch_cu126', 3000), { gpus: 1 }), cell('manywheel_3.12', 4200)];
    const night = planQueueNight(cells, [machine('a', 1), { ...machine('g', 1, ['libtorch_*']), gpus: 1 }], (c) => c.package.estimateS);
    expect(night.builds.map((b) => [b.order, b.id, b.machines])).toEqual([
      [1, 'manywheel_3.12', ['a']],
      [2, 'libtorch_cu126', ['g']],
      [3, 'conda_3.12', ['a']],
    ]);
    expect(night.totalWorkS).toBe(7800);
    expect(night.slots).toBe(2);
    // a builds manywheel then conda (4800 s) while g builds libtorch (3000 s).
    expect(night.expectedS).toBe(4800);
  });

  it('expects the total work spread over every slot when any machine may build anything', () => {
    const cells = Array.from({ length: 12 }, (_, i) => cell(`pkg_${String(i).padStart(2, '0')}`, 600));
    const night = planQueueNight(cells, [machine('a', 2), machine('b', 1), machine('c', 3)], (c) => c.package.estimateS);
    expect(night.slots).toBe(6);
    expect(night.expectedS).toBe(night.totalWorkS / 6);
  });

  it('leaves a cell nobody may build out of the expected length', () => {
    const night = planQueueNight([cell('conda_3.12', 600), cell('orphan_1', 9000)], [machine('x', 1, ['conda_*'])], (c) => c.package.estimateS);
    expect(night.builds.find((b) => b.id === 'orphan_1')?.machines).toEqual([]);
    expect(night.expectedS).toBe(600);
  });
});
