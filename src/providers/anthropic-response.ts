import type { ContentBlock, Message as AnthropicMessage } from '@anthropic-ai/sdk/resources/messages/messages';
import type { ReasoningPart, ToolCall, Usage } from '../messages.js';
import type { FinishReason, ModelResponse } from './model.js';
import { z } from 'zod';
import { byType, checkShape, lazySchema, tokens } from './shape.js';

/** What to check when an answer is not Anthropic's shape (see shape.ts). */
export const ANTHROPIC_SHAPE_HINT =
  'Check that the baseURL points at the Anthropic Messages API or a server compatible with it (POST /v1/messages).';

/** The usage counts tracebound reads (see {@link AnthropicUsageCounts}). */
export const usageCountsShape = lazySchema(() => z.object({
  input_tokens: tokens().nullish(),
  cache_read_input_tokens: tokens().nullish(),
  cache_creation_input_tokens: tokens().nullish(),
  output_tokens: tokens().nullish(),
  output_tokens_details: z.object({ thinking_tokens: tokens().nullish() }).nullish(),
}));

/** The content block fields tracebound reads, by block type. */
export const contentBlockShape = lazySchema(() => byType({
  text: z.object({ text: z.string() }),
  tool_use: z.object({ id: z.string(), name: z.string() }),
  thinking: z.object({ thinking: z.string(), signature: z.string() }),
  redacted_thinking: z.object({ data: z.string() }),
}));

const messageShape = lazySchema(() => z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  content: z.array(contentBlockShape()),
  stop_reason: z.string().nullish(),
  usage: usageCountsShape().extend({ input_tokens: tokens(), output_tokens: tokens() }),
}));
const MESSAGE = { provider: 'anthropic', what: 'message body', hint: ANTHROPIC_SHAPE_HINT };

/**
 * The token counts of an Anthropic `usage` object that tracebound reads. Every field but
 * `output_tokens` may be absent or `null`: streamed `message_delta` usage omits what did not
 * change, and older responses lack the cache and detail fields.
 */
export interface AnthropicUsageCounts {
  input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  output_tokens?: number | null;
  output_tokens_details?: { thinking_tokens?: number | null } | null;
}

/**
 * Converts Anthropic usage to the OpenTelemetry GenAI convention (all counts in tokens).
 *
 * Anthropic's `input_tokens` EXCLUDES cache reads and cache writes (docs.anthropic.com, prompt
 * caching: "total input tokens = input_tokens + cache_creation_input_tokens +
 * cache_read_input_tokens"), while `gen_ai.usage.input_tokens` includes them; so
 * `inputTokens` is the sum of the three. `reasoningTokens` is
 * `output_tokens_details.thinking_tokens`, which the API documents as a subset of
 * `output_tokens`; responses without that field (most models and API versions before it existed)
 * do not report thinking tokens apart, so it is 0 for them.
 */
export function toUsage(usage: AnthropicUsageCounts): Usage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const cacheWrite = usage.cache_creation_input_tokens ?? 0;
  return {
    inputTokens: (usage.input_tokens ?? 0) + cacheRead + cacheWrite,
    outputTokens: usage.output_tokens ?? 0,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    reasoningTokens: usage.output_tokens_details?.thinking_tokens ?? 0,
  };
}

/**
 * Normalises Anthropic's `stop_reason` to `gen_ai.response.finish_reasons` values:
 * `end_turn` / `stop_sequence` → `stop`, `max_tokens` → `length`, `tool_use` → `tool_calls`,
 * `refusal` → `content_filter`; any other value (`pause_turn`,
 * `model_context_window_exceeded`, ...) is passed through; a missing one is `error`.
 */
export function toFinishReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop';
    case 'max_tokens':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    case null:
    case undefined:
      return 'error';
    default:
      return stopReason;
  }
}

/** The parts of a response that come from its content blocks. */
export interface ContentParts {
  text: string;
  toolCalls: ToolCall[];
  reasoning: ReasoningPart[];
}

/**
 * Reads content blocks: text blocks concatenated, `tool_use` blocks as tool calls (the `input`
 * object as arguments), `thinking` and `redacted_thinking` blocks as reasoning. Server-side tool
 * blocks (web search, code execution, ...) are not calls tracebound executes and are skipped.
 */
export function fromContent(content: readonly ContentBlock[]): ContentParts {
  const parts: ContentParts = { text: '', toolCalls: [], reasoning: [] };
  for (const block of content) {
    if (block.type === 'text') parts.text += block.text;
    else if (block.type === 'tool_use') parts.toolCalls.push({ id: block.id, name: block.name, arguments: block.input });
    else if (block.type === 'thinking') parts.reasoning.push({ text: block.thinking, signature: block.signature });
    else if (block.type === 'redacted_thinking') parts.reasoning.push({ text: '', redacted: block.data });
  }
  return parts;
}

/**
 * Converts a whole (non-streamed) Messages API response.
 * @throws {ModelCallError} `response_invalid` when it is not the documented shape.
 */
export function fromAnthropicMessage(message: AnthropicMessage): ModelResponse {
  checkShape(messageShape(), message, MESSAGE);
  const parts = fromContent(message.content);
  return {
    id: message.id,
    model: message.model,
    text: parts.text,
    toolCalls: parts.toolCalls,
    ...(parts.reasoning.length > 0 ? { reasoning: parts.reasoning } : {}),
    finishReason: toFinishReason(message.stop_reason),
    usage: toUsage(message.usage),
  };
}
