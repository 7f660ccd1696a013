/** SIGINT/SIGTERM stop a night cleanly: nothing new starts, running builds are killed and marked canceled. */

export interface StopSignals {
  signal: AbortSignal;
  /** Removes the handlers (call when the night is over). */
  dispose(): void;
}

export function stopOnSignals(onStop: (signal: NodeJS.Signals) => void = () => {}): StopSignals {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return; // a second Ctrl-C changes nothing: cleanup is already under way
    onStop(signal);
    controller.abort(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** SIGHUP (the daemon's "reload the configuration"): calls `handler` each time; returns the remover. */
export function onHangup(handler: () => void): () => void {
  process.on('SIGHUP', handler);
  return () => void process.off('SIGHUP', handler);
}
