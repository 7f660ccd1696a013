/** Where everything of a night lives under `<root>/YYYY_MM_DD/` — pure path arithmetic. */
import path from 'node:path';

/**
 * How a build that started ended: its outcome, and whether its log goes to logs/succeeded or logs/failed.
 * `not_run`: the machine failed the build (its Docker engine was down), not the build itself.
 */
export type EndStatus = 'succeeded' | 'failed' | 'timed_out' | 'canceled' | 'not_run';
/** A build with nothing more to happen tonight: it ended, or it was skipped. */
export type FinishedStatus = EndStatus | 'skipped';
export type BuildStatus = 'pending' | 'running' | FinishedStatus;
/** Every status a build record may hold, for the readers that check night.json. */
export const BUILD_STATUSES = ['pending', 'running', 'skipped', 'succeeded', 'failed', 'timed_out', 'canceled', 'not_run'] as const satisfies readonly BuildStatus[];
/** The FinishedStatus values, as a list any BuildStatus can be looked up in. */
export const FINISHED_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'timed_out', 'canceled', 'not_run', 'skipped'] satisfies FinishedStatus[];

/** The night's state file in its folder (src/night/state.ts reads and writes it). */
export const NIGHT_STATE_FILE = 'night.json';

/** The journal of a state file: its changes since it was last written whole (src/night/state-journal.ts). */
export function journalOf(stateFile: string): string {
  return `${stateFile}.journal`;
}

export interface NightLayout {
  root: string;
  date: string;
  dir: string;
  /** Fresh clone of the recipes repository. */
  recipes: string;
  logs: { running: string; succeeded: string; failed: string; master: string };
  /** `artifacts/<id>/`: what each build wrote to /out. */
  artifacts: string;
  /** `work/<id>/`: host builds' own copies of the recipes, so parallel builds never share a writable tree. */
  work: string;
  state: string;
  /** night.json's journal: read night.json through readNightState, which applies it. */
  journal: string;
  lock: string;
  reportHtml: string;
  reportText: string;
}

export function nightLayout(root: string, date: string): NightLayout {
  const dir = path.join(root, date);
  const logs = path.join(dir, 'logs');
  return {
    root,
    date,
    dir,
    recipes: path.join(dir, 'recipes'),
    logs: {
      running: path.join(logs, 'running'),
      succeeded: path.join(logs, 'succeeded'),
      failed: path.join(logs, 'failed'),
      master: path.join(logs, 'master'),
    },
    artifacts: path.join(dir, 'artifacts'),
    work: path.join(dir, 'work'),
    state: path.join(dir, NIGHT_STATE_FILE),
    journal: journalOf(path.join(dir, NIGHT_STATE_FILE)),
    lock: path.join(dir, 'night.lock'),
    reportHtml: path.join(dir, 'report.html'),
    reportText: path.join(dir, 'report.txt'),
  };
}

export function runningLog(layout: NightLayout, id: string): string {
  return path.join(layout.logs.running, `${id}.log`);
}

/** Successes go to logs/succeeded; failures, timeouts, cancels and builds not run to logs/failed. */
export function finishedLog(layout: NightLayout, id: string, status: EndStatus): string {
  return path.join(status === 'succeeded' ? layout.logs.succeeded : layout.logs.failed, `${id}.log`);
}

/**
 * An earlier attempt's log, kept beside the build's newest one: `<attempt>` counts every start of the build
 * this night (BuildRecord.attempt), a retry's or a rerun's, so no attempt's log replaces another's.
 */
export function attemptLog(layout: NightLayout, id: string, attempt: number, folder: 'succeeded' | 'failed' = 'failed'): string {
  return path.join(layout.logs[folder], `${id}.attempt-${attempt}.log`);
}

export function artifactDir(layout: NightLayout, id: string): string {
  return path.join(layout.artifacts, id);
}

export function workDir(layout: NightLayout, id: string): string {
  return path.join(layout.work, id);
}
