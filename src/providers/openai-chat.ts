/**
 * Chat Completions (`POST /v1/chat/completions`) wire mapping: requests out, answers and stream
 * chunks in. Shapes follow the `openai` SDK's types (openai@6, resources/chat/completions).
 */
import type OpenAI from 'openai';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { CompletionUsage } from 'openai/resources/completions';
import { emptyUsage, type Message, type ToolCall, type Usage } from '../messages.js';
import type { FinishReason, ModelRequest, ModelResponse, ModelStreamChunk, ToolDefinition } from './model.js';
import { z } from 'zod';
import { OPENAI_SHAPE_HINT, parseArguments, stringifyArguments } from './openai-common.js';
import { incompleteStream } from './openai-errors.js';
import { byType, checkShape, lazySchema, tokens } from './shape.js';

/** The fields of Chat Completions answers this module reads (openai@6 types), checked before reading. */
const usageShape = lazySchema(() => z
  .object({
    prompt_tokens: tokens(),
    completion_tokens: tokens(),
    prompt_tokens_details: z.object({ cached_tokens: tokens().nullish() }).nullish(),
    completion_tokens_details: z.object({ reasoning_tokens: tokens().nullish() }).nullish(),
    cost: z.number().nonnegative().nullish(),
  })
  .nullish());
const completionShape = lazySchema(() => z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.object({
      message: z.object({
        content: z.string().nullish(),
        refusal: z.string().nullish(),
        tool_calls: z.array(byType({ function: z.object({ id: z.string(), function: z.object({ name: z.string(), arguments: z.string() }) }) })).nullish(),
      }),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: usageShape(),
}));
const chunkShape = lazySchema(() => z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  choices: z.array(
    z.object({
      index: z.number().int(),
      delta: z.object({
        content: z.string().nullish(),
        refusal: z.string().nullish(),
        tool_calls: z
          .array(
            z.object({
              index: z.number().int(),
              id: z.string().nullish(),
              function: z.object({ name: z.string().nullish(), arguments: z.string().nullish() }).nullish(),
            }),
          )
          .nullish(),
      }),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: usageShape(),
}));
const COMPLETION = { provider: 'openai', what: 'chat.completion body', hint: OPENAI_SHAPE_HINT };
const CHUNK = { provider: 'openai', what: 'chat.completion.chunk stream event', hint: OPENAI_SHAPE_HINT };

/**
 * Builds the Chat Completions body for a request: the system prompt first as a `system`
 * message, tools as `function` tools, `maxOutputTokens` as `max_completion_tokens` (the
 * parameter reasoning models accept; `max_tokens` is deprecated). `tools` and `tool_choice` are
 * sent only when there are tools, since the API rejects an empty `tools` array and a
 * `tool_choice` without tools. A structured answer (`request.output`) is asked for with
 * `response_format: { type: 'json_schema', json_schema: { name, schema, strict: true } }`
 * (Structured Outputs: the answer's content is JSON that matches the schema).
 */
export function chatParams(modelId: string, request: ModelRequest): ChatCompletionCreateParamsNonStreaming {
  const system: ChatCompletionMessageParam[] = request.system === undefined ? [] : [{ role: 'system', content: request.system }];
  const params: ChatCompletionCreateParamsNonStreaming = {
    model: modelId,
    messages: [...system, ...request.messages.map(toChatMessage)],
  };
  if (request.tools.length > 0) {
    params.tools = request.tools.map(toChatTool);
    if (request.toolChoice === 'none') params.tool_choice = 'none';
  }
  if (request.maxOutputTokens !== undefined) params.max_completion_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.output) {
    const { name, description, jsonSchema } = request.output;
    params.response_format = { type: 'json_schema', json_schema: { name, schema: jsonSchema, strict: true, ...(description === undefined ? {} : { description }) } };
  }
  return params;
}

/**
 * The streaming body: {@link chatParams} plus `stream_options.include_usage`, without which the
 * API sends no usage at all on a stream (it then arrives in one last chunk with empty `choices`).
 */
