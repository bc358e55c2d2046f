/**
 * A run's own abort signal, and what a run that ended on it (or on any other failure) rejects
 * with.
 */
import { RunAbortedError, RunError, RunTimeoutError } from '../errors.js';
import { traceIdOf, type RunState } from './run-state.js';

/**
 * The reasons the run's own signal aborts with, as every call in flight sees them: their `kind`
 * is the `error.type` of the spans they end. The run's `timeoutMs` elapsed.
 */
class RunTimeout extends Error {
  override readonly name = 'RunTimeout';
  readonly kind = 'timeout';
}

/** The caller's signal aborted (its reason is the `cause`). */
class RunAborted extends Error {
  override readonly name = 'RunAborted';
  readonly kind = 'aborted';
}

/** A run's signal, and how to let go of the caller's signal and the timer once the run ends. */
export interface RunSignal {
  signal: AbortSignal;
  dispose(): void;
}

/**
 * The signal a run's calls get: it aborts when the caller's signal does (at once if it already
 * has) or after `timeoutMs`. `undefined` when neither is given: a run nothing can abort needs no
 * controller, and every run would pay for one.
 */
export function runSignal(caller: AbortSignal | undefined, timeoutMs: number | undefined): RunSignal | undefined {
  if (!caller && timeoutMs === undefined) return undefined;
  const controller = new AbortController();
  const onAbort = () => controller.abort(new RunAborted('run aborted by the caller', { cause: caller?.reason }));
  if (caller?.aborted) onAbort();
  else caller?.addEventListener('abort', onAbort, { once: true });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new RunTimeout(`run timed out after ${timeoutMs} ms`)), timeoutMs);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
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
  const partial = {
    usage: state.totals.usage,
    costUsd: state.totals.priced ? state.totals.costUsd : undefined,
    steps: state.step,
    toolCalls: state.totals.toolCalls,
    traceId: traceIdOf(state),
  };
  const reason: unknown = signal?.aborted ? signal.reason : undefined;
  if (reason instanceof RunTimeout) return new RunTimeoutError('timeout', reason.message, partial, error);
  if (reason instanceof RunAborted) return new RunAbortedError('aborted', reason.message, partial, error);
  const message = error instanceof Error ? error.message : String(error);
  return new RunError('error', `run failed: ${message}`, partial, error);
}
