/** Plain text tables for terminals: padded columns, no borders. Cells may hold colour escapes. */
import { visibleLength } from './colour.js';

export function table(rows: readonly (readonly string[])[], options: { alignRight?: readonly number[] } = {}): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => visibleLength(row[col]!))));
  const right = new Set(options.alignRight ?? []);
  const pad = (cell: string, col: number) => ' '.repeat(widths[col]! - visibleLength(cell));
  return rows.map((row) =>
    row
      .map((cell, col) => (right.has(col) ? pad(cell, col) + cell : cell + pad(cell, col)))
      .join('  ')
      .trimEnd(),
  );
}
