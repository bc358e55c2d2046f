/**
 * `aiSdk()` over the AI SDK's own mock model (`MockLanguageModelV3` from `ai/test`), run by the
 * traced runtime: what the specification says a model returns (usage with cache and reasoning
 * counts, finish reasons, parallel tool calls, stream parts, provider metadata, `APICallError`s)
 * lands on the chat spans, the run's result and its retries as for tracebound's own adapters.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { APICallError, LoadAPIKeyError, type LanguageModelV3GenerateResult, type LanguageModelV3StreamPart, type LanguageModelV3Usage } from '@ai-sdk/provider';
import { MockLanguageModelV3, convertArrayToReadableStream } from 'ai/test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunAbortedError, RunError } from '../../src/errors.js';
import { priceCall } from '../../src/pricing/price.js';
import { aiSdk, providerName } from '../../src/providers/ai-sdk.js';
import { AuthenticationError, ContextLengthExceededError, ModelCallError } from '../../src/providers/errors.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';
import { drain, expectAllEnded, harness, spanTree, streamedText, type Harness } from './support.js';
import { rejection } from '../support/rejection.js';

let h: Harness;
beforeEach(async () => {
  h = await harness({ langfuseAttributes: true });
});
afterEach(async () => {
  await h.close();
});

/** Usage as an OpenAI-like provider package reports it: 1000 of 1200 input tokens cached, 200 of 300 output tokens reasoning. */
const USAGE: LanguageModelV3Usage = {
  inputTokens: { total: 1200, noCache: 200, cacheRead: 1000, cacheWrite: undefined },
  outputTokens: { total: 300, text: 100, reasoning: 200 },
};
const EXPECTED_USAGE = { inputTokens: 1200, outputTokens: 300, cacheReadTokens: 1000, cacheWriteTokens: 0, reasoningTokens: 200 };

function answer(text: string, extra: Partial<LanguageModelV3GenerateResult> = {}): LanguageModelV3GenerateResult {
  return { content: [{ type: 'text', text }], finishReason: { unified: 'stop', raw: 'stop' }, usage: USAGE, warnings: [], ...extra };
}

const add = tool({
  name: 'add',
  description: 'Adds two numbers',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => a + b,
});

