/** Matrix expansion: packages x axes, minus exclude, plus include — pure, in a stable order. */
import type { AxisValue, Cell, Matrix, PackageSpec, Selection } from '../config/model.js';
import { buildId } from './build-id.js';
import type { TemplateVars } from './template.js';

/** Cells of every package: the product of its axes (first axis outermost), excludes removed, includes appended. */
export function expandMatrix(matrix: Matrix): Cell[] {
  return matrix.packages.flatMap((spec) => {
    const cells = product(spec).filter((cell) => !matrix.exclude.some((entry) => matches(cell, entry)));
    for (const entry of matrix.include) {
      const cell = includedCell(spec, entry);
      if (cell && !cells.some((existing) => existing.id === cell.id)) cells.push(cell);
    }
    return cells;
  });
}

function product(spec: PackageSpec): Cell[] {
  let combos: AxisValue[][] = [[]];
  for (const axis of spec.axes) combos = combos.flatMap((combo) => axis.values.map((value) => [...combo, value]));
  return combos.map((combo) => makeCell(spec, combo));
}

function makeCell(spec: PackageSpec, combo: readonly AxisValue[]): Cell {
  const values = Object.fromEntries(spec.axes.map((axis, i) => [axis.name, combo[i]!]));
  return {
    id: buildId(
      spec.name,
      combo.map((v) => v.value),
    ),
    package: spec,
    values,
  };
}

/** GitHub Actions semantics: an entry matches a cell when every key it names has the cell's value. */
export function matches(cell: Cell, entry: Readonly<Record<string, string | AxisValue>>): boolean {
  return Object.entries(entry).every(([key, wanted]) => {
    const text = typeof wanted === 'string' ? wanted : wanted.value;
    return key === 'package' ? cell.package.name === text : cell.values[key]?.value === text;
  });
}

/** The cell an include entry adds to this package, or undefined when the entry is for another package
 * or does not name every axis of the package (rules.ts reports that). */
export function includedCell(spec: PackageSpec, entry: Selection): Cell | undefined {
  if (entry.package !== spec.name) return undefined;
  const combo: AxisValue[] = [];
  for (const axis of spec.axes) {
    const given = entry[axis.name];
    if (given === undefined) return undefined;
    combo.push(typeof given === 'string' ? (axis.values.find((v) => v.value === given) ?? { value: given, attrs: {} }) : given);
  }
  return makeCell(spec, combo);
}

/** Variables for the templates of a cell: its axes, `package`, `id`, plus the night's `date` and `machine`. */
export function cellVars(cell: Cell, extra: Readonly<Record<string, string>> = {}): TemplateVars {
  return { ...extra, package: cell.package.name, id: cell.id, ...cell.values };
}
