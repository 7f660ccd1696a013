/**
 * From manifests to the report model — pure. Tonight's result of every planned cell (or `missing`),
 * and from earlier nights: how many nights in a row a cell has failed, since when, and what got fixed.
 * The machines' manifests are merged by cell: with the shared queue a cell can end on two machines (one
 * cut off from Redis keeps building while another takes it over); it shows once, with its newest good result.
 */
import { firstErrorLine } from '../night/first-error.js';
import type { Manifest, ManifestBuild } from '../store/manifest.js';
import { compareUrl } from './commit-range.js';
import { countCells, isFailure, type CellChange, type CellStatus, type ReportCell, type ReportModel } from './model.js';

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
  /** A link for a build's log (log-link.ts), when one can be made. */
  logUrl: (key: string, build: { machine: string; id: string }) => string | null;
  degraded?: string;
}

/** A cell's result across the fleet: the build shown, and the other machines' builds of it. */
export interface CellResult {
  status: CellStatus;
  machine: string;
  build: ManifestBuild;
  /** The recipes commit of the manifest the build is in (null: the machine had none). */
  commit: string | null;
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
      const candidate: CellResult = { status: build.status as CellStatus, machine: manifest!.machine, build, commit: manifest!.recipes?.commit ?? null, others: [] };
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
    const history = earlier.map((night) => ({ date: night.date, status: night.results.get(id)?.status, commit: night.results.get(id)?.commit ?? null }));
    const streak = failingStreak(input.date, status, history);
    const tail = input.tails.get(id) ?? [];
    const failed = build !== undefined && isFailure(status);
    const machine = result?.machine ?? plan!.machine;
    return {
      id,
      package: build?.package ?? plan!.package,
      axes: build?.axes ?? plan!.axes,
      machine,
      status,
      reason: build?.reason ?? (status === 'missing' ? missingReason(plan!.machine) : null),
      duration_s: build?.duration_s ?? null,
      exit_code: build?.exit_code ?? null,
      streak: streak.length,
      failing_since: streak.since,
      last_success: history.find((night) => night.status === 'succeeded')?.date ?? null,
      change: change(status, history[0]?.status),
      log: { key: build?.log ?? null, url: build?.log ? input.logUrl(build.log, { machine, id }) : null, tail },
      // Older manifests have no first error line: the tail the report has is the next best place to look.
      ...(failed ? { first_error: build.first_error ?? firstErrorLine(tail) } : {}),
      usual_s: usualDuration(earlier.map((night) => night.results.get(id))),
      ...(result ? { commits: commitsOf(result, status, history, streak.since, repoOf(input.tonight, result.machine)) } : {}),
      ...(result?.others.length ? { also_ran_on: result.others } : {}),
    };
  });

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
    counts: countCells(cells),
    history: earlier.map((night) => night.date),
    ...(input.queue ? { queue: true } : {}),
    ...(input.degraded ? { degraded: input.degraded } : {}),
  };
}

/** The median duration of the cell's successful builds in earlier nights (null when it has none): what "usual" means. */
export function usualDuration(results: readonly (CellResult | undefined)[]): number | null {
  const durations = results
    .filter((result) => result?.status === 'succeeded' && typeof result.build.duration_s === 'number')
    .map((result) => result!.build.duration_s!)
    .sort((a, b) => a - b);
  if (!durations.length) return null;
  const middle = Math.floor(durations.length / 2);
  return durations.length % 2 ? durations[middle]! : (durations[middle - 1]! + durations[middle]!) / 2;
}

type NightOfCell = { date: string; status: CellStatus | undefined; commit: string | null };

/**
 * Tonight's recipes commit and, for a failure, the range it broke in: the commit of the last night the
 * cell succeeded, and of the first night of its failing streak (tonight's when it is new).
 */
export function commitsOf(result: CellResult, status: CellStatus, history: readonly NightOfCell[], since: string | null, repo: string | null): NonNullable<ReportCell['commits']> {
  if (!isFailure(status)) return { tonight: result.commit, last_good: null, first_bad: null, compare_url: null };
  const lastGood = history.find((night) => night.status === 'succeeded')?.commit ?? null;
  const firstBad = since === null ? result.commit : (history.find((night) => night.date === since)?.commit ?? result.commit);
  const url = repo && lastGood && firstBad && lastGood !== firstBad ? compareUrl(repo, lastGood, firstBad) : null;
  return { tonight: result.commit, last_good: lastGood, first_bad: firstBad, compare_url: url };
}

/** The recipes repository of a machine's manifest tonight. */
function repoOf(tonight: ReportInput['tonight'], machine: string): string | null {
  return tonight.find((t) => t.machine === machine)?.manifest?.recipes?.repo ?? null;
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
