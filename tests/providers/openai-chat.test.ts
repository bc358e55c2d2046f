import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import { openai } from '../../src/providers/openai.js';
import { AuthenticationError, ContextLengthExceededError, ModelCallError } from '../../src/providers/errors.js';
import type { Model, ModelRequest, ToolDefinition } from '../../src/providers/model.js';
import type { Message } from '../../src/messages.js';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { collect, exchange, finalResponse, recordedBody, recordedEvents } from './openai-fixtures.js';
import { rejection } from '../support/rejection.js';

const PATH = '/v1/chat/completions';
const API_KEY = 'sk-test-tracebound-0000';

let server: RecordedServer;
beforeEach(async () => {
  server = await startRecordedServer();
});
afterEach(async () => {
  await server.close();
});

function model(modelId: string): Model {
  return openai(modelId, { baseURL: `${server.url}/v1`, apiKey: API_KEY });
}

/** The JSON body the server received for request `i`. */
function sent(i: number): Record<string, unknown> {
  return server.requests[i]?.body as Record<string, unknown>;
}

/** Usage of the last chunk that carries one (the `include_usage` chunk). */
function streamedUsage(events: ChatCompletionChunk[]) {
  const usage = events.filter((e) => e.usage).at(-1)?.usage;
  if (!usage) throw new Error('fixture has no usage chunk');
  return usage;
}

// The tool of pydantic-ai's recordings, as recorded in their requests.
const getCapital: ToolDefinition = {
  name: 'get_capital',
  description: 'Get the capital of a country.',
  parameters: {
    additionalProperties: false,
    properties: { country: { description: 'The country name.', type: 'string' } },
    required: ['country'],
    type: 'object',
  },
};

describe('openai chat: definition', () => {
  it('needs no API key to define, and fails the first call with AuthenticationError when none is found', async () => {
    const saved = process.env['OPENAI_API_KEY'];
    delete process.env['OPENAI_API_KEY'];
    try {
      const m = openai('gpt-4o-mini', { baseURL: `${server.url}/v1` });
      expect(m.provider).toBe('openai');
      expect(m.modelId).toBe('gpt-4o-mini');
      const err = await rejection(m.generate({ messages: [{ role: 'user', content: 'hi' }], tools: [] }));
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as ModelCallError).kind).toBe('authentication');
      expect(server.requests).toHaveLength(0);
    } finally {
      if (saved !== undefined) process.env['OPENAI_API_KEY'] = saved;
    }
  });

  it('reports the server of its base URL, api.openai.com:443 by default', () => {
    const saved = process.env['OPENAI_BASE_URL'];
    delete process.env['OPENAI_BASE_URL'];
    try {
      expect(openai('gpt-4o-mini').server).toEqual({ address: 'api.openai.com', port: 443 });
      expect(model('gpt-4o-mini').server).toEqual({ address: '127.0.0.1', port: Number(new URL(server.url).port) });
    } finally {
      if (saved !== undefined) process.env['OPENAI_BASE_URL'] = saved;
    }
  });
});

