import { randomUUID } from 'node:crypto';
import type { GenerateContentResponse, GenerateContentResponseUsageMetadata, Part } from '@google/genai';
import type { ReasoningPart, ToolCall, Usage } from '../messages.js';
import type { FinishReason, ModelResponse } from './model.js';
import { z } from 'zod';
import { checkShape, lazySchema, tokens } from './shape.js';

/**
 * `gen_ai.provider.name` of Gemini over the Gemini API: the semconv well-known value `gcp.gemini`
 * ("used when accessing the 'generativelanguage.googleapis.com' endpoint", GenAI registry).
 */
export const GEMINI_PROVIDER = 'gcp.gemini';
/**
 * `gen_ai.provider.name` of Gemini over Vertex AI: the semconv well-known value `gcp.vertex_ai`
 * ("used when accessing the 'aiplatform.googleapis.com' endpoint", GenAI registry).
 */
export const VERTEX_PROVIDER = 'gcp.vertex_ai';

/** What to check when an answer is not Gemini's shape (see shape.ts). */
export const GEMINI_SHAPE_HINT =
  'Check that the baseURL points at the Gemini API (generativelanguage.googleapis.com) or a server compatible with it.';

/** The fields tracebound reads of one `GenerateContentResponse` (a whole answer or one stream event). */
const responseShape = lazySchema(() => z.object({
  responseId: z.string().optional(),
  modelVersion: z.string().optional(),
  candidates: z.array(z.object({
    content: z.object({
      parts: z.array(z.object({
        text: z.string().optional(),
        thought: z.boolean().optional(),
        thoughtSignature: z.string().optional(),
        functionCall: z.object({ id: z.string().optional(), name: z.string(), args: z.record(z.string(), z.unknown()).optional() }).optional(),
      })).optional(),
    }).optional(),
    finishReason: z.string().optional(),
  })).optional(),
  usageMetadata: z.object({
    promptTokenCount: tokens().optional(),
    toolUsePromptTokenCount: tokens().optional(),
    cachedContentTokenCount: tokens().optional(),
    candidatesTokenCount: tokens().optional(),
    thoughtsTokenCount: tokens().optional(),
  }).optional(),
  promptFeedback: z.object({ blockReason: z.string().optional() }).optional(),
}));
/** A whole answer has candidates, or says why not (a blocked prompt). */
const wholeResponseShape = lazySchema(() =>
  responseShape().refine((r) => r.candidates !== undefined || r.promptFeedback !== undefined, 'has neither candidates nor promptFeedback'),
);
/**
 * Checks one stream event (`whole` false) or a whole answer against the fields tracebound reads.
 * @param provider the `gen_ai.provider.name` the error names (`gcp.gemini` or `gcp.vertex_ai`)
 * @throws {ModelCallError} `response_invalid` when it is not the documented shape.
 */
export function checkGeminiResponse(response: GenerateContentResponse, whole: boolean, provider: string): void {
  checkShape(whole ? wholeResponseShape() : responseShape(), response, { provider, what: 'GenerateContentResponse', hint: GEMINI_SHAPE_HINT });
}

/**
 * Converts Gemini's `usageMetadata` to the OpenTelemetry GenAI convention (all counts in tokens),
 * per the semconv's Gemini mapping:
 *
 * - `inputTokens` = `promptTokenCount` + `toolUsePromptTokenCount`: the prompt already includes
 *   the cached tokens, and the tool-use prompt (server-side tool results) is billed as input.
 * - `cacheReadTokens` = `cachedContentTokenCount` (a part of `promptTokenCount`); Gemini reports no
 *   cache writes (an explicit cache is created and billed by its own API).
 * - `outputTokens` = `candidatesTokenCount` + `thoughtsTokenCount`: the candidates count EXCLUDES
 *   thinking, and both are billed as output; `reasoningTokens` = `thoughtsTokenCount`.
 */
