/** Plain text tables for terminals: padded columns, no borders. */

export function table(rows: readonly (readonly string[])[], options: { alignRight?: readonly number[] } = {}): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const right = new Set(options.alignRight ?? []);
  return rows.map((row) =>
    row
      .map((cell, col) => (right.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!)))
      .join('  ')
      .trimEnd(),
  );
}
