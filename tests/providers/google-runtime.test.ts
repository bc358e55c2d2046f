/**
 * The whole runtime (loop, retries, tools, tracing, pricing) over the real `@google/genai` SDK,
 * against recorded Gemini API traffic (tests/fixtures/google, see SOURCES.md). Expected numbers
 * come from the recorded bodies and from the pricing module, never from the test.
 */
import { GoogleGenAI } from '@google/genai';
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunError } from '../../src/errors.js';
import { addUsage, emptyUsage, type Usage } from '../../src/messages.js';
import { priceCall } from '../../src/pricing/price.js';
import { ModelCallError } from '../../src/providers/errors.js';
import { google } from '../../src/providers/google.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime } from '../../src/create-runtime.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import { recordedRuns } from '../../src/replay/read.js';
import { replayRun } from '../../src/replay/replay.js';
import { spanRecordOf } from '../../src/traces/span-record.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import { drain, expectAllEnded, expectChatSpan, harness, spanTree, type Harness } from '../integration/support.js';
import { rejection } from '../support/rejection.js';
import { body, exchange, generatePath, partsOf, semconvUsage, sseEvents, streamPath } from './google-helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const gemini = (modelId: string) => google(modelId, { baseURL: h.server.url, apiKey: 'gemini-test-key' });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sent = (i: number): any => h.server.requests[i]?.body;

/** What a recorded answer says of its call: usage, id, model version and finish reason (from its parts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function callOf(last: any, parts: any[]) {
  const finish = parts.some((p) => p.functionCall) ? 'tool_calls' : 'stop';
  expect(last.candidates[0].finishReason).toBe('STOP');
  return { usage: semconvUsage(last.usageMetadata), responseId: last.responseId as string, responseModel: last.modelVersion as string, finishReason: finish };
}
const recordedCall = (name: string) => callOf(body(name), partsOf(body(name)));
const streamedCall = (name: string) => {
  const events = sseEvents(name);
  return { ...callOf(events.at(-1), partsOf(...events)), responseId: events[0].responseId as string };
};

function usd(modelId: string, usage: Usage): number {
  const cost = priceCall('gcp.gemini', modelId, usage);
  expect(cost, `gcp.gemini:${modelId} has a price`).toBeDefined();
  return cost!.usd;
}

/** A token count that is left out when zero. */
const count = (span: ReadableSpan, key: string): unknown => span.attributes[key] ?? 0;

function expectRunTotals(run: ReadableSpan, modelId: string, calls: ReturnType<typeof recordedCall>[], end: { stopReason: string; steps: number; toolCalls: number }): void {
  const usage = calls.map((c) => c.usage).reduce(addUsage, emptyUsage());
  const a = run.attributes;
  expect(a[ATTR.providerName]).toBe('gcp.gemini');
  expect(a[ATTR.requestModel]).toBe(modelId);
  expect([a[ATTR.usageInputTokens], a[ATTR.usageOutputTokens], count(run, ATTR.usageReasoningTokens)]).toEqual([usage.inputTokens, usage.outputTokens, usage.reasoningTokens]);
  expect(a[ATTR.runCostUsd]).toBeCloseTo(calls.reduce((sum, c) => sum + usd(c.responseModel, c.usage), 0), 12);
  expect(a[ATTR.stopReason]).toBe(end.stopReason);
  expect(a[ATTR.steps]).toBe(end.steps);
  expect(a[ATTR.toolCalls]).toBe(end.toolCalls);
}

