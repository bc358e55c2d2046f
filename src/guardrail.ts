/**
 * Guardrails: checks of a run's input before its first model call and of its final answer, each
 * one a `guardrail {name}` span. A failed check stops the run with `stopReason: 'guardrail'`.
 */
import type { Message } from './messages.js';
import type { Model, ModelRequest, ModelResponse } from './providers/model.js';

/** A check's verdict: pass, or fail with a reason (on the result and the run span). */
export type GuardrailVerdict = { ok: true } | { ok: false; reason: string };

/** What a check gets besides the value it checks. */
export interface GuardrailInfo {
  /** The agent's name. */
  readonly agent: string;
  /** The run's id (`tracebound.run.id`). */
  readonly runId: string;
  readonly conversationId?: string;
  /** `input`: before the first model call; `output`: on the final answer. */
  readonly stage: GuardrailStage;
  /** The run's conversation so far (for `input`: a conversation's history and the new input). */
  readonly messages: readonly Message[];
  /** Aborts with the run: pass it on to what the check waits for. */
  readonly signal: AbortSignal;
  /**
   * Asks `model` (e.g. a small, cheap one) through the run's middleware: the call is a `chat`
   * span under this check's span, retried, budgeted and priced like the run's own calls, and its
   * cost counts in the run's `costUsd`. A string is one user message.
   * @throws {ModelCallError} when the call fails after its retries.
   */
  generate(model: Model, request: string | Omit<ModelRequest, 'signal'>): Promise<ModelResponse>;
}

/** Where a guardrail runs. */
export type GuardrailStage = 'input' | 'output';

/**
 * One check. `V` is what it checks: the input's text for an input guardrail; the final answer
 * for an output guardrail (its text, or the parsed object when the agent has an `output` schema).
 * A check that throws fails the run (`stopReason: 'error'`); return `{ ok: false, reason }` to
 * stop it as a result.
 */
export interface Guardrail<V = string> {
  /** The check's name (the span's `guardrail {name}`, `tracebound.guardrail.name`). */
  readonly name: string;
  check(value: V, info: GuardrailInfo): GuardrailVerdict | Promise<GuardrailVerdict>;
}

/** An agent's guardrails, run in order; the first failure stops the run. */
export interface Guardrails<O = string> {
  /** Checks of the run's input text (its user messages joined by blank lines), before the first model call. */
  input?: readonly Guardrail<string>[];
  /** Checks of the final answer (the text, or the typed object with `output`), when the run ends `final` or `graceful_limit`. */
  output?: readonly Guardrail<O>[];
}

/** Which guardrail stopped a run, and why (`RunResult.guardrail`). */
export interface GuardrailTrip {
  name: string;
  stage: GuardrailStage;
  reason: string;
}
