/**
 * Values matrix.yaml does not list, given by hand (`nightshift build PKG 3.12 cu130 --set cuda.version=13.0`):
 * their attributes come from the command line, and night.json keeps them so that the build can be made
 * again later (`nightshift shell`).
 */
import type { Cell } from '../config/model.js';

/** Axis name to the attributes given for its value. */
export type GivenAttributes = ReadonlyMap<string, Readonly<Record<string, string>>>;

const isListed = (cell: Cell, axis: string, value: string) => cell.package.axes.find((a) => a.name === axis)?.values.some((v) => v.value === value) ?? false;

/**
 * The cell with the given attributes on its values that matrix.yaml does not list. A listed value keeps
 * the matrix's attributes: its build is the nightly's cell, and a build id names one build.
 */
export function withAttributes(cell: Cell, attributes: GivenAttributes): Cell {
  const values = Object.fromEntries(
    Object.entries(cell.values).map(([axis, value]) => {
      const given = attributes.get(axis);
      return [axis, given && !isListed(cell, axis, value.value) ? { ...value, attrs: { ...value.attrs, ...given } } : value];
    }),
  );
  return { ...cell, values };
}

/** The attributes of the cell's unlisted values, by axis (none: undefined), as night.json records them. */
export function unlistedAttributes(cell: Cell): Record<string, Record<string, string>> | undefined {
  const given = Object.entries(cell.values).filter(([axis, value]) => !isListed(cell, axis, value.value) && Object.keys(value.attrs).length > 0);
  return given.length ? Object.fromEntries(given.map(([axis, value]) => [axis, { ...value.attrs }])) : undefined;
}
