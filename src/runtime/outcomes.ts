/**
 * What each unit of a run returns, as discriminated unions of plain data: the loop branches on
 * them, middleware may return them, and tracing records them. No stop travels as an exception;
 * exceptions are for failures (`aborted`, `timeout`, `error`).
 */
import type { StopReason } from '../errors.js';
import type { Message } from '../messages.js';
import type { CallCost } from '../pricing/price.js';
import type { ModelResponse } from '../providers/model.js';
import type { StepFinish } from './events.js';
import type { LastCallReason } from './run-state.js';

/**
 * How a step ended: `continue` to the next step (its tool calls were answered); `final` with the
 * answer (with `why` when a limit made the call tool-less: the run's stop is `graceful_limit`);
 * `stop` at a limit before or instead of the answer.
 */
export type StepOutcome =
  | { kind: 'continue' }
  | { kind: 'final'; why?: LastCallReason }
  | { kind: 'stop'; stopReason: Exclude<StopReason, 'final' | 'graceful_limit' | 'aborted' | 'timeout' | 'error'> };

/**
 * What a model call gave: the response with its cost (`undefined` when the model has no known
 * price), or a refusal to make the call at all (the budget, or a prompt no strategy could fit).
 */
export type ModelCallOutcome =
  | { kind: 'response'; response: ModelResponse; cost: CallCost | undefined }
  | { kind: 'refused'; stopReason: 'budget_exceeded' | 'context_overflow' };

/** What a compression strategy made of the prompt. Tokens are prompt tokens. */
export interface CompressOutcome {
  messages: Message[];
  tokensAfter: number;
}

/** How a step ended, in the words of `tracebound.step.finish`. */
export function stepFinish(outcome: StepOutcome): StepFinish {
  return outcome.kind === 'continue' ? 'tool_calls' : outcome.kind === 'final' ? 'final' : 'stopped';
}
