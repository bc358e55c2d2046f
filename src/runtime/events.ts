import type { StopReason } from '../errors.js';
import type { Message, ToolCall, Usage } from '../messages.js';
import type { ModelCallError } from '../providers/errors.js';

/** What a finished run returns: `runtime.run()` resolves with it, `stream()` ends with it in `run-end`. */
export interface RunResult {
  /** The final answer's text (the last assistant text when the run stopped at a limit). */
  output: string;
  /** The whole conversation, system prompt excluded. */
  messages: Message[];
  /** Tokens of every model call of the run (GenAI semconv rules, see {@link Usage}). */
  usage: Usage;
  /** USD of every model call; `undefined` when a call's model has no known price. */
  costUsd: number | undefined;
  /** Steps taken (one model call each, plus its tool calls). */
  steps: number;
  /** Tool calls executed. */
  toolCalls: number;
  stopReason: StopReason;
  /** The run span's trace id (all zeros when tracing is off). */
  traceId: string;
}

/** How a step ended (`tracebound.step.finish`). */
export type StepFinish = 'tool_calls' | 'final' | 'stopped';

/**
 * What `runtime.stream()` yields, in order: `run-start`, then per step `step-start`, deltas,
 * `usage`, tool call starts and ends, `step-end`, and last `run-end` (or the stream throws a
 * {@link RunError}).
 */
export type RunEvent =
  | { type: 'run-start'; agent: string; traceId: string }
  | { type: 'step-start'; step: number }
  | { type: 'text-delta'; step: number; text: string }
  | { type: 'reasoning-delta'; step: number; text: string }
  | { type: 'retry'; step: number; attempt: number; delayMs: number; error: ModelCallError }
  | { type: 'usage'; step: number; usage: Usage; costUsd: number | undefined }
  | { type: 'tool-call-start'; step: number; toolCall: ToolCall }
  | {
      type: 'tool-call-end';
      step: number;
      toolCall: ToolCall;
      /** The result text sent back to the model. */
      result: string;
      isError: boolean;
      /** Wall time of the call, in ms. */
      durationMs: number;
    }
  | { type: 'step-end'; step: number; finish: StepFinish }
  | { type: 'run-end'; result: RunResult };
