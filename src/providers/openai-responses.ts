/**
 * Responses API (`POST /v1/responses`) wire mapping: requests out, answers and typed stream
 * events in. Shapes follow the `openai` SDK's types (openai@6, resources/responses).
 */
import type OpenAI from 'openai';
import type {
  FunctionTool,
  Response,
  ResponseCreateParamsNonStreaming,
  ResponseCreateParamsStreaming,
  ResponseInputItem,
  ResponseStreamEvent,
  ResponseUsage,
} from 'openai/resources/responses/responses';
import { emptyUsage, type Message, type ReasoningPart, type ToolCall, type Usage } from '../messages.js';
import type { FinishReason, ModelRequest, ModelResponse, ModelStreamChunk, ToolDefinition } from './model.js';
import { z } from 'zod';
import { OPENAI_SHAPE_HINT, parseArguments, stringifyArguments } from './openai-common.js';
import { incompleteStream, reportedError } from './openai-errors.js';
import { byType, checkShape, lazySchema, tokens } from './shape.js';

/** The fields of Responses answers this module reads (openai@6 types), checked before reading. */
const responseShape = lazySchema(() => z.object({
  id: z.string().optional(),
  model: z.string().optional(),
  status: z.string().nullish(),
  error: z.object({ message: z.string().nullish() }).nullish(),
  output: z.array(
    byType({
      message: z.object({ content: z.array(byType({ output_text: z.object({ text: z.string() }), refusal: z.object({ refusal: z.string() }) })) }),
      function_call: z.object({ call_id: z.string(), name: z.string(), arguments: z.string() }),
      reasoning: z.object({ summary: z.array(z.object({ text: z.string() })) }),
    }),
  ),
  incomplete_details: z.object({ reason: z.string().nullish() }).nullish(),
  usage: z
    .object({
      input_tokens: tokens(),
      output_tokens: tokens(),
      input_tokens_details: z.object({ cached_tokens: tokens().nullish() }).nullish(),
      output_tokens_details: z.object({ reasoning_tokens: tokens().nullish() }).nullish(),
    })
    .nullish(),
}));
const eventShape = lazySchema(() => byType({
  'response.output_text.delta': z.object({ delta: z.string() }),
  'response.refusal.delta': z.object({ delta: z.string() }),
  'response.reasoning_summary_text.delta': z.object({ delta: z.string() }),
  'response.output_item.added': z.object({
    output_index: z.number().int(),
    item: byType({ function_call: z.object({ call_id: z.string(), name: z.string() }) }),
  }),
  'response.function_call_arguments.delta': z.object({ output_index: z.number().int(), delta: z.string() }),
  'response.completed': z.object({ response: responseShape() }),
  'response.incomplete': z.object({ response: responseShape() }),
  'response.failed': z.object({ response: z.object({ error: z.object({ message: z.string().nullish() }).nullish() }) }),
  error: z.object({ message: z.string() }),
}));
const RESPONSE = { provider: 'openai', what: 'response body', hint: OPENAI_SHAPE_HINT };
const EVENT = { provider: 'openai', what: 'response stream event', hint: OPENAI_SHAPE_HINT };

/**
 * Builds the Responses body: the system prompt as `instructions`, the conversation as input
 * items (tool calls as `function_call` items, tool results as `function_call_output`), tools as
 * non-strict `function` tools (strict mode would rewrite optional parameters), and `store:
 * false`: tracebound sends the whole conversation each turn and keeps no state at OpenAI. A
 * structured answer (`request.output`) is asked for with `text.format: { type: 'json_schema',
 * name, schema, strict: true }`.
 */
export function responsesParams(modelId: string, request: ModelRequest): ResponseCreateParamsNonStreaming {
  const params: ResponseCreateParamsNonStreaming = {
    model: modelId,
    input: request.messages.flatMap(toInputItems),
    store: false,
  };
  if (request.system !== undefined) params.instructions = request.system;
  if (request.tools.length > 0) {
    params.tools = request.tools.map(toFunctionTool);
    if (request.toolChoice === 'none') params.tool_choice = 'none';
  }
  if (request.maxOutputTokens !== undefined) params.max_output_tokens = request.maxOutputTokens;
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.output) {
    const { name, description, jsonSchema } = request.output;
    params.text = { format: { type: 'json_schema', name, schema: jsonSchema, strict: true, ...(description === undefined ? {} : { description }) } };
  }
  return params;
}

/** Sends one non-streaming request. SDK errors propagate unmapped; the caller maps them. */
export async function generateResponses(client: OpenAI, modelId: string, request: ModelRequest): Promise<ModelResponse> {
  // The SDK's own `responses.create` reads `output` before returning (to add `output_text`), so a
  // body without it would crash there as a TypeError; the plain POST leaves the check to us.
  const response = await client.post<Response>('/responses', { body: responsesParams(modelId, request), signal: request.signal });
  return fromResponse(response);
}

/** Streams one request as {@link ModelStreamChunk}s. SDK errors propagate unmapped. */
export async function* streamResponses(client: OpenAI, modelId: string, request: ModelRequest): AsyncGenerator<ModelStreamChunk> {
  const params: ResponseCreateParamsStreaming = { ...responsesParams(modelId, request), stream: true };
  const events = await client.responses.create(params, { signal: request.signal });
  yield* assembleResponsesStream(events, request.signal);
}

