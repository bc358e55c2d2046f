/**
 * Provider-neutral messages, tool calls and token usage.
 *
 * Every provider adapter converts to and from these shapes, so the runtime, the tracing and the
 * replay never see a provider's wire format.
 */

/** A tool call the model asked for. */
export interface ToolCall {
  /** The provider's call id (`call_...` for OpenAI, `toolu_...` for Anthropic; made by tracebound when Gemini gives none). */
  id: string;
  /** The tool's name, as the model spelled it. */
  name: string;
  /**
   * The arguments, parsed from the provider's JSON. When the model sent text that is not JSON,
   * the raw string is kept here so validation can say what was wrong.
   */
  arguments: unknown;
  /**
   * An opaque signature the provider attached to the call and wants back unchanged with it on the
   * next turn: Gemini's `thoughtSignature` of a `functionCall` part (Gemini 3 rejects a follow-up
   * whose function calls lack theirs, ai.google.dev/gemini-api/docs/thought-signatures). A string,
   * so conversations, checkpoints and recordings keep it as they keep the rest of the call.
   */
  signature?: string;
}

/** A piece of reasoning ("thinking") the model returned with its answer. */
export interface ReasoningPart {
  /** The reasoning text or summary (may be empty when the provider only returns a signature). */
  text: string;
  /** Anthropic's `signature` of a thinking block, needed to send the block back on the next turn. */
  signature?: string;
  /** Anthropic's `redacted_thinking` payload. */
  redacted?: string;
}

/** The system prompt. The agent's `instructions` become one at the start of every request. */
export interface SystemMessage {
  role: 'system';
  content: string;
}

/** What the user said. */
export interface UserMessage {
  role: 'user';
  content: string;
}

/** What the model answered: text, tool calls, or both. */
export interface AssistantMessage {
  role: 'assistant';
  content: string;
  toolCalls?: ToolCall[];
  reasoning?: ReasoningPart[];
}

/** The result of one tool call, sent back to the model. */
export interface ToolMessage {
  role: 'tool';
  /** The {@link ToolCall.id} this result answers. */
  toolCallId: string;
  toolName: string;
  /** The result as text (JSON for structured results). */
  content: string;
  /** True when the tool failed or its arguments were invalid; the content says why. */
  isError?: boolean;
}

/** One message of a conversation. */
export type Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage;

/**
 * Token usage of one model call or a whole run, following the OpenTelemetry GenAI semantic
 * conventions (`gen_ai.usage.*`): `inputTokens` includes cache-read and cache-write tokens, and
 * `outputTokens` includes reasoning tokens. All counts are tokens.
 */
export interface Usage {
  /** Prompt tokens, cached ones included (`gen_ai.usage.input_tokens`). */
  inputTokens: number;
  /** Completion tokens, reasoning included (`gen_ai.usage.output_tokens`). */
  outputTokens: number;
  /** Input tokens read from the provider's prompt cache (`gen_ai.usage.cache_read.input_tokens`). */
  cacheReadTokens: number;
  /** Input tokens written to the prompt cache (`gen_ai.usage.cache_creation.input_tokens`). */
  cacheWriteTokens: number;
  /** Output tokens spent on reasoning (`gen_ai.usage.reasoning.output_tokens`). */
  reasoningTokens: number;
}

/** A usage with every count at zero. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}

/** Sums two usages field by field. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

/** Fills missing usage fields with zero (a partial usage, as a scripted model may give). */
export function toUsage(partial: Partial<Usage> | undefined): Usage {
  return { ...emptyUsage(), ...partial };
}
