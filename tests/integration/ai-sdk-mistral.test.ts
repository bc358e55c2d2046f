/**
 * A real AI SDK provider package through `aiSdk()`: `@ai-sdk/mistral` (LanguageModelV3) against
 * the recorded server speaking Mistral's chat completions wire format, with the bodies of the
 * package's own test fixtures (tests/fixtures/mistral, see SOURCES.md there), run by the traced
 * runtime: spans, usage, cost, tool calls, streaming.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMistral } from '@ai-sdk/mistral';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { priceCall } from '../../src/pricing/price.js';
import { aiSdk } from '../../src/providers/ai-sdk.js';
import { tool } from '../../src/tool.js';
import { loadFixture } from '../../src/testing/recorded-server.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { drain, expectAllEnded, harness, spanTree, streamedText, type Harness, type Json } from './support.js';

const DIR = fileURLToPath(new URL('../fixtures/mistral/', import.meta.url));
const PATH = '/v1/chat/completions';
const body = (name: string): Json => (JSON.parse(readFileSync(`${DIR}${name}`, 'utf8')) as { body: Json }).body;
const sseData = (name: string): Json[] =>
  readFileSync(`${DIR}${name}`, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('data: {'))
    .map((line) => JSON.parse(line.slice('data: '.length)) as Json);

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

function model(modelId = 'mistral-small-latest') {
  return aiSdk(createMistral({ baseURL: `${h.server.url}/v1`, apiKey: 'test-mistral-key' }).chat(modelId));
}

/** Mistral's usage as tracebound counts it: no cache or reasoning counts in these recordings. */
function usageOf(u: Json) {
  return { inputTokens: u.prompt_tokens, outputTokens: u.completion_tokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
}

function expectPricedChat(span: ReturnType<typeof spanTree>['chats'][number], recorded: Json, usage: Json): void {
  const a = span.attributes;
  expect(a[ATTR.providerName]).toBe('mistral_ai');
  expect(a[ATTR.requestModel]).toBe('mistral-small-latest');
  expect(a[ATTR.responseId]).toBe(recorded.id);
  expect(a[ATTR.responseModel]).toBe(recorded.model);
  expect(a[ATTR.usageInputTokens]).toBe(usage.prompt_tokens);
  expect(a[ATTR.usageOutputTokens]).toBe(usage.completion_tokens);
  const price = priceCall('mistral_ai', recorded.model, usageOf(usage));
  expect(price).toBeDefined();
  expect(a[ATTR.costAmount]).toBeCloseTo(price!.usd, 12);
  expect(a[ATTR.costSource]).toBe('local');
}

const weather = tool({
  name: 'weather',
  description: 'The weather in a location',
  parameters: z.object({ location: z.string() }),
  execute: ({ location }) => ({ location, temperature: 72 }),
});

describe('aiSdk(@ai-sdk/mistral) against recorded Mistral traffic', () => {
  it('runs a tool call then an answer: two priced chat spans, the tool result sent back on the wire', async () => {
    h.server.enqueue(PATH, await loadFixture(`${DIR}tool-call.json`), await loadFixture(`${DIR}text.json`));
    const call = body('tool-call.json');
    const answer = body('text.json');

    const result = await h.runtime.run(agent({ name: 'mistral', instructions: 'Be brief.', model: model(), tools: [weather] }), 'Weather in San Francisco?');

    expect(result.stopReason).toBe('final');
    expect(result.output).toBe(answer.choices[0].message.content);
    const tree = spanTree(h.collector.spans(), 'mistral', 'mistral-small-latest');
    expect(tree.chats).toHaveLength(2);
    expectPricedChat(tree.chats[0]!, call, call.usage);
    expect(tree.chats[0]!.attributes[ATTR.responseFinishReasons]).toEqual(['tool_calls']);
    expectPricedChat(tree.chats[1]!, answer, answer.usage);
    expect(tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId])).toEqual([call.choices[0].message.tool_calls[0].id]);
    // Mistral's wire shape: the system prompt, the tool, and the tool's result under the call's id.
    const first = h.server.requests[0]!.body as Json;
    expect(first.model).toBe('mistral-small-latest');
    expect(first.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(first.tools[0].function.name).toBe('weather');
    const second = h.server.requests[1]!.body as Json;
    const toolMessage = second.messages.find((m: Json) => m.role === 'tool');
    expect(toolMessage.tool_call_id).toBe(call.choices[0].message.tool_calls[0].id);
    expect(JSON.parse(toolMessage.content)).toEqual({ location: 'San Francisco', temperature: 72 });
    expect(result.costUsd).toBeCloseTo(
      priceCall('mistral_ai', call.model, usageOf(call.usage))!.usd + priceCall('mistral_ai', answer.model, usageOf(answer.usage))!.usd,
      12,
    );
    expectAllEnded(h);
  });

  it('streams text deltas and prices the stream on its final usage chunk', async () => {
    h.server.enqueue(PATH, await loadFixture(`${DIR}stream-text.sse`));
    const chunks = sseData('stream-text.sse');
    const usage = chunks.at(-1).usage;

    const { events, error } = await drain(h.runtime.stream(agent({ name: 'mistral', instructions: '', model: model() }), 'hi'));

    expect(error).toBeUndefined();
    expect(streamedText(events)).toBe(chunks.map((c) => c.choices[0].delta.content ?? '').join(''));
    expect((h.server.requests[0]!.body as Json).stream).toBe(true);
    const tree = spanTree(h.collector.spans(), 'mistral', 'mistral-small-latest');
    expectPricedChat(tree.chats[0]!, chunks[0], usage);
    expect(tree.chats[0]!.attributes[ATTR.responseFinishReasons]).toEqual(['stop']);
    expectAllEnded(h);
  });

  it('streams a tool call, runs it, and answers', async () => {
    h.server.enqueue(PATH, await loadFixture(`${DIR}stream-tool-call.sse`), await loadFixture(`${DIR}stream-text.sse`));
    const call = sseData('stream-tool-call.sse').at(-1);

    const { events, error } = await drain(h.runtime.stream(agent({ name: 'mistral', instructions: '', model: model(), tools: [weather] }), 'Weather?'));

    expect(error).toBeUndefined();
    const recorded = call.choices[0].delta.tool_calls[0];
    const toolEnd = events.find((e) => e.type === 'tool-call-end');
    expect(toolEnd?.type === 'tool-call-end' && toolEnd.toolCall).toEqual({ id: recorded.id, name: 'weather', arguments: JSON.parse(recorded.function.arguments) });
    const tree = spanTree(h.collector.spans(), 'mistral', 'mistral-small-latest');
    expect(tree.chats[0]!.attributes[ATTR.usageInputTokens]).toBe(call.usage.prompt_tokens);
    expect(tree.chats[0]!.attributes[ATTR.responseFinishReasons]).toEqual(['tool_calls']);
    expectAllEnded(h);
  });

  it('keeps Mistral reasoning (magistral thinking blocks) on the answer', async () => {
    h.server.enqueue(PATH, await loadFixture(`${DIR}reasoning.json`));
    const recorded = body('reasoning.json');
    const [thinking, text] = recorded.choices[0].message.content;
    const m = model(recorded.model);

    const response = await m.generate({ messages: [{ role: 'user', content: 'What is 2+2?' }], tools: [] });

    expect(response.text).toBe(text.text);
    expect(response.reasoning).toEqual([{ text: thinking.thinking[0].text }]);
    expect(response.usage.outputTokens).toBe(recorded.usage.completion_tokens);
  });
});