export function toUsage(usage: GenerateContentResponseUsageMetadata | undefined): Usage {
  const thoughts = usage?.thoughtsTokenCount ?? 0;
  return {
    inputTokens: (usage?.promptTokenCount ?? 0) + (usage?.toolUsePromptTokenCount ?? 0),
    outputTokens: (usage?.candidatesTokenCount ?? 0) + thoughts,
    cacheReadTokens: usage?.cachedContentTokenCount ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: thoughts,
  };
}

const CONTENT_FILTER = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

/**
 * Normalises Gemini's `finishReason` to `gen_ai.response.finish_reasons` values. Gemini says
 * `STOP` for an answer with function calls too, so any call makes it `tool_calls`; `MAX_TOKENS`
 * → `length`; the safety and recitation reasons, or a prompt blocked by `promptFeedback.blockReason`,
 * → `content_filter`; another value (`MALFORMED_FUNCTION_CALL`, `OTHER`, ...) is passed through;
 * none at all is `error`.
 */
export function toFinishReason(finishReason: string | undefined, hasToolCalls: boolean, blockReason?: string): FinishReason {
  if (hasToolCalls) return 'tool_calls';
  if (finishReason === undefined) return blockReason !== undefined ? 'content_filter' : 'error';
  if (finishReason === 'STOP') return 'stop';
  if (finishReason === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER.has(finishReason)) return 'content_filter';
  return finishReason;
}

/**
 * A tool call from a `functionCall` part. Gemini 3 gives each call an `id`, which is kept; Gemini
 * 2.x gives none, so a unique one is made (`gemini_` + a random UUID): the runtime pairs each
 * result with its call by id. The part's `thoughtSignature` is kept as the call's `signature`.
 */
export function toToolCall(part: Part & { functionCall: NonNullable<Part['functionCall']> }): ToolCall {
  const call: ToolCall = {
    id: part.functionCall.id ?? `gemini_${randomUUID()}`,
    name: part.functionCall.name ?? '',
    arguments: part.functionCall.args ?? {},
  };
  if (part.thoughtSignature !== undefined) call.signature = part.thoughtSignature;
  return call;
}

/** The parts of a response that come from its content parts. */
export interface ContentParts {
  text: string;
  toolCalls: ToolCall[];
  /** The thought summary, all `thought: true` parts joined. */
  thoughts: string;
}

/**
 * Reads the parts of the first candidate into `into`: text parts concatenated, `thought: true`
 * parts (thought summaries, sent with `includeThoughts`) concatenated as the reasoning,
 * `functionCall` parts as tool calls. Other parts (code execution, inline data) are not what
 * tracebound runs and are skipped.
 */
export function fromParts(parts: readonly Part[], into: ContentParts = { text: '', toolCalls: [], thoughts: '' }): ContentParts {
  for (const part of parts) {
    if (part.functionCall) into.toolCalls.push(toToolCall(part as Part & { functionCall: NonNullable<Part['functionCall']> }));
    else if (part.text !== undefined && part.thought === true) into.thoughts += part.text;
    else if (part.text !== undefined) into.text += part.text;
  }
  return into;
}

/** The reasoning of a response: its thought summary as one part, or none. */
export function reasoningOf(parts: ContentParts): { reasoning?: ReasoningPart[] } {
  return parts.thoughts !== '' ? { reasoning: [{ text: parts.thoughts }] } : {};
}

/**
 * Converts a whole (non-streamed) `generateContent` response.
 * @param provider the `gen_ai.provider.name` an error names
 * @throws {ModelCallError} `response_invalid` when it is not the documented shape.
 */
export function fromGeminiResponse(response: GenerateContentResponse, provider: string): ModelResponse {
  checkGeminiResponse(response, true, provider);
  const candidate = response.candidates?.[0];
  const parts = fromParts(candidate?.content?.parts ?? []);
  return {
    id: response.responseId,
    model: response.modelVersion,
    text: parts.text,
    toolCalls: parts.toolCalls,
    ...reasoningOf(parts),
    finishReason: toFinishReason(candidate?.finishReason, parts.toolCalls.length > 0, response.promptFeedback?.blockReason),
    usage: toUsage(response.usageMetadata),
  };
}