describe('openai chat: generate', () => {
  it('maps a text answer with cached tokens (crewAI recording, gpt-4.1)', async () => {
    server.enqueue(PATH, await exchange('chat-cached.json'));
    const body = await recordedBody<ChatCompletion>('chat-cached.json');
    const response = await model('gpt-4.1').generate({
      system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'Say hello in one word.' }],
      tools: [],
    });
    expect(response.text).toBe(body.choices[0]?.message.content);
    expect(response.id).toBe(body.id);
    expect(response.model).toBe(body.model);
    expect(response.finishReason).toBe('stop');
    expect(response.toolCalls).toEqual([]);
    expect(response.usage).toEqual({
      inputTokens: body.usage?.prompt_tokens,
      outputTokens: body.usage?.completion_tokens,
      cacheReadTokens: body.usage?.prompt_tokens_details?.cached_tokens,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
    // Cached tokens are part of prompt_tokens, never added on top.
    expect(response.usage.cacheReadTokens).toBeGreaterThan(0);
    expect(response.usage.inputTokens).toBe(body.usage?.prompt_tokens);

    const request = sent(0);
    expect(server.requests[0]?.headers['authorization']).toBe(`Bearer ${API_KEY}`);
    expect(request['model']).toBe('gpt-4.1');
    expect(request['messages']).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Say hello in one word.' },
    ]);
    expect(request).not.toHaveProperty('tools');
    expect(request).not.toHaveProperty('stream');
  });

  it('maps reasoning tokens and sends maxOutputTokens as max_completion_tokens (pydantic-ai, o3-mini)', async () => {
    server.enqueue(PATH, await exchange('chat-reasoning.json'));
    const body = await recordedBody<ChatCompletion>('chat-reasoning.json');
    const response = await model('o3-mini').generate({
      messages: [{ role: 'user', content: 'hello' }],
      tools: [],
      maxOutputTokens: 100,
    });
    expect(response.text).toBe(body.choices[0]?.message.content);
    expect(response.usage.reasoningTokens).toBe(body.usage?.completion_tokens_details?.reasoning_tokens);
    expect(response.usage.reasoningTokens).toBeGreaterThan(0);
    // Reasoning tokens are part of completion_tokens, never added on top.
    expect(response.usage.outputTokens).toBe(body.usage?.completion_tokens);
    expect(response.usage.inputTokens).toBe(body.usage?.prompt_tokens);
    expect(sent(0)['max_completion_tokens']).toBe(100);
    expect(sent(0)).not.toHaveProperty('max_tokens');
  });

  it('runs one tool call, then sends its result back answering the right tool_call_id (pydantic-ai, gpt-4o-mini)', async () => {
    server.enqueue(PATH, await exchange('chat-tool-call.json'), await exchange('chat-tool-answer.json'));
    const callBody = await recordedBody<ChatCompletion>('chat-tool-call.json');
    const answerBody = await recordedBody<ChatCompletion>('chat-tool-answer.json');
    const recordedCall = callBody.choices[0]?.message.tool_calls?.[0];
    if (recordedCall?.type !== 'function') throw new Error('fixture has no function call');

    const m = model('gpt-4o-mini');
    const messages: Message[] = [{ role: 'user', content: 'What is the capital of England?' }];
    const first = await m.generate({ messages, tools: [getCapital], temperature: 0 });
    expect(first.finishReason).toBe('tool_calls');
    expect(first.text).toBe('');
    expect(first.toolCalls).toEqual([
      { id: recordedCall.id, name: recordedCall.function.name, arguments: JSON.parse(recordedCall.function.arguments) },
    ]);
    expect(first.toolCalls[0]?.arguments).toEqual({ country: 'England' });
    expect(first.usage.inputTokens).toBe(callBody.usage?.prompt_tokens);
    expect(first.usage.outputTokens).toBe(callBody.usage?.completion_tokens);

    messages.push(
      { role: 'assistant', content: first.text, toolCalls: first.toolCalls },
      { role: 'tool', toolCallId: recordedCall.id, toolName: 'get_capital', content: 'London' },
    );
    const second = await m.generate({ messages, tools: [getCapital] });
    expect(second.text).toBe(answerBody.choices[0]?.message.content);
    expect(second.finishReason).toBe('stop');
    expect(second.toolCalls).toEqual([]);

    expect(sent(0)['temperature']).toBe(0);
    expect(sent(0)['tools']).toEqual([
      { type: 'function', function: { name: 'get_capital', description: getCapital.description, parameters: getCapital.parameters } },
    ]);
    expect(sent(0)).not.toHaveProperty('tool_choice');
    expect(sent(1)['messages']).toEqual([
      { role: 'user', content: 'What is the capital of England?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: recordedCall.id, type: 'function', function: { name: 'get_capital', arguments: '{"country":"England"}' } }],
      },
      { role: 'tool', tool_call_id: recordedCall.id, content: 'London' },
    ]);
  });

  it('maps parallel tool calls and their follow-up answer (crewAI, gpt-4o-mini)', async () => {
    server.enqueue(PATH, await exchange('chat-parallel-tool-calls.json'), await exchange('chat-parallel-answer.json'));
    const callBody = await recordedBody<ChatCompletion>('chat-parallel-tool-calls.json');
    const answerBody = await recordedBody<ChatCompletion>('chat-parallel-answer.json');
    const recorded = (callBody.choices[0]?.message.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [c] : []));
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    const tools: ToolDefinition[] = recorded.map((c) => ({
      name: c.function.name,
      description: 'Local search tool for concurrency testing.',
      parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
    }));

    const m = model('gpt-4o-mini');
    const messages: Message[] = [{ role: 'user', content: 'Search three times in parallel.' }];
    const first = await m.generate({ messages, tools });
    expect(first.finishReason).toBe('tool_calls');
    expect(first.toolCalls).toEqual(
      recorded.map((c) => ({ id: c.id, name: c.function.name, arguments: JSON.parse(c.function.arguments) })),
    );
    expect(first.toolCalls.map((c) => c.arguments)).toEqual([
      { query: 'latest OpenAI model release notes' },
      { query: 'latest Anthropic model release notes' },
      { query: 'latest Gemini model release notes' },
    ]);

    messages.push({ role: 'assistant', content: '', toolCalls: first.toolCalls });
    for (const call of first.toolCalls) {
      messages.push({ role: 'tool', toolCallId: call.id, toolName: call.name, content: `result of ${call.name}` });
    }
    const second = await m.generate({ messages, tools });
    expect(second.text).toBe(answerBody.choices[0]?.message.content);
    expect(second.usage.inputTokens).toBe(answerBody.usage?.prompt_tokens);
    expect(second.usage.outputTokens).toBe(answerBody.usage?.completion_tokens);

    const wire = sent(1)['messages'] as Array<Record<string, unknown>>;
    expect(wire.filter((w) => w['role'] === 'tool').map((w) => w['tool_call_id'])).toEqual(recorded.map((c) => c.id));
    expect((wire[1]?.['tool_calls'] as unknown[]).length).toBe(recorded.length);
  });

  it('sends tool_choice none when the request forbids tool calls', async () => {
    server.enqueue(PATH, await exchange('chat-tool-answer.json'));
    await model('gpt-4o-mini').generate({ messages: [{ role: 'user', content: 'Answer now.' }], tools: [getCapital], toolChoice: 'none' });
    expect(sent(0)['tool_choice']).toBe('none');
  });
});

