/**
 * Admission of builds into a machine's slots and resources — pure. A build reserves its declared
 * memory, cpus and gpus while it runs; the reserved totals never exceed the machine's budget. The
 * next build to start is the longest expected one that fits right now, so when the build at the head
 * does not fit, a smaller one that does may start meanwhile (backfill).
 */

/** What a machine offers: slots always; a resource left undefined is not limited. */
export interface Budget {
  slots: number;
  /** Bytes. */
  memory?: number;
  cpus?: number;
  gpus?: number;
}

/** What a build reserves while it runs; undefined reserves nothing. `gpus: 'all'` takes every GPU of the budget. */
export interface Needs {
  /** Bytes. */
  memory?: number;
  cpus?: number;
  gpus?: number | 'all';
}

export interface AdmissionBuild extends Needs {
  id: string;
  estimateS: number;
}

interface Reserved {
  slots: number;
  memory: number;
  cpus: number;
  gpus: number;
}

/** Default memory budget of a machine that declares none: its memory minus a reserve (10 %, at least 2 GiB). */
export function defaultMemoryBudget(totalBytes: number): number {
  return Math.max(0, totalBytes - Math.max(totalBytes * 0.1, 2 * 1024 ** 3));
}

export class Admission {
  private readonly reserved: Reserved = { slots: 0, memory: 0, cpus: 0, gpus: 0 };
  private readonly running = new Map<string, Reserved>();

  constructor(readonly budget: Budget) {}

  /** Why `needs` can never run within this budget (even on an idle machine), or undefined. */
  exceedsBudget(needs: Needs): string | undefined {
    const want = this.amounts(needs);
    const { memory, cpus, gpus } = this.budget;
    if (memory !== undefined && want.memory > memory) return `needs ${bytesText(want.memory)} of memory, more than this machine's budget of ${bytesText(memory)}`;
    if (cpus !== undefined && want.cpus > cpus) return `needs ${want.cpus} cpus, more than this machine's budget of ${cpus}`;
    if (gpus !== undefined && want.gpus > gpus) return `needs ${want.gpus} gpus, more than this machine's budget of ${gpus}`;
    return undefined;
  }

  /** Whether `needs` fits in what is free right now. */
  fits(needs: Needs): boolean {
    const want = this.amounts(needs);
    const { slots, memory, cpus, gpus } = this.budget;
    return (
      this.reserved.slots + 1 <= Math.max(1, slots) &&
      (memory === undefined || this.reserved.memory + want.memory <= memory) &&
      (cpus === undefined || this.reserved.cpus + want.cpus <= cpus + 1e-9) &&
      (gpus === undefined || this.reserved.gpus + want.gpus <= gpus)
    );
  }

  /** The longest expected build of `waiting` that fits now (ties: the earlier in the list), or undefined. */
  pick(waiting: readonly AdmissionBuild[]): string | undefined {
    let best: AdmissionBuild | undefined;
    for (const build of waiting) {
      if (this.exceedsBudget(build) !== undefined || !this.fits(build)) continue;
      if (best === undefined || build.estimateS > best.estimateS) best = build;
    }
    return best?.id;
  }

  start(build: AdmissionBuild): void {
    if (this.running.has(build.id)) throw new Error(`admission: ${build.id} is already running`);
    if (!this.fits(build)) throw new Error(`admission: ${build.id} does not fit in what is free`);
    const want = this.amounts(build);
    this.running.set(build.id, want);
    this.add(want, 1);
  }

  finish(build: Pick<AdmissionBuild, 'id'>): void {
    const want = this.running.get(build.id);
    if (!want) return;
    this.running.delete(build.id);
    this.add(want, -1);
  }

  /** Reserved totals now (slots, bytes of memory, cpus, gpus). */
  get inUse(): Readonly<Reserved> {
    return { ...this.reserved };
  }

  private add(want: Reserved, sign: 1 | -1): void {
    this.reserved.slots += sign * want.slots;
    this.reserved.memory += sign * want.memory;
    this.reserved.cpus += sign * want.cpus;
    this.reserved.gpus += sign * want.gpus;
  }

  private amounts(needs: Needs): Reserved {
    const gpus = needs.gpus === 'all' ? (this.budget.gpus ?? 0) : (needs.gpus ?? 0);
    return { slots: 1, memory: needs.memory ?? 0, cpus: needs.cpus ?? 0, gpus };
  }
}

/** 48 GiB, 1.5 GiB, 600 MiB: sizes as a reason shows them. */
export function bytesText(bytes: number): string {
  for (const [unit, factor] of [
    ['TiB', 1024 ** 4],
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= factor) return `${Number((bytes / factor).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}
