/** `nightshift status`: every build of a night with status, duration, exit code and reason. */
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import type { Schedule } from '../config/model.js';
import { ExitCode, messageOf, NightshiftError } from '../errors.js';
import { collectNight } from '../report/collect.js';
import { describeNextRuns, nextRuns } from '../daemon/next-runs.js';
import { openScheduleDestination } from '../store/open.js';
import { buildJson } from './json-shapes.js';
import { nightToRead, readNight, runnerGone } from '../night/read-night.js';
import { formatDuration } from '../units.js';
import { table } from '../output/table.js';
import { colours } from '../output/colour.js';
import { redactedRedisUrl, resolveRedisUrl } from '../config/queue-url.js';
import { readFleetSnapshot, type FleetSnapshot } from '../queue/fleet-snapshot.js';
import { clockTime, liveFleetJson, liveFleetText } from './fleet-view.js';

export interface StatusOptions extends GlobalOptions {
  json?: boolean;
  allMachines?: boolean;
}

export async function status(options: StatusOptions, io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = await nightToRead(schedule.root, schedule.timezone, options.date);
  if (options.allMachines) return fleetStatus(schedule, date, options, io);
  // When the daemon starts the next night and report: shown even before the first night exists.
  const next = nextRuns(schedule, new Date());
  const { layout, state } = await readNight(schedule.root, date).catch((error: unknown) => {
    if (!options.json) io.out(describeNextRuns(next));
    throw error;
  });
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          date: state.date,
          machine: state.machine,
          recipes: state.recipes ?? null,
          started_at: state.started_at ?? null,
          finished_at: state.finished_at ?? null,
          queue: state.queue ? { url: redactedRedisUrl(state.queue.url), unreachable_since: state.queue.unreachable_since ?? null } : null,
          next: { night: next.night?.at.toISOString() ?? null, report: next.report?.at.toISOString() ?? null },
          builds: state.builds.map((b) => buildJson(b, layout.dir)),
        },
        null,
        2,
      ),
    );
    return ExitCode.ok;
  }
  // Manual builds (by hand, outside this machine's share) are counted apart from the nightly's.
  const counts = new Map<string, number>();
  state.builds.filter((b) => !b.manual).forEach((b) => counts.set(b.status, (counts.get(b.status) ?? 0) + 1));
  const manual = state.builds.filter((b) => b.manual).length;
  const paint = colours(io);
  const summary = [...[...counts].map(([s, n]) => paint.status(`${n} ${s}`, s)), ...(manual ? [`${manual} manual`] : [])].join(', ');
  const recipes = state.recipes ? ` · recipes ${state.recipes.commit.slice(0, 12)}` : '';
  io.out(`night ${state.date} on ${state.machine}${recipes} · ${summary}`);
  if (await runnerGone(layout, state.builds)) {
    io.out('the runner of this night is gone with builds unfinished: `nightshift run` resumes it');
  }
  if (state.queue?.unreachable_since) {
    const since = clockTime(state.queue.unreachable_since, schedule.timezone);
    io.out(`the shared queue at ${redactedRedisUrl(state.queue.url)} has been unreachable since ${since}; running builds go on, nothing new starts`);
  }
  const rows = state.builds.map((b) => [
    b.id,
    b.manual ? `${paint.status(b.status)} (manual)` : paint.status(b.status),
    b.duration_s === undefined ? '' : formatDuration(b.duration_s),
    b.exit_code === undefined || b.exit_code === null ? '' : String(b.exit_code),
    b.reason ?? '',
  ]);
  io.out(table([['build', 'status', 'duration', 'exit', 'reason'], ...rows], { alignRight: [2, 3] }).join('\n'));
  io.out(describeNextRuns(next));
  return ExitCode.ok;
}

/** What the shared queue says of the night, when the schedule has one. */
type QueueView =
  { kind: 'none' } | { kind: 'live'; url: string; snapshot: FleetSnapshot } | { kind: 'absent'; url: string } | { kind: 'unreachable'; url: string; problem: string };

