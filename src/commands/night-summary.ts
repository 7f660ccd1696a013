/** The lines printed when `run` or `build` ends, and the exit code they lead to. */
import path from 'node:path';
import type { Io } from '../output/io.js';
import { colours } from '../output/colour.js';
import { ExitCode } from '../errors.js';
import type { NightOutcome } from '../runner/run-night.js';

export function reportOutcome(outcome: NightOutcome, io: Io, stopped: boolean): number {
  const { ran, kept, layout } = outcome;
  const counts = new Map<string, number>();
  ran.forEach((b) => counts.set(b.status, (counts.get(b.status) ?? 0) + 1));
  const paint = colours(io);
  const parts = [...counts].map(([status, n]) => paint.status(`${n} ${status}`, status));
  if (kept.length) parts.push(`${kept.length} kept from an earlier run`);
  io.out(`${paint.bold(`night ${layout.date}`)}: ${parts.join(', ') || 'nothing ran'}${stopped ? ' (stopped by a signal)' : ''}`);
  for (const build of ran.filter((b) => b.status !== 'succeeded')) {
    io.out(`  ${paint.status(build.status)} ${build.id}: ${build.reason ?? ''} — log ${build.log ? path.join(layout.dir, build.log) : '(none)'}`);
  }
  const upload = outcome.upload;
  if (upload) {
    io.out(`upload to ${upload.to}: ${upload.uploaded} uploaded, ${upload.skipped} already there${upload.failed.length ? `, ${upload.failed.length} failed` : ''}`);
    for (const failure of upload.failed) io.out(`  not uploaded ${failure.key || upload.to}: ${failure.error}`);
    if (upload.historyWarning) io.err(`nightshift: ${upload.historyWarning}`);
    if (upload.failed.length) {
      io.err('nightshift: some uploads failed; `nightshift upload` tries them again');
      return ExitCode.serviceUnavailable;
    }
  }
  // Builds the machine could not run (its Docker engine was down) are the machine's trouble: exit 4.
  const notRun = ran.filter((b) => b.status === 'not_run');
  if (notRun.length && !stopped) {
    io.err(`nightshift: ${notRun.length} build(s) not run because of the machine (${notRun[0]!.reason ?? 'no reason recorded'}); \`nightshift run\` runs them once it is fixed`);
    return ExitCode.serviceUnavailable;
  }
  // Stopped by a signal: the night is not done, whatever its builds did so far; `run` again goes on.
  if (stopped) return ExitCode.canceled;
  return ran.every((b) => b.status === 'succeeded') ? ExitCode.ok : ExitCode.buildsFailed;
}
