/** `nightshift status`: every build of a night with status, duration, exit code and reason. */
import path from 'node:path';
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import type { Schedule } from '../config/model.js';
import { ExitCode, messageOf, NightshiftError } from '../errors.js';
import { collectNight } from '../report/collect.js';
import { describeNextRuns, nextRuns } from '../daemon/next-runs.js';
import { openScheduleDestination } from '../store/open.js';
import { resolveNightDate } from '../night/night-date.js';
import { readNight, runnerGone } from '../night/read-night.js';
import type { BuildRecord } from '../night/state.js';
import { formatDuration } from '../units.js';
import { table } from '../output/table.js';

export interface StatusOptions extends GlobalOptions {
  json?: boolean;
  allMachines?: boolean;
}

export async function status(options: StatusOptions, io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  if (options.allMachines) return fleetStatus(schedule, date, options, io);
  // When the daemon starts the next night and report: shown even before the first night exists.
  const next = nextRuns(schedule, new Date());
  const { layout, state } = await readNight(schedule.root, date).catch((error: unknown) => {
    if (!options.json) io.out(describeNextRuns(next));
    throw error;
  });
  const logPath = (b: BuildRecord) => (b.log ? path.join(layout.dir, b.log) : null);
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          date: state.date,
          machine: state.machine,
          recipes: state.recipes ?? null,
          started_at: state.started_at ?? null,
          finished_at: state.finished_at ?? null,
          next: { night: next.night?.at.toISOString() ?? null, report: next.report?.at.toISOString() ?? null },
          builds: state.builds.map((b) => ({
            id: b.id,
            status: b.status,
            exit_code: b.exit_code ?? null,
            duration_s: b.duration_s ?? null,
            reason: b.reason ?? null,
            log: logPath(b),
            artifacts: b.artifacts ?? [],
            manual: b.manual ?? false,
          })),
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
  const summary = [...[...counts].map(([s, n]) => `${n} ${s}`), ...(manual ? [`${manual} manual`] : [])].join(', ');
  const recipes = state.recipes ? ` · recipes ${state.recipes.commit.slice(0, 12)}` : '';
  io.out(`night ${state.date} on ${state.machine}${recipes} · ${summary}`);
  if (await runnerGone(layout, state.builds)) {
    io.out('the runner of this night is gone with builds unfinished: `nightshift run` resumes it');
  }
  const rows = state.builds.map((b) => [
    b.id,
    b.manual ? `${b.status} (manual)` : b.status,
    b.duration_s === undefined ? '' : formatDuration(b.duration_s),
    b.exit_code === undefined || b.exit_code === null ? '' : String(b.exit_code),
    b.reason ?? '',
  ]);
  io.out(table([['build', 'status', 'duration', 'exit', 'reason'], ...rows], { alignRight: [2, 3] }).join('\n'));
  io.out(describeNextRuns(next));
  return ExitCode.ok;
}

/** --all-machines: every machine's builds, from the manifests published at the destination. */
async function fleetStatus(schedule: Schedule, date: string, options: StatusOptions, io: Io): Promise<number> {
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
    return ExitCode.ok;
  }
  io.out(`night ${date} at ${fleet.destination}`);
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
      rows.push([name, b.id, b.status, b.duration_s === null ? '' : formatDuration(b.duration_s), b.exit_code === null ? '' : String(b.exit_code), b.reason ?? '']);
    }
  }
  if (rows.length) io.out(table([['machine', 'build', 'status', 'duration', 'exit', 'reason'], ...rows], { alignRight: [3, 4] }).join('\n'));
  return ExitCode.ok;
}