async function readQueueView(schedule: Schedule, date: string): Promise<QueueView> {
  const resolved = resolveRedisUrl(schedule);
  if (!resolved) return { kind: 'none' };
  const url = redactedRedisUrl(resolved.url);
  try {
    const snapshot = await readFleetSnapshot({ url: resolved.url, schedule: schedule.name, date });
    return snapshot.exists ? { kind: 'live', url, snapshot } : { kind: 'absent', url };
  } catch (error) {
    if (error instanceof NightshiftError && error.exitCode === ExitCode.serviceUnavailable) return { kind: 'unreachable', url, problem: error.message };
    throw error;
  }
}

/**
 * --all-machines: live from the shared queue while it holds the night; else (no queue, a past night, or
 * Redis unreachable) every machine's builds from the manifests published at the destination. An
 * unreachable queue is said in one line and makes the exit code 4, after the manifests are shown.
 */
async function fleetStatus(schedule: Schedule, date: string, options: StatusOptions, io: Io): Promise<number> {
  const view = await readQueueView(schedule, date);
  if (view.kind === 'live') {
    const live = { schedule, date, url: view.url, snapshot: view.snapshot, now: new Date() };
    io.out(options.json ? JSON.stringify(liveFleetJson(live), null, 2) : liveFleetText(live));
    return ExitCode.ok;
  }
  if (view.kind === 'unreachable') {
    if (options.json) io.err(`nightshift: warning: ${view.problem}`);
    else io.out(`no live view, the published manifests follow: ${view.problem}`);
  }
  if (view.kind === 'absent' && !options.json) io.out(`the shared queue at ${view.url} holds no night ${date} (past, not started, or removed); the published manifests follow`);
  const queue =
    view.kind === 'none'
      ? null
      : view.kind === 'unreachable'
        ? { url: view.url, reachable: false, exists: null, problem: view.problem }
        : { url: view.url, reachable: true, exists: false };
  await manifestStatus(schedule, date, options, io, queue);
  return view.kind === 'unreachable' ? ExitCode.serviceUnavailable : ExitCode.ok;
}

/** Every machine's builds, from the manifests published at the destination. */
async function manifestStatus(schedule: Schedule, date: string, options: StatusOptions, io: Io, queue: object | null): Promise<void> {
  const destination = await openScheduleDestination(schedule, date).catch((error: unknown) => {
    throw new NightshiftError(`cannot read the destination of ${schedule.file}: ${messageOf(error)}`, ExitCode.serviceUnavailable);
  });
  const fleet = await collectNight(
    destination,
    date,
    schedule.machines.map((m) => m.name),
  ).catch((error: unknown) => {
    throw new NightshiftError(`cannot read the manifests of night ${date} at ${destination.url}: ${messageOf(error)}`, ExitCode.serviceUnavailable);
  });
  for (const { problem } of fleet.machines) if (problem) io.err(`nightshift: warning: ${problem}`);
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          date,
          source: 'manifests',
          queue,
          destination: fleet.destination,
          machines: fleet.machines.map((m) => ({
            name: m.name,
            published: m.manifest !== undefined,
            builds: m.manifest?.builds ?? [],
            ...(m.problem ? { problem: m.problem } : {}),
          })),
        },
        null,
        2,
      ),
    );
    return;
  }
  io.out(`night ${date} at ${fleet.destination}`);
  const paint = colours(io);
  const rows: string[][] = [];
  for (const { name, manifest, problem } of fleet.machines) {
    if (problem) {
      io.out(`${name}: its manifest cannot be read (see the warning); its builds are not shown`);
      continue;
    }
    if (!manifest) {
      io.out(`${name}: nothing published for this night (not run yet, still running, or its upload failed)`);
      continue;
    }
    for (const b of manifest.builds) {
      rows.push([name, b.id, paint.status(b.status), b.duration_s === null ? '' : formatDuration(b.duration_s), b.exit_code === null ? '' : String(b.exit_code), b.reason ?? '']);
    }
  }
  if (rows.length) io.out(table([['machine', 'build', 'status', 'duration', 'exit', 'reason'], ...rows], { alignRight: [3, 4] }).join('\n'));
}
