/**
 * AI SDK answers as tracebound responses: a `LanguageModelV3GenerateResult`, or the parts of a
 * `LanguageModelV3StreamResult` stream, read per the `@ai-sdk/provider` specification (v3).
 */
import type {
  LanguageModelV3Content,
  LanguageModelV3FinishReason,
  LanguageModelV3GenerateResult,
  LanguageModelV3StreamPart,
  LanguageModelV3Usage,
  SharedV3ProviderMetadata,
} from '@ai-sdk/provider';
import type { ReasoningPart, ToolCall, Usage } from '../messages.js';
import { addReasoningMetadata, toolCallSignature } from './ai-sdk-metadata.js';
import type { FinishReason, ModelResponse, ModelStreamChunk } from './model.js';
import { parseArguments } from './openai-common.js';

/**
 * A whole generate result (its text, reasoning and client-side tool calls) as a
 * {@link ModelResponse}, with the signatures its parts carry (see ai-sdk-metadata.ts).
 */
export function fromGenerateResult(result: LanguageModelV3GenerateResult): ModelResponse {
  let text = '';
  const reasoning: ReasoningPart[] = [];
  const toolCalls: ToolCall[] = [];
  for (const part of result.content) {
    if (part.type === 'text') text += part.text;
    else if (part.type === 'reasoning') {
      const kept: ReasoningPart = { text: part.text };
      addReasoningMetadata(kept, part.providerMetadata);
      reasoning.push(kept);
    } else if (isClientToolCall(part)) toolCalls.push(toolCallOf(part));
  }
  const response: ModelResponse = {
    text,
    toolCalls,
    finishReason: finishReason(result.finishReason),
    usage: usageOf(result.usage),
  };
  if (result.response?.id !== undefined) response.id = result.response.id;
  if (result.response?.modelId !== undefined) response.model = result.response.modelId;
  if (reasoning.length > 0) response.reasoning = reasoning;
  const cost = reportedCostUsd(result.providerMetadata);
  if (cost !== undefined) response.providerCostUsd = cost;
  return response;
}

/** A client-side tool-call part as a {@link ToolCall}, with Gemini's thought signature when it has one. */
function toolCallOf(part: Extract<LanguageModelV3Content, { type: 'tool-call' }>): ToolCall {
  const call: ToolCall = { id: part.toolCallId, name: part.toolName, arguments: parseArguments(part.input) };
  const signature = toolCallSignature(part.providerMetadata);
  if (signature !== undefined) call.signature = signature;
  return call;
}

/**
 * A tool call tracebound runs: a provider-executed one (a provider's own web search, say) was run
 * by the provider and is not the agent's to answer.
 */
function isClientToolCall(part: LanguageModelV3Content | LanguageModelV3StreamPart): part is Extract<LanguageModelV3Content, { type: 'tool-call' }> {
  return part.type === 'tool-call' && part.providerExecuted !== true;
}

/**
 * Maps the specification's usage to the GenAI conventions: its `inputTokens.total` already counts
 * cache reads and writes (`noCache + cacheRead + cacheWrite`), and `outputTokens.total` already
 * counts reasoning (`text + reasoning`), as tracebound's {@link Usage} does, so neither is added
 * again; a provider that leaves a total out gets the sum of its parts. Absent counts are 0.
 */
export function usageOf(usage: LanguageModelV3Usage): Usage {
  const input = usage.inputTokens;
  const output = usage.outputTokens;
  const cacheReadTokens = input.cacheRead ?? 0;
  const cacheWriteTokens = input.cacheWrite ?? 0;
  const reasoningTokens = output.reasoning ?? 0;
  return {
    inputTokens: input.total ?? (input.noCache ?? 0) + cacheReadTokens + cacheWriteTokens,
    outputTokens: output.total ?? (output.text ?? 0) + reasoningTokens,
    cacheReadTokens,
    cacheWriteTokens,
    reasoningTokens,
  };
}

const FINISH: Readonly<Record<LanguageModelV3FinishReason['unified'], FinishReason | undefined>> = {
  stop: 'stop',
  length: 'length',
  'content-filter': 'content_filter',
  'tool-calls': 'tool_calls',
  error: 'error',
  other: undefined,
};

/** The specification's unified reason as a GenAI value; `other` passes the provider's raw reason on. */
export function finishReason(reason: LanguageModelV3FinishReason): FinishReason {
  return FINISH[reason.unified] ?? reason.raw ?? 'other';
}

/**
 * The cost in USD a provider reports in its metadata, when it does: the AI Gateway's
 * `providerMetadata.gateway.cost` (a decimal string of USD) and OpenRouter's AI SDK provider's
 * `providerMetadata.openrouter.usage.cost` (its `usage.cost`, credits of one USD).
 */
export function reportedCostUsd(metadata: SharedV3ProviderMetadata | undefined): number | undefined {
  if (!metadata) return undefined;
  const gateway = usd(metadata['gateway']?.['cost']);
  if (gateway !== undefined) return gateway;
  const usage = metadata['openrouter']?.['usage'];
  return usage !== null && typeof usage === 'object' && !Array.isArray(usage) ? usd(usage['cost']) : undefined;
}

