/**
 * The build id: the one name of a cell everywhere (CLI, selectors, logs, S3 keys, reports).
 * The package, then each of its axis values in axis order, joined by "_" — `manywheel_3.12_cu126`.
 * Package names and axis values cannot contain "_" (the schema refuses it), so ids are unique.
 */
export const ID_SEPARATOR = '_';

export function buildId(packageName: string, values: readonly string[]): string {
  return [packageName, ...values].join(ID_SEPARATOR);
}
