import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Response, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { openai } from '../../src/providers/openai.js';
import { ContextLengthExceededError, ModelCallError } from '../../src/providers/errors.js';
import type { Model, ModelRequest, ToolDefinition } from '../../src/providers/model.js';
import type { Message } from '../../src/messages.js';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { collect, exchange, finalResponse, recordedBody, recordedEvents } from './openai-fixtures.js';
import { rejection } from '../support/rejection.js';

const PATH = '/v1/responses';
const API_KEY = 'sk-test-tracebound-0000';

let server: RecordedServer;
beforeEach(async () => {
  server = await startRecordedServer();
});
afterEach(async () => {
  await server.close();
});

function model(modelId: string): Model {
  return openai(modelId, { baseURL: `${server.url}/v1`, apiKey: API_KEY, api: 'responses' });
}

function sent(i: number): Record<string, unknown> {
  return server.requests[i]?.body as Record<string, unknown>;
}

/** The full response the recorded `response.completed` event carries. */
function completed(events: ResponseStreamEvent[]): Response {
  const event = events.find((e) => e.type === 'response.completed');
  if (event?.type !== 'response.completed') throw new Error('fixture has no response.completed event');
  return event.response;
}

// The tool of pydantic-ai's recordings, as recorded in their requests.
const getCapital: ToolDefinition = {
  name: 'get_capital',
  description: 'Get the capital of a country.',
  parameters: { additionalProperties: false, properties: { country: { type: 'string' } }, required: ['country'], type: 'object' },
};

describe('openai responses: generate', () => {
  it('maps a text response (pydantic-ai, gpt-4o)', async () => {
    server.enqueue(PATH, await exchange('responses-text.json'));
    const body = await recordedBody<Response>('responses-text.json');
    const response = await model('gpt-4o').generate({
      system: 'Answer briefly.',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      tools: [],
    });
    const message = body.output.find((o) => o.type === 'message');
    const part = message?.type === 'message' ? message.content[0] : undefined;
    expect(response.text).toBe(part?.type === 'output_text' ? part.text : undefined);
    expect(response.id).toBe(body.id);
    expect(response.model).toBe(body.model);
    expect(response.finishReason).toBe('stop');
    expect(response.toolCalls).toEqual([]);
    expect(response.usage).toEqual({
      inputTokens: body.usage?.input_tokens,
      outputTokens: body.usage?.output_tokens,
      cacheReadTokens: body.usage?.input_tokens_details.cached_tokens,
      cacheWriteTokens: 0,
      reasoningTokens: body.usage?.output_tokens_details.reasoning_tokens,
    });

    expect(sent(0)).toEqual({
      model: 'gpt-4o',
      instructions: 'Answer briefly.',
      input: [{ role: 'user', content: 'What is the capital of France?' }],
      store: false,
    });
  });

  it('runs a function call, then sends function_call and function_call_output items back (pydantic-ai, gpt-4o)', async () => {
    server.enqueue(PATH, await exchange('responses-function-call.json'), await exchange('responses-function-answer.json'));
    const callBody = await recordedBody<Response>('responses-function-call.json');
    const answerBody = await recordedBody<Response>('responses-function-answer.json');
    const recorded = callBody.output.find((o) => o.type === 'function_call');
    if (recorded?.type !== 'function_call') throw new Error('fixture has no function_call');

    const m = model('gpt-4o');
    const messages: Message[] = [{ role: 'user', content: 'What is the capital of PotatoLand?' }];
    const first = await m.generate({ messages, tools: [getCapital], maxOutputTokens: 200 });
    expect(first.finishReason).toBe('tool_calls');
    expect(first.toolCalls).toEqual([{ id: recorded.call_id, name: recorded.name, arguments: JSON.parse(recorded.arguments) }]);
    expect(first.usage.inputTokens).toBe(callBody.usage?.input_tokens);
    expect(first.usage.outputTokens).toBe(callBody.usage?.output_tokens);

    messages.push(
      { role: 'assistant', content: '', toolCalls: first.toolCalls },
      { role: 'tool', toolCallId: recorded.call_id, toolName: 'get_capital', content: 'Potato City' },
    );
    const second = await m.generate({ messages, tools: [getCapital] });
    expect(second.text).toBe('The capital of PotatoLand is Potato City.');
    expect(second.finishReason).toBe('stop');
    expect(second.usage.inputTokens).toBe(answerBody.usage?.input_tokens);

    expect(sent(0)['tools']).toEqual([
      { type: 'function', name: 'get_capital', description: getCapital.description, parameters: getCapital.parameters, strict: false },
    ]);
    expect(sent(0)['max_output_tokens']).toBe(200);
    expect(sent(1)['input']).toEqual([
      { role: 'user', content: 'What is the capital of PotatoLand?' },
      { type: 'function_call', call_id: recorded.call_id, name: 'get_capital', arguments: '{"country":"PotatoLand"}' },
      { type: 'function_call_output', call_id: recorded.call_id, output: 'Potato City' },
    ]);
  });

  it('maps reasoning summaries and reasoning tokens (pydantic-ai, gpt-5)', async () => {
    server.enqueue(PATH, await exchange('responses-reasoning.json'));
    const body = await recordedBody<Response>('responses-reasoning.json');
    const response = await model('gpt-5').generate({ messages: [{ role: 'user', content: 'How do I cross the street?' }], tools: [] });
    const summaries = body.output.flatMap((o) => (o.type === 'reasoning' ? [o.summary.map((s) => s.text).join('\n\n')] : []));
    expect(summaries.length).toBeGreaterThan(0);
    expect(response.reasoning).toEqual(summaries.map((text) => ({ text })));
    expect(response.usage.reasoningTokens).toBe(body.usage?.output_tokens_details.reasoning_tokens);
    expect(response.usage.reasoningTokens).toBeGreaterThan(0);
    expect(response.usage.outputTokens).toBe(body.usage?.output_tokens);
    expect(response.text.length).toBeGreaterThan(0);
  });
});

