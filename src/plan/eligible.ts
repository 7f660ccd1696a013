/**
 * Which machines may build each cell when the machines pull the night from the shared queue — pure.
 * Selectors bind a cell to every machine whose selectors match it (machines may share a selector); a
 * cell no selector matches may go to any machine without selectors, as in the static split.
 */
import type { Cell, Machine } from '../config/model.js';
import { selector } from '../matrix/select.js';

/** Cell id to the names of the machines that may build it (empty: none may). */
export function eligibleMachines(cells: readonly Cell[], machines: readonly Machine[]): Map<string, string[]> {
  const claims = machines.map((machine) => ({ name: machine.name, match: machine.builds ? selector(machine.builds) : undefined }));
  const sharers = claims.filter((claim) => claim.match === undefined).map((claim) => claim.name);
  return new Map(
    cells.map((cell) => {
      const owners = claims.filter((claim) => claim.match?.(cell.id)).map((claim) => claim.name);
      return [cell.id, owners.length ? owners : sharers];
    }),
  );
}

/** The cells `machine` may build. */
export function cellsFor(cells: readonly Cell[], machines: readonly Machine[], machine: string): Cell[] {
  const eligible = eligibleMachines(cells, machines);
  return cells.filter((cell) => eligible.get(cell.id)!.includes(machine));
}