describe('aiSdk() with the AI SDK mock model, through the runtime', () => {
  it("asks a typed agent's answer in the json response format with its schema, and parses it", async () => {
    const mock = new MockLanguageModelV3({ provider: 'mistral.chat', modelId: 'mistral-small-latest', doGenerate: answer('{"city":"Paris","population":2102650}') });
    const typed = agent({ name: 'typed', instructions: 'Answer in JSON.', model: aiSdk(mock), output: z.object({ city: z.string(), population: z.number() }) });
    const result = await h.runtime.run(typed, 'Largest city of France?');

    expect(result.output).toEqual({ city: 'Paris', population: 2102650 });
    const options = mock.doGenerateCalls[0]!;
    expect(options.responseFormat).toMatchObject({ type: 'json', schema: { type: 'object', required: ['city', 'population'], additionalProperties: false } });
    // Native structured output: the schema is not repeated in the system prompt.
    expect(JSON.stringify(options.prompt[0])).not.toContain('population');
  });

  it('maps usage (cached, reasoning) and prices the call on the served model, with its provider as gen_ai.provider.name', async () => {
    const mock = new MockLanguageModelV3({
      provider: 'openai.chat',
      modelId: 'gpt-4o-mini',
      doGenerate: answer('Hello', { response: { id: 'chatcmpl-1', modelId: 'gpt-4o-mini-2024-07-18' } }),
    });
    const result = await h.runtime.run(agent({ name: 'mock', instructions: 'Be brief.', model: aiSdk(mock) }), 'hi');

    expect(result.output).toBe('Hello');
    expect(result.usage).toEqual(EXPECTED_USAGE);
    const price = priceCall('openai', 'gpt-4o-mini-2024-07-18', EXPECTED_USAGE);
    expect(price).toBeDefined();
    expect(result.costUsd).toBeCloseTo(price!.usd, 12);
    const [chat] = spanTree(h.collector.spans(), 'mock', 'gpt-4o-mini').chats;
    const a = chat!.attributes;
    expect(a[ATTR.providerName]).toBe('openai');
    expect(a[ATTR.responseId]).toBe('chatcmpl-1');
    expect(a[ATTR.responseModel]).toBe('gpt-4o-mini-2024-07-18');
    expect(a[ATTR.responseFinishReasons]).toEqual(['stop']);
    expect([a[ATTR.usageInputTokens], a[ATTR.usageOutputTokens], a[ATTR.usageCacheReadTokens], a[ATTR.usageReasoningTokens]]).toEqual([1200, 300, 1000, 200]);
    expect(a[ATTR.costAmount]).toBeCloseTo(price!.usd, 12);
    expect(a[ATTR.costSource]).toBe('local');
    // The call the provider package got: the specification's prompt, no tools.
    expect(mock.doGenerateCalls[0]!.prompt).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
    ]);
    expect(mock.doGenerateCalls[0]!.tools).toBeUndefined();
    expectAllEnded(h);
  });

  it('a usage without totals is the sum of its parts', async () => {
    const parts: LanguageModelV3Usage = {
      inputTokens: { total: undefined, noCache: 20, cacheRead: 30, cacheWrite: 50 },
      outputTokens: { total: undefined, text: 7, reasoning: 3 },
    };
    const m = aiSdk(new MockLanguageModelV3({ provider: 'anthropic.messages', modelId: 'claude-haiku-4-5', doGenerate: answer('ok', { usage: parts }) }));
    const response = await m.generate({ messages: [{ role: 'user', content: 'hi' }], tools: [] });
    expect(response.usage).toEqual({ inputTokens: 100, outputTokens: 10, cacheReadTokens: 30, cacheWriteTokens: 50, reasoningTokens: 3 });
    expect(m.provider).toBe('anthropic');
  });

  it('runs parallel tool calls and sends their results back as tool-result parts', async () => {
    const mock = new MockLanguageModelV3({
      provider: 'openai.chat',
      modelId: 'gpt-4o-mini',
      doGenerate: [
        {
          content: [
            { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: '{"a":1,"b":2}' },
            { type: 'tool-call', toolCallId: 'call_2', toolName: 'add', input: '{"a":3,"b":4}' },
            // Run by the provider itself: not the agent's to answer.
            { type: 'tool-call', toolCallId: 'ws_1', toolName: 'web_search', input: '{}', providerExecuted: true },
          ],
          finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
          usage: USAGE,
          warnings: [],
        },
        answer('3 and 7'),
      ],
    });
    const result = await h.runtime.run(agent({ name: 'mock', instructions: '', model: aiSdk(mock), tools: [add] }), 'add');

    expect(result.output).toBe('3 and 7');
    const tree = spanTree(h.collector.spans(), 'mock', 'gpt-4o-mini');
    expect(tree.chats[0]!.attributes[ATTR.responseFinishReasons]).toEqual(['tool_calls']);
    expect(tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId]).sort()).toEqual(['call_1', 'call_2']);
    expect(mock.doGenerateCalls[0]!.tools).toEqual([{ type: 'function', name: 'add', description: 'Adds two numbers', inputSchema: add.definition.parameters }]);
    // [system, user, assistant, tool, tool]
    const second = mock.doGenerateCalls[1]!.prompt;
    expect(second[2]).toEqual({
      role: 'assistant',
      content: [
        { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: { a: 1, b: 2 } },
        { type: 'tool-call', toolCallId: 'call_2', toolName: 'add', input: { a: 3, b: 4 } },
      ],
    });
    expect(second.slice(3)).toEqual([
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'call_1', toolName: 'add', output: { type: 'text', value: '3' } }] },
      { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'call_2', toolName: 'add', output: { type: 'text', value: '7' } }] },
    ]);
    expectAllEnded(h);
  });

  it('streams text, reasoning and a tool call from stream parts, then the answer', async () => {
    const toolStream: LanguageModelV3StreamPart[] = [
      { type: 'stream-start', warnings: [] },
      { type: 'response-metadata', id: 'resp-1', modelId: 'gpt-4o-mini-2024-07-18' },
      { type: 'reasoning-start', id: 'r' },
      { type: 'reasoning-delta', id: 'r', delta: 'Adding.' },
      { type: 'reasoning-end', id: 'r' },
      { type: 'tool-input-start', id: 'call_1', toolName: 'add' },
      { type: 'tool-input-delta', id: 'call_1', delta: '{"a":1,' },
      { type: 'tool-input-delta', id: 'call_1', delta: '"b":2}' },
      { type: 'tool-input-end', id: 'call_1' },
      { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: '{"a":1,"b":2}' },
      { type: 'finish', usage: USAGE, finishReason: { unified: 'tool-calls', raw: 'tool_calls' } },
    ];
    const textStream: LanguageModelV3StreamPart[] = [
      { type: 'text-start', id: 't' },
      { type: 'text-delta', id: 't', delta: 'It is ' },
      { type: 'text-delta', id: 't', delta: '3.' },
      { type: 'text-end', id: 't' },
      { type: 'finish', usage: USAGE, finishReason: { unified: 'stop', raw: 'stop' } },
    ];
    const mock = new MockLanguageModelV3({
      provider: 'openai.chat',
      modelId: 'gpt-4o-mini',
      doStream: [{ stream: convertArrayToReadableStream(toolStream) }, { stream: convertArrayToReadableStream(textStream) }],
    });
    const { events, error } = await drain(h.runtime.stream(agent({ name: 'mock', instructions: '', model: aiSdk(mock), tools: [add] }), 'add'));

    expect(error).toBeUndefined();
    expect(streamedText(events)).toBe('It is 3.');
    expect(events.filter((e) => e.type === 'reasoning-delta').map((e) => e.type === 'reasoning-delta' && e.text)).toEqual(['Adding.']);
    const end = events.find((e) => e.type === 'tool-call-end');
    expect(end?.type === 'tool-call-end' && end.toolCall).toEqual({ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } });
    const tree = spanTree(h.collector.spans(), 'mock', 'gpt-4o-mini');
    expect(tree.chats[0]!.attributes[ATTR.responseId]).toBe('resp-1');
    expect(tree.chats[0]!.attributes[ATTR.usageReasoningTokens]).toBe(200);
    expect(tree.chats[1]!.attributes[ATTR.responseFinishReasons]).toEqual(['stop']);
    expect(mock.doStreamCalls[1]!.prompt[2]).toEqual({
      role: 'assistant',
      content: [
        { type: 'reasoning', text: 'Adding.' },
        { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: { a: 1, b: 2 } },
      ],
    });
    expectAllEnded(h);
  });

  it("keeps Anthropic's reasoning signatures and redacted data and a Vertex tool call's thought signature, and sends them back as providerOptions", async () => {
    const mock = new MockLanguageModelV3({
      provider: 'google.vertex.chat',
      modelId: 'gemini-2.5-pro',
      doGenerate: [
        {
          content: [
            { type: 'reasoning', text: 'Adding 1 and 2.', providerMetadata: { anthropic: { signature: 'signature-of-thinking' } } },
            { type: 'reasoning', text: '', providerMetadata: { anthropic: { redactedData: 'redacted-thinking-data' } } },
            { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: '{"a":1,"b":2}', providerMetadata: { vertex: { thoughtSignature: 'thought-signature' } } },
          ],
          finishReason: { unified: 'tool-calls', raw: 'STOP' },
          usage: USAGE,
          warnings: [],
        },
        answer('3'),
      ],
    });
    const result = await h.runtime.run(agent({ name: 'mock', instructions: '', model: aiSdk(mock), tools: [add] }), 'add');

    const [assistant] = result.messages.filter((m) => m.role === 'assistant');
    expect(assistant).toMatchObject({
      reasoning: [{ text: 'Adding 1 and 2.', signature: 'signature-of-thinking' }, { text: '', redacted: 'redacted-thinking-data' }],
      toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 }, signature: 'thought-signature' }],
    });
    // Each under its provider's key; @ai-sdk/google reads a Vertex model's options under `vertex`.
    expect(mock.doGenerateCalls[1]!.prompt[2]).toEqual({
      role: 'assistant',
      content: [
        { type: 'reasoning', text: 'Adding 1 and 2.', providerOptions: { anthropic: { signature: 'signature-of-thinking' } } },
        { type: 'reasoning', text: '', providerOptions: { anthropic: { redactedData: 'redacted-thinking-data' } } },
        { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: { a: 1, b: 2 }, providerOptions: { vertex: { thoughtSignature: 'thought-signature' } } },
      ],
    });
    expectAllEnded(h);
  });

  it('streams each reasoning block as its own part with the signature its delta carries, and a tool call with its thought signature', async () => {
    const toolStream: LanguageModelV3StreamPart[] = [
      { type: 'reasoning-start', id: '0' },
      { type: 'reasoning-delta', id: '0', delta: 'First, ' },
      { type: 'reasoning-delta', id: '0', delta: 'add.' },
      { type: 'reasoning-delta', id: '0', delta: '', providerMetadata: { anthropic: { signature: 'signature-0' } } },
      { type: 'reasoning-end', id: '0' },
      { type: 'reasoning-start', id: '1', providerMetadata: { anthropic: { redactedData: 'redacted-1' } } },
      { type: 'reasoning-end', id: '1' },
      { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: '{"a":1,"b":2}', providerMetadata: { google: { thoughtSignature: 'thought-signature' } } },
      { type: 'finish', usage: USAGE, finishReason: { unified: 'tool-calls', raw: 'tool_use' } },
    ];
    const textStream: LanguageModelV3StreamPart[] = [
      { type: 'text-delta', id: 't', delta: '3.' },
      { type: 'finish', usage: USAGE, finishReason: { unified: 'stop', raw: 'stop' } },
    ];
    const mock = new MockLanguageModelV3({
      provider: 'google.generative-ai',
      modelId: 'gemini-2.5-pro',
      doStream: [{ stream: convertArrayToReadableStream(toolStream) }, { stream: convertArrayToReadableStream(textStream) }],
    });
    const { events, error } = await drain(h.runtime.stream(agent({ name: 'mock', instructions: '', model: aiSdk(mock), tools: [add] }), 'add'));

    expect(error).toBeUndefined();
    expect(events.filter((e) => e.type === 'reasoning-delta').map((e) => e.type === 'reasoning-delta' && e.text)).toEqual(['First, ', 'add.']);
    expect(mock.doStreamCalls[1]!.prompt[2]).toEqual({
      role: 'assistant',
      content: [
        { type: 'reasoning', text: 'First, add.', providerOptions: { anthropic: { signature: 'signature-0' } } },
        { type: 'reasoning', text: '', providerOptions: { anthropic: { redactedData: 'redacted-1' } } },
        { type: 'tool-call', toolCallId: 'call_1', toolName: 'add', input: { a: 1, b: 2 }, providerOptions: { google: { thoughtSignature: 'thought-signature' } } },
      ],
    });
    expectAllEnded(h);
  });

  it("uses a gateway's reported cost: gen_ai.usage.cost.source = provider", async () => {
    const mock = new MockLanguageModelV3({
      provider: 'gateway',
      modelId: 'openai/gpt-4o-mini',
      doGenerate: answer('ok', { providerMetadata: { gateway: { cost: '0.0123' } } }),
    });
    const result = await h.runtime.run(agent({ name: 'mock', instructions: '', model: aiSdk(mock) }), 'hi');

    expect(result.costUsd).toBe(0.0123);
    const [chat] = spanTree(h.collector.spans(), 'mock', 'openai/gpt-4o-mini').chats;
    expect(chat!.attributes[ATTR.costAmount]).toBe(0.0123);
    expect(chat!.attributes[ATTR.costSource]).toBe('provider');
    expect(JSON.parse(String(chat!.attributes[ATTR.langfuseCostDetails]))).toEqual({ total: 0.0123 });
  });

  it("uses OpenRouter's reported cost from a stream's finish metadata", async () => {
    const parts: LanguageModelV3StreamPart[] = [
      { type: 'text-delta', id: 't', delta: 'ok' },
      { type: 'finish', usage: USAGE, finishReason: { unified: 'stop', raw: 'stop' }, providerMetadata: { openrouter: { usage: { cost: 0.000669 } } } },
    ];
    const mock = new MockLanguageModelV3({ provider: 'openrouter', modelId: 'anthropic/claude-sonnet-4.5', doStream: { stream: convertArrayToReadableStream(parts) } });
    const { events } = await drain(h.runtime.stream(agent({ name: 'mock', instructions: '', model: aiSdk(mock) }), 'hi'));
    const end = events.find((e) => e.type === 'run-end');
    expect(end?.type === 'run-end' && end.result.costUsd).toBe(0.000669);
    const [chat] = spanTree(h.collector.spans(), 'mock', 'anthropic/claude-sonnet-4.5').chats;
    expect(chat!.attributes[ATTR.costSource]).toBe('provider');
  });

  it('retries an APICallError 529 on the one chat span, then succeeds', async () => {
    let calls = 0;
    const mock = new MockLanguageModelV3({
      provider: 'anthropic.messages',
      modelId: 'claude-haiku-4-5',
      doGenerate: async () => {
        if (++calls === 1) {
          throw new APICallError({
            message: 'Overloaded',
            url: 'https://api.anthropic.com/v1/messages',
            requestBodyValues: {},
            statusCode: 529,
            responseHeaders: { 'retry-after': '0' },
            isRetryable: true,
          });
        }
        return answer('ok');
      },
    });
    const result = await h.runtime.run(agent({ name: 'mock', instructions: '', model: aiSdk(mock) }), 'hi');

    expect(result.output).toBe('ok');
    const [chat] = spanTree(h.collector.spans(), 'mock', 'claude-haiku-4-5').chats;
    expect(chat!.attributes[ATTR.retryAttempts]).toBe(1);
    const retries = chat!.events.filter((e) => e.name === EVENT.retry);
    expect(retries.map((e) => e.attributes?.['error.type'])).toEqual(['overloaded']);
  });

  it('does not retry a 400: the run fails and the chat span ends in error', async () => {
    const mock = new MockLanguageModelV3({
      provider: 'openai.chat',
      modelId: 'gpt-4o-mini',
      doGenerate: async () => {
        throw new APICallError({ message: 'Invalid schema for function', url: 'u', requestBodyValues: {}, statusCode: 400, isRetryable: false });
      },
    });
    const error = await rejection(h.runtime.run(agent({ name: 'mock', instructions: '', model: aiSdk(mock) }), 'hi'));

    expect(error).toBeInstanceOf(RunError);
    expect(mock.doGenerateCalls).toHaveLength(1);
    const chat = h.collector.spans().find((s) => s.name === 'chat gpt-4o-mini');
    expect(chat?.status.code).toBe(SpanStatusCode.ERROR);
    expect(chat?.attributes[ATTR.errorType]).toBe('invalid_request');
    expect(chat?.attributes[ATTR.costAmount]).toBeUndefined();
  });

  it('aborts a stream in flight: the provider gets the signal and the run rejects', async () => {
    let providerSignal: AbortSignal | undefined;
    const mock = new MockLanguageModelV3({
      provider: 'openai.chat',
      modelId: 'gpt-4o-mini',
      doStream: async (options) => {
        providerSignal = options.abortSignal;
        // A stream that sends one delta and then waits, as a slow provider would.
        const stream = new ReadableStream<LanguageModelV3StreamPart>({
          start(controller) {
            controller.enqueue({ type: 'text-delta', id: 't', delta: 'partial' });
          },
        });
        return { stream };
      },
    });
    const controller = new AbortController();
    const { events, error } = await drain(h.runtime.stream(agent({ name: 'mock', instructions: '', model: aiSdk(mock) }), 'hi', { signal: controller.signal }), (e) => {
      if (e.type === 'text-delta') controller.abort();
    });

    expect(streamedText(events)).toBe('partial');
    expect(error).toBeInstanceOf(RunAbortedError);
    expect(providerSignal?.aborted).toBe(true);
    expectAllEnded(h);
  });
});

