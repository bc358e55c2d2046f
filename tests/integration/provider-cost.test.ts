/**
 * A cost the provider reports wins over tracebound's own price: OpenRouter's `usage.cost` in its
 * OpenAI-compatible chat answers, read by the `openai` adapter (the official SDK with a baseURL
 * at the recorded server), lands on the chat span with `gen_ai.usage.cost.source` = `provider`
 * and in the run's total. Recordings: tests/fixtures/openrouter (see SOURCES.md there).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { priceCall } from '../../src/pricing/price.js';
import { openai } from '../../src/providers/openai.js';
import { loadFixture } from '../../src/testing/recorded-server.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { drain, expectAllEnded, harness, recordedUsage, type Harness, type Json } from './support.js';

const DIR = fileURLToPath(new URL('../fixtures/openrouter/', import.meta.url));
const PATH = '/api/v1/chat/completions';

/** The recorded `usage` of the non-streamed answer and of the stream's last usage chunk. */
const generated: Json = (JSON.parse(readFileSync(`${DIR}chat-cost.json`, 'utf8')) as { body: Json }).body;
const streamedUsage: Json = readFileSync(`${DIR}chat-stream-cost.sse`, 'utf8')
  .split('\n')
  .filter((line) => line.startsWith('data: {'))
  .map((line) => JSON.parse(line.slice('data: '.length)) as Json)
  .filter((event) => event.usage)
  .at(-1).usage;

let h: Harness;
beforeEach(async () => {
  h = await harness({ langfuseAttributes: true });
});
afterEach(async () => {
  await h.close();
});

const openrouter = (modelId: string) => openai(modelId, { baseURL: `${h.server.url}/api/v1`, apiKey: 'sk-or-test' });

function chatSpan(modelId: string): ReadableSpan {
  const span = h.collector.spans().find((s) => s.name === `chat ${modelId}`);
  expect(span).toBeDefined();
  return span as ReadableSpan;
}

function expectProviderCost(span: ReadableSpan, usd: number): void {
  expect(span.attributes[ATTR.costAmount]).toBe(usd);
  expect(span.attributes[ATTR.costCurrency]).toBe('USD');
  expect(span.attributes[ATTR.costSource]).toBe('provider');
  // Langfuse gets the one total the provider gave, not a made-up input/output split.
  expect(JSON.parse(String(span.attributes[ATTR.langfuseCostDetails]))).toEqual({ total: usd });
}

describe('OpenRouter usage.cost through the openai adapter', () => {
  it('prices a generated answer at the reported cost (pydantic-ai recording, z-ai/glm-4.6)', async () => {
    h.server.enqueue(PATH, await loadFixture(`${DIR}chat-cost.json`));
    const modelId = generated.model as string;
    // tracebound could not price this model itself: the reported cost is the only one.
    expect(priceCall('openai', modelId, recordedUsage.openaiChat(generated.usage))).toBeUndefined();

    const result = await h.runtime.run(agent({ name: 'routed', instructions: '', model: openrouter(modelId) }), 'Reply with the single word: ok');

    expect(result.costUsd).toBe(generated.usage.cost);
    const span = chatSpan(modelId);
    expectProviderCost(span, generated.usage.cost);
    expect(span.attributes[ATTR.usageInputTokens]).toBe(generated.usage.prompt_tokens);
    expect(span.attributes[ATTR.usageOutputTokens]).toBe(generated.usage.completion_tokens);
    const run = h.collector.spans().find((s) => s.name === 'invoke_agent routed');
    expect(run?.attributes[ATTR.runCostUsd]).toBe(generated.usage.cost);
    expectAllEnded(h);
  });

  it('prices a stream at the cost of its last usage chunk (pydantic-ai recording, anthropic/claude-sonnet-4.5)', async () => {
    h.server.enqueue(PATH, await loadFixture(`${DIR}chat-stream-cost.sse`));
    const modelId = 'anthropic/claude-sonnet-4.5';
    const { events, error } = await drain(h.runtime.stream(agent({ name: 'routed', instructions: '', model: openrouter(modelId) }), 'What is 2+2?'));

    expect(error).toBeUndefined();
    const end = events.find((e) => e.type === 'run-end');
    expect(end?.type === 'run-end' && end.result.costUsd).toBe(streamedUsage.cost);
    const span = chatSpan(modelId);
    expectProviderCost(span, streamedUsage.cost);
    expect(span.attributes[ATTR.usageReasoningTokens]).toBe(streamedUsage.completion_tokens_details.reasoning_tokens);
    expectAllEnded(h);
  });

  it('prices locally, source local, when the answer carries no cost (OpenAI itself)', async () => {
    h.server.enqueue('/v1/chat/completions', await loadFixture(fileURLToPath(new URL('../fixtures/openai/chat-tool-answer.json', import.meta.url))));
    const model = openai('gpt-4o-mini', { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test' });
    await h.runtime.run(agent({ name: 'direct', instructions: '', model }), 'hi');
    expect(chatSpan('gpt-4o-mini').attributes[ATTR.costSource]).toBe('local');
  });
});