export function chatStreamParams(modelId: string, request: ModelRequest): ChatCompletionCreateParamsStreaming {
  return { ...chatParams(modelId, request), stream: true, stream_options: { include_usage: true } };
}

/** Sends one non-streaming request. SDK errors propagate unmapped; the caller maps them. */
export async function generateChat(client: OpenAI, modelId: string, request: ModelRequest): Promise<ModelResponse> {
  const completion = await client.chat.completions.create(chatParams(modelId, request), { signal: request.signal });
  return fromChatCompletion(completion);
}

/** Streams one request as {@link ModelStreamChunk}s. SDK errors propagate unmapped. */
export async function* streamChat(client: OpenAI, modelId: string, request: ModelRequest): AsyncGenerator<ModelStreamChunk> {
  const chunks = await client.chat.completions.create(chatStreamParams(modelId, request), { signal: request.signal });
  yield* assembleChatStream(chunks, request.signal);
}

/**
 * Converts a whole `chat.completion` object (first choice) to a {@link ModelResponse}.
 * @throws {ModelCallError} `response_invalid` when the object is not the documented shape.
 */
export function fromChatCompletion(completion: ChatCompletion): ModelResponse {
  checkShape(completionShape(), completion, COMPLETION);
  const choice = completion.choices[0];
  const toolCalls: ToolCall[] = (choice?.message.tool_calls ?? []).flatMap((call) =>
    call.type === 'function' ? [{ id: call.id, name: call.function.name, arguments: parseArguments(call.function.arguments) }] : [],
  );
  const refusal = choice?.message.refusal ?? undefined;
  return {
    id: completion.id,
    model: completion.model,
    text: choice?.message.content ?? refusal ?? '',
    toolCalls,
    finishReason: chatFinishReason(choice?.finish_reason ?? null),
    ...(refusal !== undefined ? { refusal } : {}),
    usage: chatUsage(completion.usage),
    ...reportedCost(completion.usage),
  };
}

/**
 * The cost a gateway reports in its usage, in USD: OpenRouter adds `usage.cost` (in credits,
 * bought at one USD each) to every chat answer and to the last chunk of a stream
 * (openrouter.ai/docs/use-cases/usage-accounting). OpenAI itself sends none.
 */
function reportedCost(usage: CompletionUsage | null | undefined): Pick<ModelResponse, 'providerCostUsd'> {
  const cost = (usage as { cost?: number | null } | null | undefined)?.cost;
  return typeof cost === 'number' ? { providerCostUsd: cost } : {};
}

/**
 * Maps Chat Completions usage to the GenAI conventions: `prompt_tokens` already counts cached
 * tokens and `completion_tokens` already counts reasoning tokens, so neither is added again;
 * OpenAI caches automatically and reports no cache writes.
 */