describe('aiSdk() error classification', () => {
  const failing = (error: unknown) =>
    aiSdk(
      new MockLanguageModelV3({
        provider: 'mistral.chat',
        modelId: 'mistral-small-latest',
        doGenerate: async () => {
          throw error;
        },
      }),
    ).generate({ messages: [{ role: 'user', content: 'hi' }], tools: [] });
  const api = (statusCode: number | undefined, message = 'failed', extra: Partial<ConstructorParameters<typeof APICallError>[0]> = {}) =>
    new APICallError({ message, url: 'u', requestBodyValues: {}, statusCode, isRetryable: statusCode === undefined || statusCode >= 500, ...extra });

  it.each([
    [503, 'server_error', true],
    [429, 'rate_limit', true],
    [529, 'overloaded', true],
    [403, 'permission', false],
    [404, 'not_found', false],
  ])('HTTP %i is %s (retryable: %s)', async (status, kind, retryable) => {
    const error = (await rejection(failing(api(status)))) as ModelCallError;
    expect(error).toBeInstanceOf(ModelCallError);
    expect([error.kind, error.status, error.retryable, error.provider]).toEqual([kind, status, retryable, 'mistral_ai']);
    expect(error.cause).toBeInstanceOf(APICallError);
  });

  it('reads retry-after from the response headers', async () => {
    const error = (await rejection(failing(api(429, 'slow down', { responseHeaders: { 'retry-after': '3' } })))) as ModelCallError;
    expect(error.retryAfterMs).toBe(3000);
  });

  it('a request that got no answer is a retryable connection failure', async () => {
    const error = (await rejection(failing(api(undefined, 'Cannot connect to API: fetch failed')))) as ModelCallError;
    expect([error.kind, error.retryable]).toEqual(['connection', true]);
  });

  it('401 and a missing API key are AuthenticationErrors', async () => {
    expect(await rejection(failing(api(401, 'Unauthorized')))).toBeInstanceOf(AuthenticationError);
    const missing = await rejection(failing(new LoadAPIKeyError({ message: 'Mistral API key is missing.' })));
    expect(missing).toBeInstanceOf(AuthenticationError);
    expect((missing as ModelCallError).retryable).toBe(false);
  });

  it('a 400 in context-length wording is a ContextLengthExceededError', async () => {
    const error = await rejection(failing(api(400, 'Prompt contains 40000 tokens, too large for model with 32768 maximum context length')));
    expect(error).toBeInstanceOf(ContextLengthExceededError);
  });

  it('a 200 whose body failed the package validation is response_invalid, not retried', async () => {
    const error = (await rejection(failing(api(200, 'Invalid JSON response')))) as ModelCallError;
    expect([error.kind, error.retryable]).toEqual(['response_invalid', false]);
  });

  it("a stream's error part is a stream_error, or the kind of the APICallError it carries", async () => {
    const streaming = (error: unknown) =>
      aiSdk(
        new MockLanguageModelV3({
          provider: 'groq.chat',
          modelId: 'llama-3.3-70b-versatile',
          doStream: { stream: convertArrayToReadableStream<LanguageModelV3StreamPart>([{ type: 'error', error }]) },
        }),
      ).stream({ messages: [{ role: 'user', content: 'hi' }], tools: [] });
    const drainModel = async (stream: AsyncIterable<unknown>) => {
      for await (const chunk of stream) void chunk;
    };
    const plain = (await rejection(drainModel(streaming({ message: 'upstream closed' })))) as ModelCallError;
    expect([plain.kind, plain.provider]).toEqual(['stream_error', 'groq']);
    const overloaded = (await rejection(drainModel(streaming(api(503))))) as ModelCallError;
    expect(overloaded.kind).toBe('server_error');
  });

  it('a stream that ends without a finish part is a stream_error', async () => {
    const m = aiSdk(
      new MockLanguageModelV3({
        provider: 'openai.chat',
        modelId: 'gpt-4o-mini',
        doStream: { stream: convertArrayToReadableStream<LanguageModelV3StreamPart>([{ type: 'text-delta', id: 't', delta: 'cut' }]) },
      }),
    );
    const chunks: unknown[] = [];
    const error = (await rejection(
      (async () => {
        for await (const chunk of m.stream({ messages: [{ role: 'user', content: 'hi' }], tools: [] })) chunks.push(chunk);
      })(),
    )) as ModelCallError;
    expect(chunks).toEqual([{ type: 'text-delta', text: 'cut' }]);
    expect(error.kind).toBe('stream_error');
  });
});

