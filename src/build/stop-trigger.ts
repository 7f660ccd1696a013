/**
 * The two ways a running build is stopped from outside — its timeout and the night's abort signal —
 * wired once for both executors. `stop` is called at most once, with the reason.
 */
import type { ExecuteResult } from './executor.js';

export type StopReason = 'timeout' | 'cancel';

export interface StopTrigger {
  /** Why the build was stopped, if it was. */
  readonly reason: StopReason | undefined;
  /** Resolves when the stop action has finished (at once when there was none). */
  settled(): Promise<void>;
  /** The result of a stopped build. */
  result(durationMs: number): ExecuteResult;
  dispose(): void;
}

export function stopTrigger(options: { timeoutMs: number; signal: AbortSignal }, stop: (reason: StopReason) => Promise<void> | undefined): StopTrigger {
  let reason: StopReason | undefined;
  let stopping: Promise<void> | undefined;
  const fire = (why: StopReason) => {
    if (reason) return;
    const action = stop(why);
    if (action === undefined) return; // nothing to stop yet
    reason = why;
    stopping = action;
  };
  const timer = setTimeout(() => fire('timeout'), options.timeoutMs);
  const onAbort = () => fire('cancel');
  options.signal.addEventListener('abort', onAbort, { once: true });
  // Aborted while the build was being set up: the listener came too late to hear it.
  if (options.signal.aborted) onAbort();
  return {
    get reason() {
      return reason;
    },
    settled: async () => stopping,
    result: (durationMs) => ({ exitCode: null, timedOut: reason === 'timeout', canceled: reason === 'cancel', durationMs }),
    dispose() {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
    },
  };
}