describe('openai responses: stream', () => {
  it('streams a function call, then the answer, with usage from response.completed (pydantic-ai, gpt-4o)', async () => {
    server.enqueue(PATH, await exchange('responses-stream-function-call.sse'), await exchange('responses-stream-answer.sse'));
    const callFinal = completed(await recordedEvents<ResponseStreamEvent>('responses-stream-function-call.sse'));
    const answerFinal = completed(await recordedEvents<ResponseStreamEvent>('responses-stream-answer.sse'));
    const recorded = callFinal.output.find((o) => o.type === 'function_call');
    if (recorded?.type !== 'function_call') throw new Error('fixture has no function_call');

    const m = model('gpt-4o');
    const messages: Message[] = [{ role: 'user', content: 'What is the capital of France?' }];
    const chunks = await collect(m.stream({ messages, tools: [getCapital] }));
    expect(chunks.filter((c) => c.type === 'tool-call-start')).toEqual([
      { type: 'tool-call-start', index: 0, id: recorded.call_id, name: recorded.name },
    ]);
    const args = chunks.flatMap((c) => (c.type === 'tool-call-delta' ? [c.argumentsDelta] : []));
    expect(args.join('')).toBe(recorded.arguments);
    const call = finalResponse(chunks);
    expect(call.finishReason).toBe('tool_calls');
    expect(call.toolCalls).toEqual([{ id: recorded.call_id, name: 'get_capital', arguments: { country: 'France' } }]);
    expect(call.usage.inputTokens).toBe(callFinal.usage?.input_tokens);
    expect(call.usage.outputTokens).toBe(callFinal.usage?.output_tokens);
    expect(sent(0)['stream']).toBe(true);

    messages.push(
      { role: 'assistant', content: '', toolCalls: call.toolCalls },
      { role: 'tool', toolCallId: recorded.call_id, toolName: 'get_capital', content: 'Paris' },
    );
    const answerChunks = await collect(m.stream({ messages, tools: [getCapital] }));
    const answer = finalResponse(answerChunks);
    expect(answerChunks.flatMap((c) => (c.type === 'text-delta' ? [c.text] : [])).join('')).toBe(answer.text);
    expect(answer.text).toBe('The capital of France is Paris.');
    expect(answer.usage.inputTokens).toBe(answerFinal.usage?.input_tokens);
    expect(answer.usage.outputTokens).toBe(answerFinal.usage?.output_tokens);
    expect((sent(1)['input'] as unknown[]).at(-1)).toEqual({ type: 'function_call_output', call_id: recorded.call_id, output: 'Paris' });
  });
});

describe('openai responses: errors', () => {
  const request: ModelRequest = { messages: [{ role: 'user', content: 'hi' }], tools: [] };

  it('maps 429 to rate_limit and 400 context_length_exceeded to ContextLengthExceededError', async () => {
    server.enqueue(PATH, await exchange('chat-error-429.json'), await exchange('chat-error-400-context-length.json'));
    const limited = (await rejection(model('gpt-4o').generate(request))) as ModelCallError;
    expect(limited).toBeInstanceOf(ModelCallError);
    expect(limited.kind).toBe('rate_limit');
    expect(limited.retryAfterMs).toBeGreaterThan(0);
    const tooLong = await rejection(model('gpt-4o').generate(request));
    expect(tooLong).toBeInstanceOf(ContextLengthExceededError);
  });

  it('throws a ModelCallError when the stream is cut midway', async () => {
    const fixture = await exchange('responses-stream-answer.sse');
    server.enqueue(PATH, { ...fixture, cutAfterBytes: Math.floor((fixture.sse?.length ?? 0) * 0.6) });
    const err = await rejection(collect(model('gpt-4o').stream(request)));
    expect(err).toBeInstanceOf(ModelCallError);
    expect(['connection', 'stream_error']).toContain((err as ModelCallError).kind);
  });

  it('gives kind aborted for an already aborted signal', async () => {
    server.enqueue(PATH, await exchange('responses-text.json'));
    const e = (await rejection(model('gpt-4o').generate({ ...request, signal: AbortSignal.abort() }))) as ModelCallError;
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e.kind).toBe('aborted');
  });
});
