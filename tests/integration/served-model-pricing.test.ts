/**
 * Each call is priced on the model that served it (`gen_ai.response.model`), not the requested
 * one (issue 10, defect 6): the official SDKs against the recorded server, each recording asked
 * for with another, differently priced model id. Expected prices come from genai-prices itself.
 */
import { calcPrice } from '@pydantic/genai-prices';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import type { Usage } from '../../src/messages.js';
import { anthropic } from '../../src/providers/anthropic.js';
import type { Model } from '../../src/providers/model.js';
import { openai } from '../../src/providers/openai.js';
import { ATTR } from '../../src/tracing/attributes.js';
import {
  anthropicStream,
  body,
  chatStreamUsage,
  drain,
  exchange,
  expectAllEnded,
  harness,
  recordedUsage,
  responsesCompleted,
  sseData,
  type Harness,
  type Provider,
} from './support.js';

let h: Harness;
beforeEach(async () => {
  // Langfuse's cost details too: it shows the served model's price.
  h = await harness({ langfuseAttributes: true });
});
afterEach(async () => {
  await h.close();
});

/** genai-prices' own price of a call, in USD. */
function genaiPrice(provider: Provider, modelId: string, usage: Usage): number {
  const price = calcPrice(
    { input_tokens: usage.inputTokens, output_tokens: usage.outputTokens, cache_read_tokens: usage.cacheReadTokens, cache_write_tokens: usage.cacheWriteTokens },
    modelId,
    { providerId: provider },
  );
  expect(price, `${provider}:${modelId} has a price`).toBeDefined();
  return price!.total_price;
}

interface Case {
  title: string;
  provider: Provider;
  path: string;
  fixture: string;
  /** The model id the agent asks for: priced differently from the recording's. */
  requested: string;
  streamed: boolean;
  model: (h: Harness, modelId: string) => Model;
  /** The served model and the usage, as the recording says. */
  recorded: () => { model: string; usage: Usage };
}

const claude = (h: Harness, modelId: string) => anthropic(modelId, { baseURL: h.server.url, apiKey: 'sk-ant-test' });
const chat = (h: Harness, modelId: string) => openai(modelId, { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test' });
const responses = (h: Harness, modelId: string) => openai(modelId, { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test', api: 'responses' });

const cases: Case[] = [
  {
    title: 'anthropic, streamed (llm-anthropic stream-text.sse)',
    provider: 'anthropic',
    path: '/v1/messages',
    fixture: 'stream-text.sse',
    requested: 'claude-haiku-4-5',
    streamed: true,
    model: claude,
    recorded: () => {
      const { message, usage } = anthropicStream('stream-text.sse');
      return { model: message.model, usage: recordedUsage.anthropic(usage) };
    },
  },
  {
    title: 'anthropic, unstreamed (pydantic-ai text.json)',
    provider: 'anthropic',
    path: '/v1/messages',
    fixture: 'text.json',
    requested: 'claude-haiku-4-5',
    streamed: false,
    model: claude,
    recorded: () => {
      const b = body('anthropic', 'text.json');
      return { model: b.model, usage: recordedUsage.anthropic(b.usage) };
    },
  },
  {
    title: 'openai chat, unstreamed (chat-cached.json)',
    provider: 'openai',
    path: '/v1/chat/completions',
    fixture: 'chat-cached.json',
    requested: 'gpt-4o-mini',
    streamed: false,
    model: chat,
    recorded: () => {
      const b = body('openai', 'chat-cached.json');
      return { model: b.model, usage: recordedUsage.openaiChat(b.usage) };
    },
  },
  {
    title: 'openai chat, streamed (chat-stream-cached.sse)',
    provider: 'openai',
    path: '/v1/chat/completions',
    fixture: 'chat-stream-cached.sse',
    requested: 'gpt-4o-mini',
    streamed: true,
    model: chat,
    recorded: () => ({
      model: sseData('openai', 'chat-stream-cached.sse')[0].model,
      usage: recordedUsage.openaiChat(chatStreamUsage('chat-stream-cached.sse')),
    }),
  },
  {
    title: 'openai responses, unstreamed (responses-text.json)',
    provider: 'openai',
    path: '/v1/responses',
    fixture: 'responses-text.json',
    requested: 'gpt-4o-mini',
    streamed: false,
    model: responses,
    recorded: () => {
      const b = body('openai', 'responses-text.json');
      return { model: b.model, usage: recordedUsage.openaiResponses(b.usage) };
    },
  },
  {
    title: 'openai responses, streamed (responses-stream-answer.sse)',
    provider: 'openai',
    path: '/v1/responses',
    fixture: 'responses-stream-answer.sse',
    requested: 'gpt-4o-mini',
    streamed: true,
    model: responses,
    recorded: () => {
      const r = responsesCompleted('responses-stream-answer.sse');
      return { model: r.model, usage: recordedUsage.openaiResponses(r.usage) };
    },
  },
];

describe('a call is priced on the model that served it', () => {
  it.each(cases)('$title', async (c) => {
    h.server.enqueue(c.path, await exchange(c.provider, c.fixture));
    const served = c.recorded();
    const expected = genaiPrice(c.provider, served.model, served.usage);
    // The case only proves something when the two models are priced differently.
    expect(genaiPrice(c.provider, c.requested, served.usage)).not.toBeCloseTo(expected, 12);
    // A run limit far above the call's cost: the guard reserves, then settles to the actual cost.
    const a = agent({ name: 'priced', instructions: '', model: c.model(h, c.requested), maxOutputTokens: 1_000, budget: { runCostUsd: 10 } });

    let costUsd: number | undefined;
    if (c.streamed) {
      const { events, error } = await drain(h.runtime.stream(a, 'hi'));
      expect(error).toBeUndefined();
      const end = events.find((e) => e.type === 'run-end');
      costUsd = end?.type === 'run-end' ? end.result.costUsd : undefined;
    } else {
      costUsd = (await h.runtime.run(a, 'hi')).costUsd;
    }

    expect(costUsd).toBeCloseTo(expected, 12);
    const spans = h.collector.spans();
    const chatSpan = spans.find((s) => s.name === `chat ${c.requested}`) as ReadableSpan;
    expect(chatSpan.attributes[ATTR.requestModel]).toBe(c.requested);
    expect(chatSpan.attributes[ATTR.responseModel]).toBe(served.model);
    expect(chatSpan.attributes[ATTR.costAmount]).toBeCloseTo(expected, 12);
    const details = JSON.parse(String(chatSpan.attributes[ATTR.langfuseCostDetails])) as { total: number };
    expect(details.total).toBeCloseTo(expected, 12);
    const run = spans.find((s) => s.name === 'invoke_agent priced');
    expect(run?.attributes[ATTR.runCostUsd]).toBeCloseTo(expected, 12);
    // The budget's run scope spent the same: its ledger is the run's cost.
    expect(run?.attributes[ATTR.budgetRunCostSpent]).toBeCloseTo(expected, 12);
    expectAllEnded(h);
  });
});
