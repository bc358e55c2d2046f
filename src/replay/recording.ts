/**
 * A recorded run, rebuilt from its spans: what replay feeds today's agent and compares it with.
 * Plain data, provider-neutral (the same shapes the runtime uses).
 */
import type { StopReason } from '../errors.js';
import type { Message, ReasoningPart, ToolCall, Usage } from '../messages.js';
import type { FinishReason, ToolDefinition } from '../providers/model.js';

/** Where in a trace file a piece of a recording came from, for error messages and reports. */
export interface RecordedSource {
  /** The trace file (or other source name). */
  file: string;
  /** 1-based line of the `ExportTraceServiceRequest` that held the span. */
  line: number;
  spanId: string;
}

/** One recorded model call: the request sent and the response received. */
export interface RecordedModelCall {
  /** `step`: the step's own call; `summary`: a summarising call made while compressing context. */
  purpose: 'step' | 'summary';
  /**
   * The model the call went to (`gen_ai.provider.name`, `gen_ai.request.model` of its `chat`
   * span): the run's model, or for a `fallback()` the one tried. A step whose call failed and
   * went on to the next model holds both calls, the failed one first.
   */
  provider: string;
  model: string;
  request: {
    system?: string;
    messages: Message[];
    tools: ToolDefinition[];
    maxOutputTokens?: number;
    temperature?: number;
  };
  /** Absent when the call failed (its error is then set). */
  response?: {
    id?: string;
    model?: string;
    text: string;
    toolCalls: ToolCall[];
    /** The reasoning text the model returned (`reasoning` parts; no Anthropic signature is recorded). */
    reasoning?: ReasoningPart[];
    finishReason: FinishReason;
    usage: Usage;
  };
  /** `error.type` of a failed call: a `ModelErrorKind` for a provider's error, else the error's name. */
  error?: string;
  /** USD cost recorded on the span (`gen_ai.usage.cost.amount`), when priced. */
  costUsd?: number;
  source: RecordedSource;
}

/** One recorded tool call and its outcome. */
export interface RecordedToolCall {
  id: string;
  name: string;
  arguments: unknown;
  /** The result text sent back to the model (`gen_ai.tool.call.result`). */
  result: string;
  isError: boolean;
  /** `error.type` when the call failed. */
  errorType?: string;
  /**
   * The first sub-run the call started (the one of an agent used as a tool: its `invoke_agent`
   * span under the call's `execute_tool` span), read like a top-level run; its usage and cost are
   * also in the calling run's totals. Absent when the call started none.
   */
  subRun?: RecordedRun;
  /**
   * Every sub-run the call started, in start order: `agent.asTool()` starts one, a tool of your
   * own may call `context.runAgent` several times. `subRuns[0]` is {@link subRun}.
   */
  subRuns?: RecordedRun[];
  source: RecordedSource;
}

/** A recorded context compression. */
export interface RecordedCompression {
  strategy: string;
  tokensBefore: number;
  tokensAfter?: number;
  limit: number;
}

/** A recorded budget event (`tracebound.budget.check` / `.settle`) with its attributes. */
export interface RecordedBudgetEvent {
  name: string;
  attributes: Record<string, unknown>;
}

/** One recorded step. */
export interface RecordedStep {
  /** 1-based (`tracebound.step.index`). */
  index: number;
  finish?: string;
  /** Model calls in the order they were made (summaries first, then the step's call). */
  modelCalls: RecordedModelCall[];
  /** Tool calls, in the order the model asked for them. */
  toolCalls: RecordedToolCall[];
  compression?: RecordedCompression;
  budgetEvents: RecordedBudgetEvent[];
}

/** One recorded run (`invoke_agent {agent}` span and everything under it). */
export interface RecordedRun {
  traceId: string;
  /** The run span's id. */
  spanId: string;
  /**
   * For a sub-run, the `tracebound.parent.run.id` of the run that started it. On a run of the
   * file (not read into a tool call's {@link RecordedToolCall.subRuns}) it marks a sub-run whose
   * `execute_tool` span is not in the file (a partial export): it can be replayed on its own
   * against its sub-agent, and its calling run lacks that tool call.
   */
  parentRunId?: string;
  agentName: string;
  /** `gen_ai.provider.name` and `gen_ai.request.model` of the run. */
  provider: string;
  model: string;
  /** The run's input (`gen_ai.input.messages`): the user's message, or a conversation. */
  input: string | Message[];
  /**
   * The conversation history the run loaded ahead of its input (present when it ran with a
   * `conversationId`, empty for a conversation's first turn): the first
   * `tracebound.conversation.messages` messages of its first model call, as they were after the
   * middleware that may filter a loaded history. Replay puts them ahead of the input, so today's
   * agent sees what the recorded one saw without a store.
   */
  history?: Message[];
  output?: string;
  stopReason?: StopReason;
  usage: Usage;
  /** The run's total USD cost (`tracebound.run.cost_usd`), when every call was priced. */
  costUsd?: number;
  steps: RecordedStep[];
  source: RecordedSource;
}