export function chatUsage(usage: CompletionUsage | null | undefined): Usage {
  if (!usage) return emptyUsage();
  return {
    inputTokens: usage.prompt_tokens,
    outputTokens: usage.completion_tokens,
    cacheReadTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** The API's finish reasons are the GenAI values, except the legacy `function_call`. */
export function chatFinishReason(reason: string | null): FinishReason {
  if (reason === 'function_call') return 'tool_calls';
  return reason ?? 'stop';
}

/** A tool call being streamed: its id and name arrive first, its arguments in fragments. */
interface ToolDraft {
  id?: string;
  name?: string;
  args: string;
  started: boolean;
}

/** What a stream has said so far. */
interface ChatStreamState {
  id?: string;
  model?: string;
  text: string;
  refusal?: string;
  drafts: Map<number, ToolDraft>;
  finishReason?: string;
  usage?: CompletionUsage;
}

/**
 * Turns SDK chunks into deltas and one final `response` chunk. Parallel tool calls arrive
 * interleaved, told apart by `index`; `tool-call-start` is yielded once a call's id and name are
 * both known. The stream is read to its end because usage comes after the `finish_reason` chunk.
 * @throws {ModelCallError} `aborted` once `signal` fires; `stream_error` when the stream ends
 *   without a `finish_reason`; `response_invalid` for a chunk that is not the documented shape.
 */
export async function* assembleChatStream(
  chunks: AsyncIterable<ChatCompletionChunk>,
  signal?: AbortSignal,
): AsyncGenerator<ModelStreamChunk> {
  const state: ChatStreamState = { text: '', drafts: new Map() };
  for await (const chunk of chunks) {
    // The SDK may hold buffered chunks after an abort; the caller asked to stop, so stop here.
    if (signal?.aborted) throw incompleteStream(signal);
    yield* applyChunk(state, chunk);
  }
  if (state.finishReason === undefined) throw incompleteStream(signal);
  yield { type: 'response', response: streamedResponse(state) };
}

function applyChunk(state: ChatStreamState, chunk: ChatCompletionChunk): ModelStreamChunk[] {
  checkShape(chunkShape(), chunk, CHUNK);
  state.id ??= chunk.id;
  state.model ??= chunk.model;
  if (chunk.usage) state.usage = chunk.usage;
  const choice = chunk.choices.find((c) => c.index === 0);
  if (!choice) return [];
  if (choice.finish_reason) state.finishReason = choice.finish_reason;
  const out: ModelStreamChunk[] = [];
  if (choice.delta.content) {
    state.text += choice.delta.content;
    out.push({ type: 'text-delta', text: choice.delta.content });
  }
  if (choice.delta.refusal) {
    // A refusal streams instead of content: it is the answer's text as well (see ModelResponse.refusal).
    state.refusal = (state.refusal ?? '') + choice.delta.refusal;
    state.text += choice.delta.refusal;
    out.push({ type: 'text-delta', text: choice.delta.refusal });
  }
  for (const call of choice.delta.tool_calls ?? []) out.push(...applyToolDelta(state.drafts, call));
  return out;
}

function applyToolDelta(
  drafts: Map<number, ToolDraft>,
  call: ChatCompletionChunk.Choice.Delta.ToolCall,
): ModelStreamChunk[] {
  const draft = drafts.get(call.index) ?? { args: '', started: false };
  drafts.set(call.index, draft);
  if (call.id) draft.id = call.id;
  if (call.function?.name) draft.name = call.function.name;
  const fragment = call.function?.arguments ?? '';
  draft.args += fragment;
  if (draft.started) return fragment ? [{ type: 'tool-call-delta', index: call.index, argumentsDelta: fragment }] : [];
  if (draft.id === undefined || draft.name === undefined) return [];
  draft.started = true;
  const start: ModelStreamChunk = { type: 'tool-call-start', index: call.index, id: draft.id, name: draft.name };
  // Fragments that came before the name are flushed with the start, so no argument text is lost.
  return draft.args ? [start, { type: 'tool-call-delta', index: call.index, argumentsDelta: draft.args }] : [start];
}

function streamedResponse(state: ChatStreamState): ModelResponse {
  const toolCalls = [...state.drafts.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([, d]) => (d.started ? [{ id: d.id as string, name: d.name as string, arguments: parseArguments(d.args) }] : []));
  return {
    id: state.id,
    model: state.model,
    text: state.text,
    toolCalls,
    finishReason: chatFinishReason(state.finishReason ?? null),
    ...(state.refusal !== undefined ? { refusal: state.refusal } : {}),
    usage: chatUsage(state.usage),
    ...reportedCost(state.usage),
  };
}

function toChatMessage(message: Message): ChatCompletionMessageParam {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: message.content };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
    case 'assistant': {
      const calls = message.toolCalls ?? [];
      if (calls.length === 0) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        // A turn that only calls tools has no text: the API's shape for that is `null` content.
        content: message.content === '' ? null : message.content,
        tool_calls: calls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: stringifyArguments(call.arguments) },
        })),
      };
    }
  }
}

function toChatTool(tool: ToolDefinition): ChatCompletionTool {
  return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.parameters } };
}