function usd(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** What a stream has said so far. */
interface StreamState {
  id?: string;
  model?: string;
  text: string;
  /** Reasoning blocks by the stream's block id, in the order they started. */
  reasoning: Map<string, ReasoningPart>;
  /** Streamed tool inputs by the part's id, in the order they started (their `index`). */
  inputs: Map<string, { index: number }>;
  toolCalls: ToolCall[];
  finish?: Extract<LanguageModelV3StreamPart, { type: 'finish' }>;
}

/** A stream `error` part: what the provider reported, thrown by the caller as its error. */
export class StreamErrorPart extends Error {
  override readonly name = 'StreamErrorPart';
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : JSON.stringify(error));
  }
}

/**
 * Turns stream parts into deltas and one final `response` chunk. A tool call streamed as
 * `tool-input-start`/`-delta` is announced as it starts; one that arrives whole as a `tool-call`
 * part (providers that do not stream inputs) is announced then. Parallel calls are told apart by
 * their start order.
 * @throws {StreamErrorPart} for an `error` part; the caller classifies it.
 * @returns without a `response` when the stream ended with no `finish` part.
 */
export async function* assembleStream(parts: ReadableStream<LanguageModelV3StreamPart>): AsyncGenerator<ModelStreamChunk, boolean> {
  const state: StreamState = { text: '', reasoning: new Map(), inputs: new Map(), toolCalls: [] };
  const reader = parts.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* apply(state, value);
    }
  } finally {
    // A consumer that stops early (an abort, a budget stop) cancels the provider's request too.
    if (!state.finish) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  if (!state.finish) return false;
  yield { type: 'response', response: streamedResponse(state, state.finish) };
  return true;
}

function apply(state: StreamState, part: LanguageModelV3StreamPart): ModelStreamChunk[] {
  switch (part.type) {
    case 'text-delta':
      state.text += part.delta;
      return part.delta ? [{ type: 'text-delta', text: part.delta }] : [];
    case 'reasoning-start':
    case 'reasoning-end':
      addReasoningMetadata(reasoningBlock(state, part.id), part.providerMetadata);
      return [];
    case 'reasoning-delta': {
      // Anthropic sends a thinking block's signature as a delta without text.
      const block = reasoningBlock(state, part.id);
      block.text += part.delta;
      addReasoningMetadata(block, part.providerMetadata);
      return part.delta ? [{ type: 'reasoning-delta', text: part.delta }] : [];
    }
    case 'tool-input-start': {
      if (part.providerExecuted === true) return [];
      const index = state.inputs.size;
      state.inputs.set(part.id, { index });
      return [{ type: 'tool-call-start', index, id: part.id, name: part.toolName }];
    }
    case 'tool-input-delta': {
      const input = state.inputs.get(part.id);
      return input && part.delta ? [{ type: 'tool-call-delta', index: input.index, argumentsDelta: part.delta }] : [];
    }
    case 'tool-call': {
      if (!isClientToolCall(part)) return [];
      state.toolCalls.push(toolCallOf(part));
      if (state.inputs.has(part.toolCallId)) return [];
      const index = state.inputs.size;
      state.inputs.set(part.toolCallId, { index });
      const start: ModelStreamChunk = { type: 'tool-call-start', index, id: part.toolCallId, name: part.toolName };
      return part.input ? [start, { type: 'tool-call-delta', index, argumentsDelta: part.input }] : [start];
    }
    case 'response-metadata':
      if (part.id !== undefined) state.id ??= part.id;
      if (part.modelId !== undefined) state.model ??= part.modelId;
      return [];
    case 'finish':
      state.finish = part;
      return [];
    case 'error':
      throw new StreamErrorPart(part.error);
    default:
      return [];
  }
}

/** The reasoning block `id` of a stream, started when first seen. */
function reasoningBlock(state: StreamState, id: string): ReasoningPart {
  let block = state.reasoning.get(id);
  if (!block) {
    block = { text: '' };
    state.reasoning.set(id, block);
  }
  return block;
}

function streamedResponse(state: StreamState, finish: Extract<LanguageModelV3StreamPart, { type: 'finish' }>): ModelResponse {
  const response: ModelResponse = {
    text: state.text,
    toolCalls: state.toolCalls,
    finishReason: finishReason(finish.finishReason),
    usage: usageOf(finish.usage),
  };
  if (state.id !== undefined) response.id = state.id;
  if (state.model !== undefined) response.model = state.model;
  const reasoning = [...state.reasoning.values()].filter((r) => r.text !== '' || r.signature !== undefined || r.redacted !== undefined);
  if (reasoning.length > 0) response.reasoning = reasoning;
  const cost = reportedCostUsd(finish.providerMetadata);
  if (cost !== undefined) response.providerCostUsd = cost;
  return response;
}
