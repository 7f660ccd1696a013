/**
 * From manifests to the report model — pure. Tonight's result of every planned cell (or `missing`),
 * and from earlier nights: how many nights in a row a cell has failed, since when, and what got fixed.
 */
import type { Manifest, ManifestBuild } from '../store/manifest.js';
import { isFailure, type CellChange, type CellStatus, type ReportCell, type ReportModel } from './model.js';

export interface PlannedCell {
  id: string;
  package: string;
  axes: Record<string, string>;
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
  /** Every machine of the schedule with its manifest for tonight (undefined: it published nothing). */
  tonight: readonly { machine: string; manifest: Manifest | undefined }[];
  /** Earlier nights' manifests, newest first. */
  earlier: readonly { date: string; manifests: readonly Manifest[] }[];
  /** Last lines of the logs of tonight's failed builds, by id. */
  tails: ReadonlyMap<string, string[]>;
  /** A link for a log key, when the destination has one. */
  logUrl: (key: string) => string | null;
  degraded?: string;
}

type Result = { status: CellStatus; machine: string; build?: ManifestBuild };

function resultsOf(manifests: readonly (Manifest | undefined)[]): Map<string, Result> {
  const results = new Map<string, Result>();
  for (const manifest of manifests) {
    for (const build of manifest?.builds ?? []) results.set(build.id, { status: build.status as CellStatus, machine: manifest!.machine, build });
  }
  return results;
}

export function buildReportModel(input: ReportInput): ReportModel {
  const tonight = resultsOf(input.tonight.map((t) => t.manifest));
  const earlier = input.earlier.map((night) => ({ date: night.date, results: resultsOf(night.manifests) }));
  const reported = new Set(input.tonight.filter((t) => t.manifest).map((t) => t.machine));

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
      reason: build?.reason ?? (status === 'missing' ? missingReason(reported.has(plan!.machine), plan!.machine) : null),
      duration_s: build?.duration_s ?? null,
      exit_code: build?.exit_code ?? null,
      streak: streak.length,
      failing_since: streak.since,
      last_success: history.find((night) => night.status === 'succeeded')?.date ?? null,
      change: change(status, history[0]?.status),
      log: { key: build?.log ?? null, url: build?.log ? input.logUrl(build.log) : null, tail: input.tails.get(id) ?? [] },
    };
  });

  const failed = cells.filter((c) => isFailure(c.status) && c.status !== 'missing').length;
  const missing = cells.filter((c) => c.status === 'missing').length;
  return {
    date: input.date,
    schedule: input.schedule,
    destination: input.destination,
    axes: input.axes,
    machines: input.tonight.map(({ machine, manifest }) => ({
      name: machine,
      reported: manifest !== undefined,
      builds: manifest?.builds.length ?? input.planned.filter((p) => p.machine === machine).length,
      failed: manifest?.builds.filter((b) => isFailure(b.status as CellStatus)).length ?? 0,
    })),
    cells,
    counts: { total: cells.length, succeeded: cells.filter((c) => c.status === 'succeeded').length, failed, missing },
    history: earlier.map((night) => night.date),
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

function missingReason(machineReported: boolean, machine: string): string {
  return machineReported
    ? `planned on ${machine}, which reported no result for it`
    : `never ran: ${machine} published nothing for this night (down, still running, or its upload failed)`;
}
