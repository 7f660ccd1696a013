/** Small builders for model objects in pure tests. */
import type { Cell, Machine, PackageSpec } from '../../src/config/model.js';

export function pkg(name: string, estimateS: number, extra: Partial<PackageSpec> = {}): PackageSpec {
  return {
    name,
    executor: 'docker',
    image: 'image',
    command: ['true'],
    timeoutS: 3600,
    estimateS,
    axes: [],
    resources: {},
    artifacts: 'required',
    env: {},
    ...extra,
  };
}

export function cell(id: string, estimateS: number): Cell {
  return { id, package: pkg(id.split('_')[0]!, estimateS), values: {} };
}

export function machine(name: string, slots: number, builds?: string[]): Machine {
  return { name, slots, builds };
}
