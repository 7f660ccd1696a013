/** cellsFor: the cells one machine may take from the shared queue. */
import { describe, expect, it } from 'vitest';
import { cellsFor } from '../../src/plan/eligible.js';
import { cell, machine } from '../helpers/model.js';

const cells = [cell('manywheel_3.12_cu126', 4200), cell('manywheel_3.12_cpu', 900), cell('libtorch_cu126', 3000), cell('conda_3.12_cpu', 600)];

describe('cellsFor', () => {
  it("gives a machine the cells its selectors match (shared with other machines' selectors), the rest to machines without selectors", () => {
    const machines = [machine('gpu-a', 4, ['*_cu*']), machine('gpu-b', 4, ['*cu126*']), machine('cpu-0', 8), machine('cpu-1', 8)];
    expect(cellsFor(cells, machines, 'gpu-a').map((c) => c.id)).toEqual(['manywheel_3.12_cu126', 'libtorch_cu126']);
    expect(cellsFor(cells, machines, 'gpu-b').map((c) => c.id)).toEqual(['manywheel_3.12_cu126', 'libtorch_cu126']);
    expect(cellsFor(cells, machines, 'cpu-1').map((c) => c.id)).toEqual(['manywheel_3.12_cpu', 'conda_3.12_cpu']);
  });

  it('gives nobody a cell no selector matches when every machine has selectors', () => {
    expect(cellsFor(cells, [machine('gpu-a', 4, ['*_cu*'])], 'gpu-a')).toHaveLength(2);
  });
});
