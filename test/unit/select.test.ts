import { describe, expect, it } from 'vitest';
import { filterIds, selector } from '../../src/matrix/select.js';

const ids = ['manywheel_3.12_cpu', 'manywheel_3.12_cu126', 'manywheel_3.13_cu126', 'manywheel_3.13t_cu128', 'libtorch_cu126_cxx11-abi'].map((id) => ({ id }));

describe('selectors', () => {
  it.each([
    ['manywheel_*', 4],
    ['*_cu126*', 3],
    ['manywheel_3.1{2,3}_cu126', 2],
    ['manywheel_3.13?_*', 1],
    ['libtorch_* manywheel_3.12_cpu', 2],
    ['wheel-mac_*', 0],
    ['manywheel_3.1', 0],
  ])('%s selects %i builds', (glob, count) => {
    expect(filterIds(ids, { only: [glob] })).toHaveLength(count);
  });

  it('skip removes after only', () => {
    expect(filterIds(ids, { only: ['manywheel_*'], skip: ['*_cpu', '*3.13t*'] }).map((b) => b.id)).toEqual(['manywheel_3.12_cu126', 'manywheel_3.13_cu126']);
  });

  it('matches whole ids only', () => {
    expect(selector('3.12')('manywheel_3.12_cpu')).toBe(false);
    expect(selector('*3.12*')('manywheel_3.12_cpu')).toBe(true);
  });
});
