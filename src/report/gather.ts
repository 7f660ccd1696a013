/**
 * Everything the morning report needs, read from the destination: tonight's manifests of every
 * machine, earlier nights' for the streaks, the tails of the failed builds' logs. When the destination
 * cannot be read, the report is made from this machine's own night.json and says so.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Cell, Schedule } from '../config/model.js';
import { readNightState } from '../night/state.js';
import { loadEstimates, planOptions } from '../runner/estimates.js';
import { nightLayout } from '../night/layout.js';
import { planNight } from '../plan/plan.js';
import type { Destination } from '../store/destination.js';
import { buildManifest, readManifest, type Manifest } from '../store/manifest.js';
import { collectNight } from './collect.js';
import { openScheduleDestination } from '../store/open.js';
import { buildReportModel, mergeByCell, type PlannedCell } from './history.js';
import { logLink } from './log-link.js';
import { isFailure, type CellStatus, type ReportModel } from './model.js';

export interface GatherOptions {
  schedule: Schedule;
  cells: readonly Cell[];
  /** Axis names in build-id order. */
  axes: string[];
  date: string;
  /** This machine, for the fallback to the local night. */
  machine: string;
  /** How many earlier nights to read for streaks. */
  historyNights?: number;
  tailLines?: number;
  /** Told about each manifest that cannot be read (it is left out of the report). */
  warn?: (message: string) => void;
}

const TAIL_BYTES = 64 * 1024;
const NIGHTS = 'nightshift/nights/';

export async function gatherReport(options: GatherOptions): Promise<ReportModel> {
  const { schedule, date } = options;
  const machineOf = await plannedMachines(options);
  const planned: PlannedCell[] = options.cells.map((cell) => ({
    id: cell.id,
    package: cell.package.name,
    axes: Object.fromEntries(Object.entries(cell.values).map(([axis, v]) => [axis, v.value])),
    machine: machineOf.get(cell.id) ?? '',
  }));
  const machines = schedule.machines.map((m) => m.name);
  const tailLines = options.tailLines ?? 40;
  const links = { logUrl: schedule.report?.logUrl, serveUrl: schedule.report?.serveUrl, date };
  const base = { date, schedule: schedule.name, axes: options.axes, planned, ...(schedule.queue ? { queue: true } : {}) };

  let destination: Destination | undefined;
  try {
    destination = await openScheduleDestination(schedule, date);
    const warn = options.warn ?? (() => {});
    const fleet = await collectNight(destination, date, machines);
    const unreadable = fleet.machines.flatMap((m) => (m.problem ? [m.problem] : []));
    const earlier = await earlierNights(destination, date, options.historyNights ?? 14, warn);
    // The tails of the builds the report shows: a cell that ended on two machines shows one of them.
    const shown = [...mergeByCell(fleet.machines.map((m) => m.manifest)).values()].map((result) => result.build);
    const failing = shown.filter((b) => isFailure(b.status as CellStatus) && b.log);
    const tails = new Map(
      await Promise.all(failing.map(async (b) => [b.id, tail(await destination!.getBytes(b.log!, { lastBytes: TAIL_BYTES }).catch(() => undefined), tailLines)] as const)),
    );
    // A machine whose manifest cannot be read shows as one that published nothing, and the report says why.
    const degraded = unreadable.length ? `${unreadable.join('; ')}: its builds are shown as missing` : undefined;
    return buildReportModel({
      ...base,
      destination: destination.url,
      logUrl: (key, build) => logLink({ ...links, destinationUrl: destination!.url }, { key, ...build }),
      tonight: fleet.machines.map((m) => ({ machine: m.name, manifest: m.manifest })),
      earlier,
      tails,
      ...(degraded ? { degraded } : {}),
    });
  } catch (error) {
    // Nothing of this night is published: no log keys to link to.
    return localReport(
      options,
      { ...base, logUrl: () => null },
      `the destination ${destination?.url ?? ''} could not be read (${(error as Error).message}); this report shows only ${options.machine}'s own night`,
    );
  }
}

/**
 * Which machine was to build what: the night's own split, by the shared history of earlier nights
 * (trouble reading it shows where the manifests cannot be read either). With the shared queue nobody
 * knows in advance: any machine whose selectors allow a cell may take it.
 */
async function plannedMachines(options: GatherOptions): Promise<Map<string, string>> {
  if (options.schedule.queue) return new Map();
  const estimates = await loadEstimates(options.schedule, options.date, { warn: () => {} });
  const plan = planNight(options.cells, options.schedule.machines, planOptions(estimates));
  return new Map(plan.machines.flatMap((m) => m.builds.map((b) => [b.id, m.machine.name] as const)));
}

/** Earlier nights' manifests (all machines), newest first; one that cannot be read is left out (and named to `warn`). */
async function earlierNights(destination: Destination, date: string, count: number, warn: (message: string) => void): Promise<{ date: string; manifests: Manifest[] }[]> {
  const byNight = new Map<string, string[]>();
  for (const key of await destination.list(NIGHTS)) {
    const [night, machine, file] = key.slice(NIGHTS.length).split('/');
    if (file === 'manifest.json' && night! < date) byNight.set(night!, [...(byNight.get(night!) ?? []), machine!]);
  }
  const nights = [...byNight.keys()].sort().reverse().slice(0, count);
  return Promise.all(
    nights.map(async (night) => ({
      date: night,
      manifests: (await Promise.all(byNight.get(night)!.map((machine) => readManifest(destination, night, machine)))).flatMap((read) => {
        if (read.problem) warn(read.problem);
        return read.manifest ? [read.manifest] : [];
      }),
    })),
  );
}

/** The last lines of a log; the first line of a cut read is dropped (it is probably partial). */
export function tail(bytes: Buffer | undefined, lines: number): string[] {
  if (!bytes) return [];
  const all = bytes.toString('utf8').split('\n');
  if (bytes.length >= TAIL_BYTES) all.shift();
  while (all.length && all.at(-1) === '') all.pop();
  return all.slice(-lines);
}

async function localReport(
  options: GatherOptions,
  base: Omit<Parameters<typeof buildReportModel>[0], 'destination' | 'tonight' | 'earlier' | 'tails' | 'degraded'>,
  degraded: string,
): Promise<ReportModel> {
  const layout = nightLayout(options.schedule.root, options.date);
  const state = await readNightState(layout.state);
  // Nothing of it is published: no log keys to link to. Manual builds are not the nightly's.
  const nightly = state && { ...state, builds: state.builds.filter((b) => !b.manual) };
  const manifest = nightly && buildManifest(nightly, new Map(), { destination: 'local' });
  const tails = new Map<string, string[]>();
  for (const build of nightly?.builds.filter((b) => isFailure(b.status) && b.log) ?? []) {
    const bytes = await readFile(path.join(layout.dir, build.log!)).catch(() => undefined);
    tails.set(build.id, tail(bytes?.subarray(-TAIL_BYTES), options.tailLines ?? 40));
  }
  return buildReportModel({
    ...base,
    destination: 'local',
    tonight: options.schedule.machines.map((m) => ({ machine: m.name, manifest: m.name === options.machine ? manifest : undefined })),
    earlier: [],
    tails,
    degraded,
  });
}
