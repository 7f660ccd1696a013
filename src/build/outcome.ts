/** How an executor's result and the artifacts found become a build status — pure. */
import type { EndStatus } from '../night/layout.js';
import { formatDuration } from '../units.js';
import type { ExecuteResult } from './executor.js';

/** How a build ended; every ending but success says why. */
export type Outcome = { status: 'succeeded'; reason?: undefined } | { status: Exclude<EndStatus, 'succeeded'>; reason: string };

export interface OutcomeContext {
  machine: string;
  /** Why nightshift could not write the build's log, when it could not. */
  logError?: string;
}

export function buildOutcome(result: ExecuteResult, artifactCount: number, artifacts: 'required' | 'optional', timeoutS: number, context: OutcomeContext): Outcome {
  const { logError } = context;
  if (result.canceled) return { status: 'canceled', reason: 'canceled: nightshift was stopped while the build ran' };
  if (result.timedOut) return { status: 'timed_out', reason: `timed out after ${formatDuration(timeoutS)} and was killed` };
  // The machine's fault is never the build's: reported apart, and `nightshift run` runs it again.
  if (result.fault) {
    const how = { engine_down: '', engine_lost: 'it went away while the build ran: ', engine_error: 'it failed: ' }[result.fault.kind];
    return { status: 'not_run', reason: `not run: the Docker engine on ${context.machine} was down (${how}${result.fault.detail})` };
  }
  if (result.startError) return { status: 'failed', reason: result.startError };
  // A build whose log is incomplete is not a build anyone can vouch for.
  if (logError !== undefined && result.exitCode === 0) return { status: 'failed', reason: `nightshift could not write the build's log: ${logError}` };
  if (result.exitCode !== 0) return { status: 'failed', reason: `exit code ${result.exitCode ?? 'unknown (killed)'}` };
  if (artifacts === 'required' && artifactCount === 0) {
    return { status: 'failed', reason: 'no artifact: the build exited 0 but wrote no file to its output folder (set artifacts: optional if that is expected)' };
  }
  return { status: 'succeeded' };
}

/**
 * A failed build on a full disk: the disk is named as the cause (the build's own error is often just
 * "exit code 1"), and its partial output was removed so the night's records and next builds can be written.
 */
export function onFullDisk(outcome: Outcome, mountPoint: string): Outcome {
  const why = outcome.reason ? ` (${outcome.reason})` : '';
  return { status: 'failed', reason: `no space left on device: free space under ${mountPoint}${why}; its partial output was removed` };
}

/** The last line of every build log. */
export function footerLine(outcome: Outcome, exitCode: number | null, durationMs: number): string {
  const parts = [`nightshift: ${outcome.status}`, `exit code ${exitCode ?? '-'}`, `duration ${formatDuration(durationMs / 1000)}`];
  if (outcome.reason && !outcome.reason.startsWith('exit code')) parts.push(outcome.reason);
  return parts.join(' · ');
}