/**
 * Converts a Responses object: text from `message` items' `output_text` and `refusal` parts (a
 * refusal also goes to `refusal`), tool calls from
 * `function_call` items (id = `call_id`, which `function_call_output` must answer), one
 * reasoning part per `reasoning` item (its summary texts joined by blank lines).
 * @throws {ModelCallError} `stream_error` when the response has `status: failed`;
 *   `response_invalid` when it is not the documented shape.
 */
export function fromResponse(response: Response): ModelResponse {
  checkShape(responseShape(), response, RESPONSE);
  if (response.status === 'failed') throw reportedError(response.error?.message ?? 'response failed');
  const text: string[] = [];
  const refusals: string[] = [];
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningPart[] = [];
  for (const item of response.output) {
    if (item.type === 'message') {
      for (const part of item.content) {
        if (part.type === 'output_text') text.push(part.text);
        // A refusal part comes instead of the text: it is the answer's text as well (see ModelResponse.refusal).
        else if (part.type === 'refusal') {
          text.push(part.refusal);
          refusals.push(part.refusal);
        }
      }
    } else if (item.type === 'function_call') {
      toolCalls.push({ id: item.call_id, name: item.name, arguments: parseArguments(item.arguments) });
    } else if (item.type === 'reasoning') {
      reasoning.push({ text: item.summary.map((s) => s.text).join('\n\n') });
    }
  }
  return {
    id: response.id,
    model: response.model,
    text: text.join(''),
    toolCalls,
    ...(reasoning.length > 0 ? { reasoning } : {}),
    finishReason: responsesFinishReason(response, toolCalls.length > 0),
    ...(refusals.length > 0 ? { refusal: refusals.join('') } : {}),
    usage: responsesUsage(response.usage),
  };
}

/**
 * The Responses API has no finish reason; it is derived: `tool_calls` when the model called a
 * function, `length` / `content_filter` from `incomplete_details.reason`, else `stop`.
 */
export function responsesFinishReason(response: Response, calledTools: boolean): FinishReason {
  if (calledTools) return 'tool_calls';
  const reason = response.incomplete_details?.reason;
  if (reason === 'max_output_tokens') return 'length';
  if (reason === 'content_filter') return 'content_filter';
  return 'stop';
}

/**
 * Maps Responses usage to the GenAI conventions: `input_tokens` includes cached tokens and
 * `output_tokens` includes reasoning tokens, so neither is added again; no cache writes.
 */
export function responsesUsage(usage: ResponseUsage | null | undefined): Usage {
  if (!usage) return emptyUsage();
  return {
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens,
    cacheReadTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: usage.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

/**
 * Turns the SDK's typed events into deltas and one final `response` chunk built from the
 * `response.completed` (or `response.incomplete`) event's full response. A function call's
 * stream index is its position among the response's function calls, so it matches the index of
 * `response.toolCalls`.
 * @throws {ModelCallError} `aborted` once `signal` fires; `stream_error` on an `error` or
 *   `response.failed` event or when the stream ends without a final event; `response_invalid`
 *   for an event that is not the documented shape.
 */
export async function* assembleResponsesStream(
  events: AsyncIterable<ResponseStreamEvent>,
  signal?: AbortSignal,
): AsyncGenerator<ModelStreamChunk> {
  const callIndex = new Map<number, number>();
  for await (const event of events) {
    // The SDK may hold buffered events after an abort; the caller asked to stop, so stop here.
    if (signal?.aborted) throw incompleteStream(signal);
    checkShape(eventShape(), event, EVENT);
    switch (event.type) {
      case 'response.output_text.delta':
      case 'response.refusal.delta':
        yield { type: 'text-delta', text: event.delta };
        break;
      case 'response.reasoning_summary_text.delta':
        yield { type: 'reasoning-delta', text: event.delta };
        break;
      case 'response.output_item.added':
        if (event.item.type === 'function_call') {
          const index = callIndex.size;
          callIndex.set(event.output_index, index);
          yield { type: 'tool-call-start', index, id: event.item.call_id, name: event.item.name };
        }
        break;
      case 'response.function_call_arguments.delta': {
        const index = callIndex.get(event.output_index);
        if (index !== undefined) yield { type: 'tool-call-delta', index, argumentsDelta: event.delta };
        break;
      }
      case 'response.completed':
      case 'response.incomplete':
        yield { type: 'response', response: fromResponse(event.response) };
        return;
      case 'response.failed':
        throw reportedError(event.response.error?.message ?? 'response failed');
      case 'error':
        throw reportedError(event.message);
    }
  }
  throw incompleteStream(signal);
}

function toInputItems(message: Message): ResponseInputItem[] {
  switch (message.role) {
    case 'system':
    case 'user':
      return [{ role: message.role, content: message.content }];
    case 'tool':
      return [{ type: 'function_call_output', call_id: message.toolCallId, output: message.content }];
    case 'assistant': {
      const text: ResponseInputItem[] = message.content === '' ? [] : [{ role: 'assistant', content: message.content }];
      const calls: ResponseInputItem[] = (message.toolCalls ?? []).map((call) => ({
        type: 'function_call',
        call_id: call.id,
        name: call.name,
        arguments: stringifyArguments(call.arguments),
      }));
      return [...text, ...calls];
    }
  }
}

function toFunctionTool(tool: ToolDefinition): FunctionTool {
  return { type: 'function', name: tool.name, description: tool.description, parameters: tool.parameters, strict: false };
}
