/**
 * Process exit handling for commands that own a traced runtime (`tracebound run`, serve mode):
 * spans still queued when the process is asked to stop are flushed before it exits.
 */

/** What {@link flushOnExit} takes. */
export interface FlushOnExitOptions {
  /** Flushes and closes the exporters (`TracedRuntime.shutdown`); called at most once from here. */
  shutdown(): Promise<void>;
  /**
   * Called on the first SIGINT or SIGTERM: stop the work (abort the run, stop taking input); the
   * caller then shuts down and returns as usual, so the spans of the stopped work are exported.
   */
  onSignal(signal: NodeJS.Signals): void;
  /** Ends the process at once on a second signal; `process.exit` by default (tests pass their own). */
  exit?: (code: number) => void;
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 };

/**
 * Installs the exit handlers until the returned function removes them:
 * - first SIGINT/SIGTERM: `onSignal` (the process does not die, so the caller's flush runs);
 * - second SIGINT/SIGTERM: exit at once with 128 + the signal's number (130, 143), for a user who
 *   does not want to wait for a slow backend;
 * - `beforeExit` (the event loop ran dry, e.g. the work awaits a promise that never settles):
 *   `shutdown()`, so queued spans are exported instead of lost with the process.
 * Keep them installed until the caller's own shutdown has finished: a signal during that flush
 * must not kill the process with Node's default handler.
 */
export function flushOnExit(options: FlushOnExitOptions): () => void {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let signalled = false;
  let flushed = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      return;
    }
    signalled = true;
    options.onSignal(signal);
  };
  const onBeforeExit = () => {
    // `beforeExit` fires again once the flush's own work is done; flush only the first time.
    if (flushed) return;
    flushed = true;
    options.shutdown().catch((error: unknown) => console.warn(`tracebound: flushing spans at exit failed: ${String(error)}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('beforeExit', onBeforeExit);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('beforeExit', onBeforeExit);
  };
}
