/** Which cells an upload key template cannot tell apart — pure, so validate and upload read it alike. */
import type { Cell } from '../config/model.js';
import { cellVars } from './expand.js';
import { render } from './template.js';

/** Cells whose artifacts the key template sends to the same key (when their files have the same name). */
export interface KeyCollision {
  /** The rendered key, with `<file>` for the file name. */
  key: string;
  ids: string[];
  /** The variables (package, axes) whose values tell these cells apart, none of which the template names. */
  differ: string[];
}

/**
 * Where `upload.key` cannot tell a night's cells apart: it is rendered for every cell with one file
 * name, one date and one machine (any two cells may share a night and, by the balancing, a machine).
 * Cells whose key cannot be rendered are left out (that is another problem).
 */
export function keyCollisions(keyTemplate: string, cells: readonly Cell[]): KeyCollision[] {
  const byKey = new Map<string, Cell[]>();
  for (const cell of cells) {
    const rendered = render(keyTemplate, cellVars(cell, { date: 'DATE', machine: 'MACHINE', file: '<file>' }));
    if (rendered.ok) byKey.set(rendered.value, [...(byKey.get(rendered.value) ?? []), cell]);
  }
  return [...byKey]
    .filter(([, group]) => group.length > 1)
    .map(([key, group]) => {
      const names = [...new Set(group.flatMap((c) => Object.keys(c.values)))];
      const value = (c: Cell, name: string) => (name === 'package' ? c.package.name : c.values[name]?.value);
      const differ = ['package', ...names].filter((name) => new Set(group.map((c) => value(c, name))).size > 1);
      return { key, ids: group.map((c) => c.id), differ };
    });
}
