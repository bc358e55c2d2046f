/**
 * A run's own abort signal, and what a run that ended on it (or on any other failure) rejects
 * with.
 */
import { endRaces } from '../abort.js';
import { errorType, RunAbortedError, RunError, RunLeaseLostError, RunTimeoutError, type RunProgress } from '../errors.js';
import { maskSecrets } from '../secrets.js';
import { traceIdOf, type RunState } from './run-state.js';

/**
 * The reasons the run's own signal aborts with, as every call in flight sees them: their `kind`
 * is the `error.type` of the spans they end. The run's `timeoutMs` elapsed.
 */
class RunTimeout extends Error {
  override readonly name = 'RunTimeout';
  readonly kind = 'timeout';
}

/** The caller's signal aborted (its reason is the `cause`), or `runtime.cancel()` ended the run. */
class RunAborted extends Error {
  override readonly name = 'RunAborted';
  readonly kind = 'aborted';
}

/** Another process took the run over. */
class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
  readonly kind = 'lease_lost';
}

/**
 * Why something other than the caller or the timeout ends a run ({@link RunSignal.abort}):
 * `cancelled` by `runtime.cancel()` (the run rejects with `RunAbortedError`), or `lease_lost` to
 * another process (`RunLeaseLostError`).
 */
export type RunAbort = 'cancelled' | 'lease_lost';

/** A run's signal, how to abort it, and how to let go of the caller's signal and the timer once the run ends. */
export interface RunSignal {
  signal: AbortSignal;
  /** Aborts the run (the first abort wins). */
  abort(why: RunAbort): void;
  dispose(): void;
}

/**
 * The signal a run's calls get: it aborts when the caller's signal does (at once if it already
 * has), after `timeoutMs`, or on {@link RunSignal.abort} (a cancel, a lost lease).
 */
export function runSignal(caller: AbortSignal | undefined, timeoutMs: number | undefined): RunSignal {
  const controller = new AbortController();
  const onAbort = () => controller.abort(new RunAborted('run aborted by the caller', { cause: caller?.reason }));
  if (caller?.aborted) onAbort();
  else caller?.addEventListener('abort', onAbort, { once: true });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new RunTimeout(`run timed out after ${timeoutMs} ms`)), timeoutMs);
  return {
    signal: controller.signal,
    abort: (why) => {
      if (controller.signal.aborted) return;
      controller.abort(
        why === 'cancelled'
          ? new RunAborted('run cancelled (runtime.cancel)')
          : new LeaseLost('another process took the run over: its lease lapsed here (this process stalled or lost the store for longer than leaseMs)'),
      );
    },
    dispose: () => {
      clearTimeout(timer);
      endRaces(controller.signal);
      caller?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * What a failed run rejects with: a {@link RunTimeoutError} or {@link RunAbortedError} when its
 * signal ended it, else a {@link RunError} (`stopReason: 'error'`) around the failure; each with
 * the run's partial usage and cost. A {@link RunError} passes through.
 */
export function toRunError(error: unknown, state: RunState, signal: AbortSignal | undefined): RunError {
  if (error instanceof RunError) return error;
  const partial = progressOf(state);
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  if (reason instanceof RunTimeout) return new RunTimeoutError('timeout', reason.message, partial, error);
  if (reason instanceof RunAborted) return new RunAbortedError('aborted', reason.message, partial, error);
  if (reason instanceof LeaseLost) return new RunLeaseLostError('error', reason.message, partial, error);
  const message = error instanceof Error ? error.message : String(error);
  return new RunError('error', `run failed: ${message}`, partial, error);
}

/** What a run had done so far, as its errors carry it. */
export function progressOf(state: RunState): RunProgress {
  return {
    usage: state.totals.usage,
    costUsd: state.totals.priced ? state.totals.costUsd : undefined,
    steps: state.step,
    toolCalls: state.totals.toolCalls,
    traceId: traceIdOf(state),
  };
}

/**
 * A failed run's error as its record and its `run-error` event carry it: the stop reason, and
 * the failure's type (`error.type`, of its cause when it has one, as on the run span) and
 * message with known secrets masked.
 */
export function failureOf(error: unknown): { type: string; message: string; stopReason: 'aborted' | 'timeout' | 'error' } {
  const stopReason = (error as { stopReason?: unknown } | undefined)?.stopReason;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return {
    type: errorType(cause ?? error),
    message: maskSecrets(error instanceof Error ? error.message : String(error)),
    stopReason: stopReason === 'aborted' || stopReason === 'timeout' ? stopReason : 'error',
  };
}
