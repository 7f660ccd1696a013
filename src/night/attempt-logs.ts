/**
 * Earlier attempts' logs are kept when a build starts again: `logs/<status>/<id>.log` is renamed to
 * `logs/<status>/<id>.attempt-<N>.log` (N: the attempt that wrote it) before the new attempt starts, so
 * `<id>.log` is always the newest attempt's and nothing shows or overwrites an old one as the new one.
 * A log left in `running/` by a runner that died goes to `failed/`: that attempt never finished.
 */
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { attemptLog, finishedLog, runningLog, type NightLayout } from './layout.js';

/** Renames the build's current logs aside; `attempt` is the number of the attempt that wrote them. Returns the new paths. */
export async function keepEarlierLogs(layout: NightLayout, id: string, attempt: number): Promise<string[]> {
  const kept: string[] = [];
  const moves: [string, 'succeeded' | 'failed'][] = [
    [runningLog(layout, id), 'failed'],
    [finishedLog(layout, id, 'succeeded'), 'succeeded'],
    [finishedLog(layout, id, 'failed'), 'failed'],
  ];
  for (const [from, folder] of moves) {
    const taken = new Set(await readdir(layout.logs[folder]).catch(() => [] as string[]));
    let n = Math.max(1, attempt);
    while (taken.has(path.basename(attemptLog(layout, id, n, folder)))) n++;
    const to = attemptLog(layout, id, n, folder);
    try {
      await rename(from, to);
      kept.push(to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return kept;
}

/** An attempt that runs again keeps its log: logs/failed/<id>.attempt-<n>.log, n its number of starts this night. */
export async function keepAttemptLog(layout: NightLayout, id: string, from: string, attempt: number): Promise<string> {
  const to = attemptLog(layout, id, attempt);
  await rename(from, to);
  return to;
}