describe('gemini through the runtime', () => {
  it('answers with text: span tree, gcp.gemini, tokens with thoughts as output, cost (pydantic-ai test_google_model)', async () => {
    h.server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    const call = recordedCall('text.json');
    const a = agent({ name: 'chat', instructions: 'You are a chatbot.', model: gemini('gemini-2.5-flash') });

    const result = await h.runtime.run(a, 'Hello!');
    expect(result.output).toBe(partsOf(body('text.json'))[0].text);
    expect(result.usage).toEqual(call.usage);
    expect(result.costUsd).toBeCloseTo(usd('gemini-2.5-flash', call.usage), 12);
    const tree = spanTree(h.collector.spans(), 'chat', 'gemini-2.5-flash');
    expectChatSpan(tree.chats[0]!, 'gcp.gemini', 'gemini-2.5-flash', h.server, call);
    expectRunTotals(tree.run, 'gemini-2.5-flash', [call], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
    expect(sent(0).systemInstruction).toEqual({ role: 'user', parts: [{ text: 'You are a chatbot.' }] });
  });

  it('runs a signed call without an id, then answers; the loop sends the signature back on the wire (pydantic-ai test_google_text_output_function)', async () => {
    h.server.enqueue(generatePath('gemini-2.5-pro'), await exchange('tool-signature-1.json'), await exchange('tool-signature-2.json'));
    const [signed] = partsOf(body('tool-signature-1.json'));
    const ids: string[] = [];
    const country = tool({
      name: 'get_user_country',
      description: 'The country of the user.',
      parameters: z.object({}),
      execute: (_args, { toolCallId }) => {
        ids.push(toolCallId);
        return 'Mexico';
      },
    });
    const a = agent({ name: 'locator', instructions: '', model: gemini('gemini-2.5-pro'), tools: [country] });

    const result = await h.runtime.run(a, 'What is the largest city in the user country? Use the get_user_country tool and then your own world knowledge.');
    expect(result.output).toBe(partsOf(body('tool-signature-2.json'))[0].text);
    expect(ids).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'locator', 'gemini-2.5-pro');
    expect(tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId])).toEqual(ids);
    const calls = [recordedCall('tool-signature-1.json'), recordedCall('tool-signature-2.json')];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'gcp.gemini', 'gemini-2.5-pro', h.server, calls[i]!));
    expectRunTotals(tree.run, 'gemini-2.5-pro', calls, { stopReason: 'final', steps: 2, toolCalls: 1 });
    expectAllEnded(h);

    expect(sent(1).contents.slice(1)).toEqual([
      { role: 'model', parts: [{ functionCall: { id: ids[0], name: 'get_user_country', args: {} }, thoughtSignature: signed.thoughtSignature }] },
      { role: 'user', parts: [{ functionResponse: { id: ids[0], name: 'get_user_country', response: { output: 'Mexico' } } }] },
    ]);

    // The spans keep the signature, so a replay rebuilt from them sends the call back as it was.
    const [recorded] = recordedRuns(h.collector.spans().map(spanRecordOf), 'collected');
    expect(recorded!.steps[0]!.modelCalls[0]!.response!.toolCalls).toEqual([{ id: ids[0], name: 'get_user_country', arguments: {}, signature: signed.thoughtSignature }]);
    const assistant = recorded!.steps[1]!.modelCalls[0]!.request.messages.find((m) => m.role === 'assistant');
    expect(assistant).toEqual({ role: 'assistant', content: '', toolCalls: [{ id: ids[0], name: 'get_user_country', arguments: {}, signature: signed.thoughtSignature }] });
    const replay = await replayRun(recorded!, a, { runtime: createRuntime() });
    expect(replay.matched).toBe(true);
    expect(replay.result.output).toBe(result.output);
  });

  it('keeps the signed call in a SQLite conversation: the next turn sends it back unchanged (pydantic-ai test_google_text_output_function)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tracebound-gemini-conv-'));
    const store = sqliteStore({ path: join(dir, 'state.db') });
    try {
      // Turn 1: the signed call and its answer; turn 2: a new question, answered with the same recorded body.
      h.server.enqueue(generatePath('gemini-2.5-pro'), await exchange('tool-signature-1.json'), await exchange('tool-signature-2.json'), await exchange('tool-signature-2.json'));
      const [signed] = partsOf(body('tool-signature-1.json'));
      const country = tool({ name: 'get_user_country', description: 'The country of the user.', parameters: z.object({}), execute: () => 'Mexico' });
      const a = agent({ name: 'locator', instructions: '', model: gemini('gemini-2.5-pro'), tools: [country] });
      const runtime = createRuntime({ store });
      await runtime.run(a, 'What is the largest city in the user country?', { conversationId: 'c-1' });
      await runtime.run(a, 'And its population?', { conversationId: 'c-1' });

      const stored = await runtime.conversations.get('c-1');
      const calls = stored!.messages.flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []) : []));
      expect(calls.map((c) => c.signature)).toEqual([signed.thoughtSignature]);
      const model = sent(2).contents.find((c: { role: string }) => c.role === 'model');
      expect(model.parts).toEqual([{ functionCall: { id: calls[0]!.id, name: 'get_user_country', args: {} }, thoughtSignature: signed.thoughtSignature }]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs three parallel calls at once, each under its own id (pydantic-ai, gemini-3-flash-preview)', async () => {
    h.server.enqueue(generatePath('gemini-3-flash-preview'), await exchange('parallel-tools-1.json'));
    const parts = partsOf(body('parallel-tools-1.json'));
    let running = 0;
    let mostAtOnce = 0;
    const topic = tool({
      name: 'generate_topic',
      description: 'A topic for a joke.',
      parameters: z.object({}),
      execute: async () => {
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return 'cars';
      },
    });
    const a = agent({ name: 'jokes', instructions: 'Tell three jokes. Generate topics with the generate_topic tool.', model: gemini('gemini-3-flash-preview'), tools: [topic], budget: { maxSteps: 1 } });

    const result = await h.runtime.run(a, '');
    expect(result.toolCalls).toBe(parts.length);
    expect(mostAtOnce).toBe(parts.length);
    const tree = spanTree(h.collector.spans(), 'jokes', 'gemini-3-flash-preview');
    const ids = tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId]);
    expect(new Set(ids).size).toBe(parts.length);
    const call = recordedCall('parallel-tools-1.json');
    expectChatSpan(tree.chats[0]!, 'gcp.gemini', 'gemini-3-flash-preview', h.server, call);
    expectRunTotals(tree.run, 'gemini-3-flash-preview', [call], { stopReason: 'max_steps', steps: 1, toolCalls: parts.length });
    expectAllEnded(h);
  });

  it('reports cached tokens as cache reads inside input, priced at the cache rate (pydantic-ai test_google_model_cached_content)', async () => {
    h.server.enqueue(generatePath('gemini-2.5-flash'), await exchange('cached-thinking.json'));
    const call = recordedCall('cached-thinking.json');
    expect(call.usage.cacheReadTokens).toBeGreaterThan(0);
    const result = await h.runtime.run(agent({ name: 'cached', instructions: '', model: gemini('gemini-2.5-flash') }), 'What is the capital of France?');
    expect(result.usage).toEqual(call.usage);
    const tree = spanTree(h.collector.spans(), 'cached', 'gemini-2.5-flash');
    expectChatSpan(tree.chats[0]!, 'gcp.gemini', 'gemini-2.5-flash', h.server, call);
    expectAllEnded(h);
  });

  it('streams three calls of a run: text deltas, tool calls, usage of each stream\'s last event (pydantic-ai test_google_model_iter_stream)', async () => {
    h.server.enqueue(streamPath('gemini-2.0-flash'), await exchange('stream-tools-1.sse'), await exchange('stream-tools-2.sse'), await exchange('stream-tools-3.sse'));
    const capital = tool({ name: 'get_capital', description: 'Get the capital of a country.', parameters: z.object({ country: z.string() }), execute: () => 'Paris' });
    const temperature = tool({ name: 'get_temperature', description: 'Get the temperature in a city.', parameters: z.object({ city: z.string() }), execute: () => '30°C' });
    const a = agent({ name: 'weather', instructions: 'You are a helpful chatbot.', model: gemini('gemini-2.0-flash'), tools: [capital, temperature] });

    const { events, error } = await drain(h.runtime.stream(a, 'What is the temperature of the capital of France?'));
    expect(error).toBeUndefined();
    const answer = partsOf(...sseEvents('stream-tools-3.sse')).map((p) => p.text);
    expect(events.flatMap((e: RunEvent) => (e.type === 'text-delta' ? [e.text] : []))).toEqual(answer);
    const tree = spanTree(h.collector.spans(), 'weather', 'gemini-2.0-flash');
    expect(tree.tools.map((t) => t.map((s) => s.name))).toEqual([['execute_tool get_capital'], ['execute_tool get_temperature'], []]);
    const calls = ['stream-tools-1.sse', 'stream-tools-2.sse', 'stream-tools-3.sse'].map(streamedCall);
    tree.chats.forEach((c, i) => expectChatSpan(c, 'gcp.gemini', 'gemini-2.0-flash', h.server, calls[i]!));
    expectRunTotals(tree.run, 'gemini-2.0-flash', calls, { stopReason: 'final', steps: 3, toolCalls: 2 });
    expectAllEnded(h);
    // Each result answers its call by the id tracebound made for it.
    const second = sent(1).contents;
    expect(second[2].parts[0].functionResponse.id).toBe(second[1].parts[0].functionCall.id);
  });
});

