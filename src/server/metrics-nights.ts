/**
 * What /metrics says about the nights under a schedule's root, read from their files at the moment of
 * the scrape: the current night (the newest with a night.json), the newest night that finished, and the
 * newest upload. Nights are read newest first and only as far back as those answers need.
 */
import { nightLayout } from '../night/layout.js';
import { readNightLock } from '../night/lock.js';
import { listNights } from '../night/nights.js';
import { readNightState, type NightState, type UploadRecord } from '../night/state.js';

export interface CurrentNight {
  state: NightState;
  /** A run drives it now: started, not finished, and its runner still holds the night's lock. */
  running: boolean;
}

export interface NightFacts {
  current?: CurrentNight;
  /** `finished_at` of the newest night that finished (a night that runs again has none until it ends again). */
  lastFinishedAt?: string;
  /** The newest night's upload record, and that night's date. */
  lastUpload?: { date: string; record: UploadRecord };
  /** Nights newer than those answers whose night.json could not be read (skipped). */
  unreadable: number;
}

export async function readNightFacts(root: string): Promise<NightFacts> {
  const facts: NightFacts = { unreadable: 0 };
  const nights = (await listNights(root)).reverse();
  for (const date of nights) {
    const layout = nightLayout(root, date);
    let state: NightState | undefined;
    try {
      state = await readNightState(layout.state);
    } catch {
      facts.unreadable += 1;
      continue;
    }
    if (state === undefined) continue; // a folder made moments ago, before its first night.json
    facts.current ??= { state, running: await isRunning(state, layout.lock) };
    if (facts.lastFinishedAt === undefined && state.finished_at !== undefined) facts.lastFinishedAt = state.finished_at;
    if (facts.lastUpload === undefined && state.upload !== undefined) facts.lastUpload = { date, record: state.upload };
    if (facts.lastFinishedAt !== undefined && facts.lastUpload !== undefined) break;
  }
  return facts;
}

/**
 * A night.json without `finished_at` may be a run that died (killed, power lost): it runs only while the
 * process it names still holds the lock. A lock that cannot be read says nothing either way: not running.
 */
async function isRunning(state: NightState, lockPath: string): Promise<boolean> {
  if (state.finished_at !== undefined || state.runner_pid === undefined) return false;
  const lock = await readNightLock(lockPath).catch(() => undefined);
  return lock?.alive === true && lock.pid === state.runner_pid;
}
