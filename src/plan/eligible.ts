/**
 * Which machines may build a cell when the fleet pulls the night from the shared queue — pure. The
 * selectors still bind cells to machines: a cell some machine's `builds:` selects may be built by every
 * machine whose selector matches it, any other cell by the machines without selectors. Of those, only a
 * machine whose declared budget (memory, cpus, gpus) holds the cell's resources may take it; an
 * undeclared budget is not knowable from another machine, so it counts as large enough.
 */
import type { Cell, Machine, Resources } from '../config/model.js';
import { selector } from '../matrix/select.js';

/** The names of the machines that may build the cell `id` with these needs, in the schedule's order (none: nobody may). */
export type EligibleMachines = (id: string, needs: Resources) => string[];

export function eligibleMachines(machines: readonly Machine[]): EligibleMachines {
  const claims = machines.map((machine) => ({ machine, match: machine.builds ? selector(machine.builds) : undefined }));
  const sharers = machines.filter((machine) => !machine.builds);
  return (id, needs) => {
    const owners = claims.filter((claim) => claim.match?.(id)).map((claim) => claim.machine);
    return (owners.length ? owners : sharers).filter((machine) => fitsBudget(needs, machine)).map((machine) => machine.name);
  };
}

/** Whether the machine's declared budget holds `needs`; gpus: 'all' takes whatever a machine has. */
export function fitsBudget(needs: Resources, machine: Machine): boolean {
  const within = (need: number | undefined, budget: number | undefined) => need === undefined || budget === undefined || need <= budget;
  const gpus = needs.gpus === 'all' ? undefined : needs.gpus;
  return within(needs.memoryBytes, machine.memoryBytes) && within(needs.cpus, machine.cpus) && within(gpus, machine.gpus);
}

/** The cells `machine` may build, in the order given. */
export function cellsFor(cells: readonly Cell[], machines: readonly Machine[], machine: string): Cell[] {
  const eligible = eligibleMachines(machines);
  return cells.filter((cell) => eligible(cell.id, cell.package.resources).includes(machine));
}