describe('gemini over Vertex AI through the runtime', () => {
  it('reports a Vertex AI client as gcp.vertex_ai on the chat and run spans, priced as genai-prices prices Vertex (pydantic-ai test_google_model_vertex_provider)', async () => {
    // Express mode (an API key, no Google Cloud credentials) lets the SDK's Vertex AI client reach the local server.
    const client = new GoogleGenAI({ vertexai: true, apiKey: 'vertex-test-key', httpOptions: { baseUrl: h.server.url } });
    const path = '/v1beta1/publishers/google/models/gemini-2.0-flash:generateContent';
    h.server.enqueue(path, await exchange('vertex-text.json'));
    const call = recordedCall('vertex-text.json');
    const a = agent({ name: 'capital', instructions: 'You are a helpful chatbot.', model: google('gemini-2.0-flash', { client, baseURL: h.server.url }) });

    const result = await h.runtime.run(a, 'What is the capital of France?');
    expect(h.server.requests[0]?.path).toBe(path);
    expect(result.output).toBe(partsOf(body('vertex-text.json'))[0].text);
    expect(result.usage).toEqual(call.usage);
    const vertexCost = priceCall('gcp.vertex_ai', 'gemini-2.0-flash', call.usage);
    expect(vertexCost).toBeDefined();
    expect(result.costUsd).toBeCloseTo(vertexCost!.usd, 12);
    const tree = spanTree(h.collector.spans(), 'capital', 'gemini-2.0-flash');
    expectChatSpan(tree.chats[0]!, 'gcp.vertex_ai', 'gemini-2.0-flash', h.server, call);
    expect(tree.run.attributes[ATTR.providerName]).toBe('gcp.vertex_ai');
    expectAllEnded(h);
  });

  it('names gcp.vertex_ai in the errors of a Vertex AI client', async () => {
    const client = new GoogleGenAI({ vertexai: true, apiKey: 'vertex-test-key', httpOptions: { baseUrl: h.server.url } });
    h.server.enqueue('/v1beta1/publishers/google/models/gemini-2.0-flash:generateContent', await exchange('error-400-context-length.json'));
    const model = google('gemini-2.0-flash', { client, baseURL: h.server.url });
    const error = await model.generate({ messages: [{ role: 'user', content: 'Hi' }], tools: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelCallError);
    expect(error).toMatchObject({ provider: 'gcp.vertex_ai', kind: 'context_length_exceeded', status: 400 });
    expect((error as Error).message).toMatch(/^gcp\.vertex_ai context_length_exceeded \(HTTP 400\): /);
  });
});

describe('gemini errors through the runtime', () => {
  const simple = () => agent({ name: 'chat', instructions: 'You are a chatbot.', model: gemini('gemini-2.5-flash') });

  it('retries a 429 after its RetryInfo delay (capped by the policy), then streams the answer (Roo-Code #3883)', async () => {
    h.server.enqueue(streamPath('gemini-2.0-flash-exp'), await exchange('error-429-retry-info.json'), await exchange('stream-text.sse'));
    const a = agent({ name: 'chat', instructions: 'You are a helpful chatbot.', model: gemini('gemini-2.0-flash-exp') });
    const retries: Extract<RunEvent, { type: 'retry' }>[] = [];
    const { error } = await drain(h.runtime.stream(a, 'What is the capital of France?'), (e) => {
      if (e.type === 'retry') retries.push(e);
    });
    expect(error).toBeUndefined();
    expect(h.server.requests).toHaveLength(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]!.error.retryAfterMs).toBe(26_000);
    // The harness caps delays at 50 ms and starts backoff at 1 ms: 50 is the server's delay, capped.
    expect(retries[0]!.delayMs).toBe(50);
    const tree = spanTree(h.collector.spans(), 'chat', 'gemini-2.0-flash-exp');
    expectChatSpan(tree.chats[0]!, 'gcp.gemini', 'gemini-2.0-flash-exp', h.server, streamedCall('stream-text.sse'), 1);
    const event = tree.chats[0]!.events.find((e) => e.name === EVENT.retry);
    expect(event?.attributes?.[EVENT_ATTR.errorType]).toBe('rate_limit');
    expect(event?.attributes?.[EVENT_ATTR.delayMs]).toBe(50);
    expectAllEnded(h);
  });

  it.each([
    ['500 INTERNAL (openai-gemini #15)', 'error-500-internal.json'],
    ['503 UNAVAILABLE (lobehub #9728)', 'error-503-unavailable.json'],
  ])('retries a %s with backoff, then succeeds', async (_label, fixture) => {
    h.server.enqueue(generatePath('gemini-2.5-flash'), await exchange(fixture), await exchange('text.json'));
    const result = await h.runtime.run(simple(), 'Hello!');
    expect(result.output).toBe(partsOf(body('text.json'))[0].text);
    expect(h.server.requests).toHaveLength(2);
    const tree = spanTree(h.collector.spans(), 'chat', 'gemini-2.5-flash');
    expectChatSpan(tree.chats[0]!, 'gcp.gemini', 'gemini-2.5-flash', h.server, recordedCall('text.json'), 1);
    const event = tree.chats[0]!.events.find((e) => e.name === EVENT.retry);
    expect(event?.attributes?.[EVENT_ATTR.errorType]).toBe('server_error');
    expect(event?.attributes?.[EVENT_ATTR.delayMs]).toBeLessThanOrEqual(1);
    expectAllEnded(h);
  });

  it('does not retry a 400: one request, RunError, ERROR spans (obsidian-gemini #228)', async () => {
    h.server.enqueue(generatePath('gemini-2.5-flash'), await exchange('error-400-missing-signature.json'), await exchange('text.json'));
    const error = await rejection(h.runtime.run(simple(), 'Hello!'));
    expect(error).toBeInstanceOf(RunError);
    expect(((error as RunError).cause as ModelCallError).kind).toBe('invalid_request');
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'chat', 'gemini-2.5-flash');
    for (const span of [tree.run, tree.chats[0]!]) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes[ATTR.errorType]).toBe('invalid_request');
    }
    expect(tree.chats[0]!.events.filter((e) => e.name === EVENT.retry)).toHaveLength(0);
    expectAllEnded(h);
  });
});
