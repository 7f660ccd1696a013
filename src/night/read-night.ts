/** Finding a night and its builds for the commands that only read (status, log, wait). */
import { didYouMean } from '../config/did-you-mean.js';
import { selector } from '../matrix/select.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { nightLayout, FINISHED_STATUSES, type NightLayout } from './layout.js';
import { readNightLock } from './lock.js';
import { addDays, nightDate, resolveNightDate } from './night-date.js';
import { listNights } from './nights.js';
import { readNightState, type BuildRecord, type NightState } from './state.js';

/**
 * The night a command that reads or acts on one means: --date, or else today's (in the schedule's time
 * zone) once it has begun, else last night's while its run still goes on (a night that crosses
 * midnight), else today's.
 */
export async function nightToRead(root: string, timeZone: string, given: string | undefined, now: Date = new Date()): Promise<string> {
  if (given !== undefined) return resolveNightDate(given, timeZone, now);
  const today = nightDate(now, timeZone);
  if ((await readNightState(nightLayout(root, today).state).catch(() => undefined)) !== undefined) return today;
  const yesterday = addDays(today, -1);
  return (await readNightLock(nightLayout(root, yesterday).lock))?.alive ? yesterday : today;
}

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

/**
 * The builds named on the command line, each an id or a glob over ids (`manywheel_*_cu126`), checked
 * against the night: a name that matches nothing is refused, with the id it most likely meant.
 */
export function pickBuilds(state: NightState, names: readonly string[]): BuildRecord[] {
  if (names.length === 0) return state.builds;
  const picked = new Set<BuildRecord>();
  const ids = state.builds.map((b) => b.id);
  for (const name of names) {
    const matches = isGlob(name) ? state.builds.filter((b) => selector(name)(b.id)) : state.builds.filter((b) => b.id === name);
    if (matches.length === 0) {
      const what = isGlob(name) ? `no build of night ${state.date} matches ${name}` : `no build ${name} in night ${state.date}`;
      throw new NightshiftError(
        `${what}${didYouMean(name, ids)}${ids.length ? '' : ' (the night has no builds yet)'}; its builds are listed by nightshift status --date ${state.date}`,
        ExitCode.nothingSelected,
      );
    }
    for (const build of matches) picked.add(build);
  }
  return [...picked];
}

const isGlob = (name: string) => /[*?[{]/.test(name);
