/**
 * From manifests to the report model — pure. Tonight's result of every planned cell (or `missing`),
 * and from earlier nights: how many nights in a row a cell has failed, since when, and what got fixed.
 * The machines' manifests are merged by cell: with the shared queue a cell can end on two machines (one
 * cut off from Redis keeps building while another takes it over); it shows once, with its newest good result.
 */
import type { Manifest, ManifestBuild } from '../store/manifest.js';
import { isFailure, type CellChange, type CellStatus, type ReportCell, type ReportModel } from './model.js';

export interface PlannedCell {
  id: string;
  package: string;
  axes: Record<string, string>;
  /** The machine the static split gives it; '' with the shared queue, where any machine may take it. */
  machine: string;
}

export interface ReportInput {
  date: string;
  schedule: string;
  destination: string;
  /** Axis names in build-id order. */
  axes: string[];
  /** Tonight's plan across the fleet, in plan order. */
  planned: readonly PlannedCell[];
  /** The schedule has `queue:`: no cell has a planned machine, and "missing" means no machine ran it. */
  queue?: boolean;
  /** Every machine of the schedule with its manifest for tonight (undefined: it published nothing). */
  tonight: readonly { machine: string; manifest: Manifest | undefined }[];
  /** Earlier nights' manifests, newest first. */
  earlier: readonly { date: string; manifests: readonly Manifest[] }[];
  /** Last lines of the logs of tonight's failed builds (the ones mergeByCell picks), by id. */
  tails: ReadonlyMap<string, string[]>;
  /** A link for a log key, when the destination has one. */
  logUrl: (key: string) => string | null;
  degraded?: string;
}

/** A cell's result across the fleet: the build shown, and the other machines' builds of it. */
export interface CellResult {
  status: CellStatus;
  machine: string;
  build: ManifestBuild;
  others: { machine: string; status: CellStatus }[];
}

/**
 * One result per cell from every machine's manifest of a night: a succeeded build beats one that did
 * not succeed; between equals, the one that finished later (a build that never finished counts as the
 * oldest); on a tie, the first manifest's.
 */
export function mergeByCell(manifests: readonly (Manifest | undefined)[]): Map<string, CellResult> {
  const results = new Map<string, CellResult>();
  for (const manifest of manifests) {
    for (const build of manifest?.builds ?? []) {
      const candidate: CellResult = { status: build.status as CellStatus, machine: manifest!.machine, build, others: [] };
      const current = results.get(build.id);
      if (!current) results.set(build.id, candidate);
      else if (newer(candidate, current)) results.set(build.id, { ...candidate, others: [...current.others, { machine: current.machine, status: current.status }] });
      else current.others.push({ machine: candidate.machine, status: candidate.status });
    }
  }
  return results;
}

function newer(candidate: CellResult, current: CellResult): boolean {
  const good = (result: CellResult) => (result.status === 'succeeded' ? 1 : 0);
  if (good(candidate) !== good(current)) return good(candidate) > good(current);
  const ended = (result: CellResult) => Date.parse(result.build.finished_at ?? '') || -Infinity;
  return ended(candidate) > ended(current);
}

export function buildReportModel(input: ReportInput): ReportModel {
  const tonight = mergeByCell(input.tonight.map((t) => t.manifest));
  const earlier = input.earlier.map((night) => ({ date: night.date, results: mergeByCell(night.manifests) }));
  const reported = new Set(input.tonight.filter((t) => t.manifest).map((t) => t.machine));
  const silent = input.tonight.filter((t) => !t.manifest).map((t) => t.machine);
  const missingReason = (machine: string) => (input.queue ? noMachineRan([...reported], silent) : staticMissingReason(reported.has(machine), machine));

  const ids = [...input.planned.map((p) => p.id), ...[...tonight.keys()].filter((id) => !input.planned.some((p) => p.id === id))];
  const cells = ids.map((id): ReportCell => {
    const plan = input.planned.find((p) => p.id === id);
    const result = tonight.get(id);
    const build = result?.build;
    const status: CellStatus = result?.status ?? 'missing';
    const history = earlier.map((night) => ({ date: night.date, status: night.results.get(id)?.status }));
    const streak = failingStreak(input.date, status, history);
    return {
      id,
      package: build?.package ?? plan!.package,
      axes: build?.axes ?? plan!.axes,
      machine: result?.machine ?? plan!.machine,
      status,
      reason: build?.reason ?? (status === 'missing' ? missingReason(plan!.machine) : null),
      duration_s: build?.duration_s ?? null,
      exit_code: build?.exit_code ?? null,
      streak: streak.length,
      failing_since: streak.since,
      last_success: history.find((night) => night.status === 'succeeded')?.date ?? null,
      change: change(status, history[0]?.status),
      log: { key: build?.log ?? null, url: build?.log ? input.logUrl(build.log) : null, tail: input.tails.get(id) ?? [] },
      ...(result?.others.length ? { also_ran_on: result.others } : {}),
    };
  });

  const failed = cells.filter((c) => isFailure(c.status) && c.status !== 'missing').length;
  const missing = cells.filter((c) => c.status === 'missing').length;
  return {
    date: input.date,
    schedule: input.schedule,
    destination: input.destination,
    axes: input.axes,
    // What each machine built (its manifest); a silent machine's planned share, which the queue does not have.
    machines: input.tonight.map(({ machine, manifest }) => ({
      name: machine,
      reported: manifest !== undefined,
      builds: manifest?.builds.length ?? (input.queue ? 0 : input.planned.filter((p) => p.machine === machine).length),
      failed: manifest?.builds.filter((b) => isFailure(b.status as CellStatus)).length ?? 0,
      ...(manifest?.queue_outages?.length ? { queueOutages: manifest.queue_outages } : {}),
    })),
    cells,
    counts: { total: cells.length, succeeded: cells.filter((c) => c.status === 'succeeded').length, failed, missing },
    history: earlier.map((night) => night.date),
    ...(input.queue ? { queue: true } : {}),
    ...(input.degraded ? { degraded: input.degraded } : {}),
  };
}

/** Tonight and the nights before it, as long as the cell kept failing (an unknown night ends the run). */
function failingStreak(date: string, status: CellStatus, history: readonly { date: string; status: CellStatus | undefined }[]): { length: number; since: string | null } {
  if (!isFailure(status)) return { length: 0, since: null };
  let length = 1;
  let since = date;
  for (const night of history) {
    if (night.status === undefined || !isFailure(night.status)) break;
    length += 1;
    since = night.date;
  }
  return { length, since };
}

function change(status: CellStatus, before: CellStatus | undefined): CellChange {
  if (before === undefined) return 'first-night';
  if (isFailure(status)) return isFailure(before) ? 'still-failing' : 'newly-failed';
  return isFailure(before) ? 'fixed' : 'still-good';
}

function staticMissingReason(machineReported: boolean, machine: string): string {
  return machineReported
    ? `planned on ${machine}, which reported no result for it`
    : `never ran: ${machine} published nothing for this night (down, still running, or its upload failed)`;
}

/** With the shared queue any machine may have taken the cell: say which machines reported and which were silent. */
function noMachineRan(reported: readonly string[], silent: readonly string[]): string {
  const parts = [reported.length ? `${listed(reported)} reported without it` : 'no machine reported', ...(silent.length ? [`${listed(silent)} published nothing`] : [])];
  return `no machine ran it (${parts.join('; ')})`;
}

const listed = (names: readonly string[]) => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`);
