/** eligibleMachines: who may take a cell from the shared queue. */
import { describe, expect, it } from 'vitest';
import { cellsFor, eligibleMachines } from '../../src/plan/eligible.js';
import { cell, machine } from '../helpers/model.js';

const cells = [cell('manywheel_3.12_cu126', 4200), cell('manywheel_3.12_cpu', 900), cell('libtorch_cu126', 3000), cell('conda_3.12_cpu', 600)];

describe('eligibleMachines', () => {
  it('binds a cell to every machine whose selectors match it, and the rest to the machines without selectors', () => {
    const machines = [machine('gpu-a', 4, ['*_cu*']), machine('gpu-b', 4, ['*cu126*']), machine('cpu-0', 8), machine('cpu-1', 8)];
    expect(Object.fromEntries(eligibleMachines(cells, machines))).toEqual({
      'manywheel_3.12_cu126': ['gpu-a', 'gpu-b'],
      'manywheel_3.12_cpu': ['cpu-0', 'cpu-1'],
      libtorch_cu126: ['gpu-a', 'gpu-b'],
      'conda_3.12_cpu': ['cpu-0', 'cpu-1'],
    });
    expect(cellsFor(cells, machines, 'gpu-b').map((c) => c.id)).toEqual(['manywheel_3.12_cu126', 'libtorch_cu126']);
  });

  it('leaves a cell no selector matches to nobody when every machine has selectors', () => {
    const machines = [machine('gpu-a', 4, ['*_cu*'])];
    expect(eligibleMachines(cells, machines).get('conda_3.12_cpu')).toEqual([]);
    expect(cellsFor(cells, machines, 'gpu-a')).toHaveLength(2);
  });
});