describe('aiSdk() definition', () => {
  it.each([
    ['openai.chat', 'openai'],
    ['openai.responses', 'openai'],
    ['anthropic.messages', 'anthropic'],
    ['mistral.chat', 'mistral_ai'],
    ['groq.chat', 'groq'],
    ['amazon-bedrock', 'aws.bedrock'],
    ['google.generative-ai', 'gcp.gemini'],
    ['google.vertex.chat', 'gcp.vertex_ai'],
    ['xai.chat', 'x_ai'],
    ['azure.chat', 'azure.ai.openai'],
    ['ollama.chat', 'ollama'],
  ])('%s is gen_ai.provider.name %s', (given, expected) => {
    expect(providerName(given)).toBe(expected);
  });

  it('prices an x_ai model through its genai-prices id', () => {
    expect(priceCall('x_ai', 'grok-4', EXPECTED_USAGE)).toEqual(priceCall('x-ai', 'grok-4', EXPECTED_USAGE));
    expect(priceCall('x_ai', 'grok-4', EXPECTED_USAGE)).toBeDefined();
  });

  it('takes a provider name and server from its options', () => {
    const m = aiSdk(new MockLanguageModelV3({ provider: 'ollama.chat', modelId: 'llama3.2' }), { provider: 'ollama', server: { address: '127.0.0.1', port: 11434 } });
    expect([m.provider, m.modelId, m.server]).toEqual(['ollama', 'llama3.2', { address: '127.0.0.1', port: 11434 }]);
  });

  it('refuses what is not a v3 language model, saying what it needs', () => {
    expect(() => aiSdk('mistral-small-latest' as never)).toThrow(/specification v3.*got string/);
    expect(() => aiSdk({ specificationVersion: 'v2', provider: 'openai.chat', modelId: 'gpt-4o-mini' } as never)).toThrow(/got specification v2/);
  });
});
