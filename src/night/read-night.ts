/** Finding a night and its builds for the commands that only read (status, log, wait). */
import { ExitCode, NightshiftError } from '../errors.js';
import { nightLayout, FINISHED_STATUSES, type NightLayout } from './layout.js';
import { readNightLock } from './lock.js';
import { listNights } from './nights.js';
import { readNightState, type BuildRecord, type NightState } from './state.js';

/** The night's state, or a clear error naming the nights that do exist under root. */
export async function readNight(root: string, date: string): Promise<{ layout: NightLayout; state: NightState }> {
  const layout = nightLayout(root, date);
  const state = await readNightState(layout.state);
  if (state) return { layout, state };
  // Only for the message: a root that cannot be listed has no nights to name.
  const nights = await listNights(root).catch(() => [] as string[]);
  const known = nights.length ? `; nights under ${root}: ${nights.slice(-5).join(', ')}` : `; there are no nights under ${root} yet`;
  throw new NightshiftError(`no night ${date} on this machine${known} (choose one with --date YYYY_MM_DD)`, ExitCode.nothingSelected);
}

export function isFinished(build: BuildRecord): boolean {
  return FINISHED_STATUSES.includes(build.status);
}

/** True when the night still has builds to run or running but no live runner holds its lock. */
export async function runnerGone(layout: NightLayout, builds: readonly BuildRecord[]): Promise<boolean> {
  if (builds.every(isFinished)) return false;
  const lock = await readNightLock(layout.lock);
  return !lock?.alive;
}

/** The ids named on the command line, each checked against the night. */
export function pickBuilds(state: NightState, ids: readonly string[]): BuildRecord[] {
  if (ids.length === 0) return state.builds;
  return ids.map((id) => {
    const build = state.builds.find((b) => b.id === id);
    if (build) return build;
    throw new NightshiftError(`no build ${id} in night ${state.date}; its builds are listed by nightshift status --date ${state.date}`, ExitCode.nothingSelected);
  });
}
