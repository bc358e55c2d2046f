import type { z } from 'zod';
import type { Usage } from './messages.js';
import { maskError, maskSecrets } from './secrets.js';

/**
 * A definition was wrong: an agent, a tool, a budget policy, or the agents given to `serve()`
 * (none, or two of one name). Thrown at definition time, so a mistake shows when the module
 * loads, not in the middle of a run.
 */
export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  /** The offending field, as a path (`budget.maxSteps`, `tools[1].name`). */
  readonly field: string;

  constructor(what: string, field: string, problem: string) {
    super(`${what}: ${field} ${problem}`);
    this.field = field;
  }
}

/**
 * Why a run stopped (`tracebound.stop_reason`): `final` (the model answered), a limit (`max_steps`,
 * `max_tool_calls`, `budget_exceeded`, `context_overflow`; `graceful_limit` when `onLimit: 'finish'`
 * let the model answer once more), `interrupted` (tool calls wait for approval), `guardrail` (an
 * input or output guardrail failed: the result's `guardrail` says which and why), or a failure
 * (`aborted`, `timeout`, `error`).
 */
export type StopReason =
  | 'final'
  | 'max_steps'
  | 'max_tool_calls'
  | 'budget_exceeded'
  | 'context_overflow'
  | 'graceful_limit'
  | 'interrupted'
  | 'guardrail'
  | 'aborted'
  | 'timeout'
  | 'error';

/** What a run had done when it ended: carried by results and by run errors alike. */
export interface RunProgress {
  /** Tokens of every model call made so far. */
  usage: Usage;
  /** USD spent so far; `undefined` when a call's model has no known price. */
  costUsd: number | undefined;
  /** Steps started. */
  steps: number;
  /** Tool calls executed. */
  toolCalls: number;
  /** The run span's trace id (all zeros when tracing is off). */
  traceId: string;
}

/**
 * A run that ended with `aborted`, `timeout` or `error`. `run()` rejects with it;
 * the partial usage and cost are kept so nothing spent goes unaccounted. Known API keys are
 * masked in its message and its `cause` chain (see secrets.ts).
 */
export class RunError extends Error {
  override readonly name: string = 'RunError';
  readonly stopReason: 'aborted' | 'timeout' | 'error';
  readonly progress: RunProgress;

  constructor(stopReason: 'aborted' | 'timeout' | 'error', message: string, progress: RunProgress, cause?: unknown) {
    super(maskSecrets(message), { cause: maskError(cause) });
    this.stopReason = stopReason;
    this.progress = progress;
  }
}

/**
 * The model's final answer did not fit the agent's `output` schema, twice: it was sent back once
 * with the validation error, and the second answer failed too. `stopReason: 'error'`. `text` is
 * the last answer as the model gave it; `issues` are zod's (empty when the text was not JSON).
 * Make the schema easier to follow (descriptions, fewer constraints) or use a stronger model.
 * A model that refused to answer (`reason: 'refusal'`, `text` its refusal) fails at once: asking
 * again with the same prompt would be refused again; the input is what to look at.
 */
export class OutputValidationError extends RunError {
  override readonly name = 'OutputValidationError';
  constructor(
    message: string,
    progress: RunProgress,
    /** The answer's raw text. */
    readonly text: string,
    /** Why the schema rejected it; empty when the text was not JSON at all. */
    readonly issues: readonly z.core.$ZodIssue[],
    /**
     * `invalid_json`: the text did not parse; `schema`: the JSON did not validate; `refusal`:
     * the model declined to answer (see `ModelResponse.refusal`). (Not `kind`, which would become
     * the span's `error.type`: that is this error's name.)
     */
    readonly reason: 'invalid_json' | 'schema' | 'refusal',
  ) {
    super('error', message, progress);
  }
}

/** The caller's AbortSignal fired. */
export class RunAbortedError extends RunError {
  override readonly name = 'RunAbortedError';
}

/** The run's `timeoutMs` elapsed. */
export class RunTimeoutError extends RunError {
  override readonly name = 'RunTimeoutError';
}

/**
 * Another process took the run over (its lease lapsed here: this process stalled, or lost the
 * store, for longer than `leaseMs`), so this process stopped running it; `stopReason: 'error'`.
 * The run goes on where it was resumed: its checkpoints there are the ones that count.
 */
export class RunLeaseLostError extends RunError {
  override readonly name = 'RunLeaseLostError';
}

/** `resume` (or a run status read) named a run the store does not have: check the id, and that the runtime uses the store the run was made with. */
export class RunNotFoundError extends Error {
  override readonly name = 'RunNotFoundError';
  constructor(readonly runId: string) {
    super(`no run ${JSON.stringify(runId)} in the store: check the run id and that this runtime uses the store that ran it`);
  }
}

/**
 * A run id is taken by a live run: `resume` found another process holding the run's lease (it is
 * still running: wait for it, or cancel it), or `run` was given the id of an existing run (pick a
 * new id, or `resume` that run).
 */
export class RunInProgressError extends Error {
  override readonly name = 'RunInProgressError';
  constructor(
    readonly runId: string,
    message = `run ${JSON.stringify(runId)} is held by a live process: wait for it to end, or cancel it`,
  ) {
    super(message);
  }
}

/**
 * `resume` could not apply what it was given: a decision names a tool call the run does not wait
 * on (check the run's `interruptions`), or the checkpoint was written by a release with another
 * run-state shape (resume it with that release).
 */
export class ResumeError extends Error {
  override readonly name = 'ResumeError';
  constructor(
    readonly runId: string,
    readonly kind: 'unknown_tool_call' | 'state_version',
    message: string,
  ) {
    super(message);
  }
}

/** Returns a short stable type for an error, used as the span's `error.type`. */
export function errorType(error: unknown): string {
  if (error && typeof error === 'object') {
    const kind = (error as { kind?: unknown }).kind;
    if (typeof kind === 'string') return kind;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}