describe('openai chat: stream', () => {
  it('streams text with include_usage and reports the same usage as the same call unstreamed (crewAI pair)', async () => {
    server.enqueue(PATH, await exchange('chat-stream-cached.sse'), await exchange('chat-cached.json'));
    const request: ModelRequest = { messages: [{ role: 'user', content: 'Say hello in one word.' }], tools: [] };
    const m = model('gpt-4.1');
    const chunks = await collect(m.stream(request));
    const streamed = finalResponse(chunks);
    const unstreamed = await m.generate(request);

    const events = await recordedEvents<ChatCompletionChunk>('chat-stream-cached.sse');
    const deltas = chunks.flatMap((c) => (c.type === 'text-delta' ? [c.text] : []));
    expect(deltas.join('')).toBe(events.map((e) => e.choices[0]?.delta.content ?? '').join(''));
    expect(streamed.text).toBe(deltas.join(''));
    expect(streamed.text).toBe(unstreamed.text);
    expect(streamed.id).toBe(events[0]?.id);
    expect(streamed.finishReason).toBe('stop');
    expect(streamed.usage).toEqual(unstreamed.usage);
    expect(streamed.usage.cacheReadTokens).toBe(streamedUsage(events).prompt_tokens_details?.cached_tokens);
    expect(streamed.usage.inputTokens).toBe(streamedUsage(events).prompt_tokens);
    expect(chunks.filter((c) => c.type === 'response')).toHaveLength(1);

    expect(sent(0)['stream']).toBe(true);
    expect(sent(0)['stream_options']).toEqual({ include_usage: true });
    expect(sent(1)).not.toHaveProperty('stream_options');
  });

  it('streams a tool call, then the answer (pydantic-ai, gpt-4o-mini)', async () => {
    server.enqueue(PATH, await exchange('chat-stream-tool-call.sse'), await exchange('chat-stream-tool-answer.sse'));
    const callEvents = await recordedEvents<ChatCompletionChunk>('chat-stream-tool-call.sse');
    const answerEvents = await recordedEvents<ChatCompletionChunk>('chat-stream-tool-answer.sse');
    const recordedId = callEvents[0]?.choices[0]?.delta.tool_calls?.[0]?.id;

    const m = model('gpt-4o-mini');
    const messages: Message[] = [{ role: 'user', content: 'What is the capital of the UK? Use the tool, then answer.' }];
    const chunks = await collect(m.stream({ messages, tools: [getCapital] }));
    expect(chunks[0]).toEqual({ type: 'tool-call-start', index: 0, id: recordedId, name: 'get_capital' });
    const args = chunks.flatMap((c) => (c.type === 'tool-call-delta' && c.index === 0 ? [c.argumentsDelta] : []));
    expect(args.join('')).toBe('{"country":"UK"}');
    const call = finalResponse(chunks);
    expect(call.finishReason).toBe('tool_calls');
    expect(call.toolCalls).toEqual([{ id: recordedId, name: 'get_capital', arguments: { country: 'UK' } }]);
    expect(call.usage.inputTokens).toBe(streamedUsage(callEvents).prompt_tokens);
    expect(call.usage.outputTokens).toBe(streamedUsage(callEvents).completion_tokens);

    messages.push(
      { role: 'assistant', content: '', toolCalls: call.toolCalls },
      { role: 'tool', toolCallId: recordedId as string, toolName: 'get_capital', content: 'London' },
    );
    const answer = finalResponse(await collect(m.stream({ messages, tools: [getCapital] })));
    expect(answer.text).toBe(answerEvents.map((e) => e.choices[0]?.delta.content ?? '').join(''));
    expect(answer.text).toBe('The capital of the UK is London.');
    expect(answer.usage.inputTokens).toBe(streamedUsage(answerEvents).prompt_tokens);
    expect(answer.usage.outputTokens).toBe(streamedUsage(answerEvents).completion_tokens);
    const wire = sent(1)['messages'] as Array<Record<string, unknown>>;
    expect(wire[2]).toEqual({ role: 'tool', tool_call_id: recordedId, content: 'London' });
  });

  it('streams parallel tool calls apart by index (pydantic-ai, gpt-4o)', async () => {
    server.enqueue(PATH, await exchange('chat-stream-parallel-tool-calls.sse'));
    const events = await recordedEvents<ChatCompletionChunk>('chat-stream-parallel-tool-calls.sse');
    const recorded = events.flatMap((e) => e.choices[0]?.delta.tool_calls ?? []).filter((t) => t.id !== undefined);
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    const tools: ToolDefinition[] = recorded.map((t) => ({
      name: t.function?.name as string,
      description: '',
      parameters: { type: 'object', properties: {} },
    }));

    const chunks = await collect(model('gpt-4o').stream({ messages: [{ role: 'user', content: 'Tell me.' }], tools }));
    expect(chunks.filter((c) => c.type === 'tool-call-start')).toEqual(
      recorded.map((t) => ({ type: 'tool-call-start', index: t.index, id: t.id, name: t.function?.name })),
    );
    const response = finalResponse(chunks);
    expect(response.toolCalls).toEqual(recorded.map((t) => ({ id: t.id, name: t.function?.name, arguments: {} })));
    expect(response.usage.inputTokens).toBe(streamedUsage(events).prompt_tokens);
    expect(response.usage.outputTokens).toBe(streamedUsage(events).completion_tokens);
  });
});

