import type { StopReason } from '../errors.js';
import type { Message, ToolCall, Usage } from '../messages.js';
import type { ModelCallError } from '../providers/errors.js';

/** What an interrupted run waits for: one tool call that needs a person's approval. */
export interface Interruption {
  kind: 'tool_approval';
  /** The model's id of the call (`gen_ai.tool.call.id`): the key of its approval. */
  toolCallId: string;
  toolName: string;
  /** The call's arguments as the model sent them (validated against the tool's schema). */
  arguments: unknown;
}

/** What a finished run returns: `runtime.run()` resolves with it, `stream()` ends with it in `run-end`. */
export interface RunResult {
  /** The run's id (`tracebound.run.id`): the caller's `runId`, or a random UUID. */
  runId: string;
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
  /** With `stopReason: 'interrupted'`: the tool calls waiting for approval (resume with decisions). */
  interruptions?: Interruption[];
}

/**
 * One budget scope's decision before a model call (`tracebound.budget.check`). Amounts in USD;
 * `run` is the run's `runCostUsd`, `spend` the agent's rolling window.
 */
export interface BudgetCheck {
  /** `spend` is a `per: 'agent'` window; `tenant` and `user` the run's tenant's and user's windows. */
  scope: 'run' | 'spend' | 'tenant' | 'user';
  limit: number;
  /** Settled spend in the scope before this call. */
  spent: number;
  /** Held by open reservations (this call's included when granted). */
  reserved: number;
  remaining: number;
  /** `allow` the whole worst case, `lower` max output tokens, `refuse` the call. */
  decision: 'allow' | 'lower' | 'refuse';
  requestedUsd: number;
  grantedUsd: number;
}

/** One budget scope's settlement after a call (`tracebound.budget.settle`). Amounts in USD. */
export interface BudgetSettle {
  scope: BudgetCheck['scope'];
  reserved: number;
  actual: number;
}

/** How a step ended (`tracebound.step.finish`). */
export type StepFinish = 'tool_calls' | 'final' | 'stopped';

/**
 * A run's events, in order: `run-start`, then per step `step-start`, deltas (streaming only),
 * `usage`, tool call starts and ends, `step-end`, and last `run-end` or `run-error` (a
 * `stream()` then throws the {@link RunError}). A resumed run sends an `approval` per decision
 * before its first step. `runtime.stream()` yields them; every run (`run()` too) also logs them
 * in the store, where `runtime.subscribe()` reads them.
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
  | ({
      type: 'budget-check';
      step: number;
      /** 0 for a priced tool call. */
      maxOutputTokens: number;
      /** Set when the decision is about a priced tool call (`costUsd`) rather than a model call. */
      toolCallId?: string;
    } & BudgetCheck)
  | ({ type: 'budget-settle'; step: number; toolCallId?: string } & BudgetSettle)
  | {
      type: 'budget-store-error';
      step: number;
      /** The store error's type (`error.type`). */
      errorType: string;
      /** `open`: the run went on unguarded by the window; `closed`: the next reservation fails. */
      policy: 'open' | 'closed';
      /** USD spent that the store did not record (a failed settle); absent for a failed reservation. */
      unsettledUsd?: number;
    }
  | {
      type: 'approval';
      /** The interrupted step whose tool call it decides. */
      step: number;
      toolCallId: string;
      toolName: string;
      approved: boolean;
      /** Why a call was denied, as the approver gave it. */
      reason?: string;
    }
  | {
      /**
       * An event of a sub-run (`agent.asTool()`) started by one of this run's tool calls, as that
       * sub-run emitted it (a nested sub-run's events arrive wrapped once per level).
       */
      type: 'sub-agent';
      /** The sub-run's agent name. */
      agent: string;
      /** The sub-run's id (`tracebound.run.id` of its span). */
      runId: string;
      /** The calling tool call's id (`gen_ai.tool.call.id`). */
      toolCallId: string;
      event: RunEvent;
    }
  | { type: 'run-end'; result: RunResult }
  | {
      type: 'run-error';
      stopReason: 'aborted' | 'timeout' | 'error';
      /** The failure's `error.type` and its message, known secrets masked. */
      error: { type: string; message: string };
    };