describe('openai chat: errors', () => {
  const request: ModelRequest = { messages: [{ role: 'user', content: 'hi' }], tools: [] };

  it('maps 429 to rate_limit with the retry-after delay, and does not retry inside the SDK', async () => {
    const fixture = await exchange('chat-error-429.json');
    server.enqueue(PATH, fixture);
    const err = await rejection(model('gpt-4o-mini').generate(request));
    expect(err).toBeInstanceOf(ModelCallError);
    const e = err as ModelCallError;
    expect(e.kind).toBe('rate_limit');
    expect(e.status).toBe(429);
    expect(e.retryAfterMs).toBe(Number(fixture.headers?.['retry-after']) * 1000);
    expect(e.retryable).toBe(true);
    expect(e.provider).toBe('openai');
    expect(e.cause).toBeDefined();
    expect(server.requests).toHaveLength(1);
  });

  it('maps 500 to server_error with the request id', async () => {
    const fixture = await exchange('chat-error-500.json');
    server.enqueue(PATH, fixture);
    const e = (await rejection(model('gpt-4o-mini').generate(request))) as ModelCallError;
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e.kind).toBe('server_error');
    expect(e.status).toBe(500);
    expect(e.requestId).toBe(fixture.headers?.['x-request-id']);
    expect(e.retryable).toBe(true);
    expect(server.requests).toHaveLength(1);
  });

  it('maps 401 to AuthenticationError without the API key in the message', async () => {
    server.enqueue(PATH, await exchange('chat-error-401.json'));
    const e = (await rejection(model('gpt-4o-mini').generate(request))) as ModelCallError;
    expect(e).toBeInstanceOf(AuthenticationError);
    expect(e.kind).toBe('authentication');
    expect(e.status).toBe(401);
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain(API_KEY);
  });

  it('maps 400 context_length_exceeded to ContextLengthExceededError', async () => {
    server.enqueue(PATH, await exchange('chat-error-400-context-length.json'));
    const e = (await rejection(model('gpt-4o-mini').generate(request))) as ModelCallError;
    expect(e).toBeInstanceOf(ContextLengthExceededError);
    expect(e.kind).toBe('context_length_exceeded');
    expect(e.status).toBe(400);
    expect(e.retryable).toBe(false);
  });

  it('maps an error on a stream request to the same typed error', async () => {
    server.enqueue(PATH, await exchange('chat-error-429.json'));
    const e = (await rejection(collect(model('gpt-4o-mini').stream(request)))) as ModelCallError;
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e.kind).toBe('rate_limit');
  });

  it('throws a ModelCallError when the stream is cut midway', async () => {
    const fixture = await exchange('chat-stream-tool-answer.sse');
    server.enqueue(PATH, { ...fixture, cutAfterBytes: Math.floor((fixture.sse?.length ?? 0) / 2) });
    const seen: string[] = [];
    const err = await rejection(
      (async () => {
        for await (const chunk of model('gpt-4o-mini').stream(request)) seen.push(chunk.type);
      })(),
    );
    expect(err).toBeInstanceOf(ModelCallError);
    expect(['connection', 'stream_error']).toContain((err as ModelCallError).kind);
    expect(seen).toContain('text-delta');
    expect(seen).not.toContain('response');
  });

  it('gives kind aborted for an aborted signal', async () => {
    server.enqueue(PATH, { ...(await exchange('chat-cached.json')), delayMs: 2_000 });
    const controller = new AbortController();
    const pending = model('gpt-4.1').generate({ ...request, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const e = (await rejection(pending)) as ModelCallError;
    expect(e).toBeInstanceOf(ModelCallError);
    expect(e.kind).toBe('aborted');
    expect(e.retryable).toBe(false);
  });

  it('gives kind aborted when a stream is aborted midway', async () => {
    server.enqueue(PATH, await exchange('chat-stream-tool-answer.sse'));
    const controller = new AbortController();
    const err = await rejection(
      (async () => {
        for await (const chunk of model('gpt-4o-mini').stream({ ...request, signal: controller.signal })) {
          if (chunk.type === 'text-delta') controller.abort();
        }
      })(),
    );
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as ModelCallError).kind).toBe('aborted');
  });
});
