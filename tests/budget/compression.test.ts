import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import type { BudgetPolicy } from '../../src/budget/policy.js';
import { openaiTokenCounting } from '../../src/providers/openai-tokens.js';
import { openai } from '../../src/providers/openai.js';
import { DROPPED_RESULT } from '../../src/budget/compress.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { loadFixture, startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import type { RunEvent } from '../../src/runtime/events.js';
import type { Hooks } from '../../src/runtime/hooks.js';
import type { Message } from '../../src/messages.js';
import { fromChatWire, type ChatWireRequest } from '../support/wire.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'openai');
const CHAT = '/v1/chat/completions';
const LIMIT = 500;

/** Tool output is ours, not provider traffic: a long first result makes the prompt outgrow the limit. */
const filler = (label: string, words: number) => `${label}: ${Array.from({ length: words }, (_, i) => `fact${i}`).join(' ')}`;
const tools = [
  tool({ name: 'get_capital', description: 'Capital of a country.', parameters: z.object({ country: z.string() }), execute: () => filler('capital', 150) }),
  tool({ name: 'get_country', description: 'The country.', parameters: z.object({}), execute: () => filler('country', 60) }),
  tool({ name: 'get_product_name', description: 'The product.', parameters: z.object({}), execute: () => filler('product', 60) }),
];

let server: RecordedServer;
beforeEach(async () => {
  server = await startRecordedServer();
});
afterEach(async () => {
  await server.close();
});

/**
 * A three-step streamed run over recorded responses: a get_capital call, two parallel calls, then
 * the answer. By step 3 the first (long) tool result makes the prompt exceed LIMIT.
 */
async function run(budget: BudgetPolicy, summary = false, hooks: Hooks = {}) {
  const queue = ['chat-stream-tool-call.sse', 'chat-stream-parallel-tool-calls.sse', ...(summary ? ['chat-stream-cached.sse'] : []), 'chat-stream-tool-answer.sse'];
  for (const f of queue) server.enqueue(CHAT, await loadFixture(join(fixtures, f)));
  const spans = collectSpans();
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true, hooks });
  const a = agent({
    name: 'capitals',
    instructions: 'Answer with the tools.',
    model: openai('gpt-4o-mini', { baseURL: `${server.url}/v1`, apiKey: 'sk-test' }),
    tools,
    budget: { maxSteps: 5, contextTokens: LIMIT, ...budget },
  });
  const events: RunEvent[] = [];
  let failure: unknown;
  try {
    for await (const e of runtime.stream(a, 'What is the capital of the UK?')) events.push(e);
  } catch (error) {
    failure = error;
  }
  const end = events.find((e) => e.type === 'run-end');
  return { spans: spans.spans(), result: end?.type === 'run-end' ? end.result : undefined, failure };
}

/** Exact prompt tokens of a request the server received, counted afresh. */
function sentTokens(body: unknown): number {
  return openaiTokenCounting('gpt-4o-mini').countTokens(fromChatWire(body as ChatWireRequest));
}

/** Every tool_call id in the request is answered by a tool message, and every tool message answers one. */
function pairsIntact(body: unknown): boolean {
  const messages = (body as ChatWireRequest).messages;
  const calls = messages.flatMap((m) => (m.tool_calls ?? []).map((c) => c.id));
  const results = messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id);
  return calls.length === results.length && calls.every((id) => results.includes(id));
}

describe('context compression', () => {
  it.each([
    ['drop_tool_results', ['drop_tool_results']],
    ['trim', ['trim']],
  ] as const)('%s: the prompt sent fits the limit, call/result pairs intact, span shows before/after', async (name, strategy) => {
    const { spans, result } = await run({ contextStrategy: [...strategy] });
    expect(result?.stopReason).toBe('final');
    const last = server.requests.at(-1)!.body;
    expect(sentTokens(last)).toBeLessThanOrEqual(LIMIT);
    expect(sentTokens(server.requests[1]!.body)).toBeLessThanOrEqual(LIMIT);
    expect(pairsIntact(last)).toBe(true);
    const compress = spans.filter((s) => s.name === 'compress_context');
    expect(compress).toHaveLength(1);
    const attrs = compress[0]!.attributes;
    expect(attrs[ATTR.contextStrategy]).toBe(name);
    expect(attrs[ATTR.contextLimit]).toBe(LIMIT);
    expect(attrs[ATTR.contextTokensBefore] as number).toBeGreaterThan(LIMIT);
    expect(attrs[ATTR.contextTokensAfter] as number).toBeLessThanOrEqual(LIMIT);
    const step3 = spans.find((s) => s.name === 'step 3')!;
    expect(compress[0]!.parentSpanContext?.spanId).toBe(step3.spanContext().spanId);
    const messages = (last as ChatWireRequest).messages;
    if (name === 'drop_tool_results') {
      expect(messages.find((m) => m.role === 'tool')?.content).toBe(DROPPED_RESULT);
    } else {
      expect(messages.some((m) => (m.tool_calls ?? []).some((c) => c.function.name === 'get_capital'))).toBe(false);
      expect(messages[1]).toMatchObject({ role: 'user', content: 'What is the capital of the UK?' });
    }
    // A prompt is counted only when its upper bound is over the limit (not step 1's, but step 3's,
    // which was compressed); the others' utilization is what the provider reported.
    const chats = spans.filter((s) => s.name === 'chat gpt-4o-mini');
    expect(chats[0]!.attributes[ATTR.contextPromptTokens]).toBeUndefined();
    expect(chats.at(-1)!.attributes[ATTR.contextPromptTokens]).toBeLessThanOrEqual(LIMIT);
    for (const c of chats) {
      const prompt = (c.attributes[ATTR.contextPromptTokens] ?? c.attributes[ATTR.usageInputTokens]) as number;
      expect(c.attributes[ATTR.contextUtilization]).toBeCloseTo(prompt / 128_000, 12);
    }
  });

  it('summarize: a traced chat span under the compression span, its cost in the run total', async () => {
    const { spans, result } = await run({ contextStrategy: ['summarize'] }, true);
    expect(result?.stopReason).toBe('final');
    const summaryRequest = server.requests[2]!.body as ChatWireRequest;
    expect(summaryRequest.messages[0]!.role).toBe('system');
    expect(summaryRequest.messages[1]!.content).toContain('tool get_capital result: capital: fact0');
    const last = server.requests[3]!.body as ChatWireRequest;
    expect(sentTokens(last)).toBeLessThanOrEqual(LIMIT);
    expect(pairsIntact(last)).toBe(true);
    expect(last.messages.some((m) => m.content === 'Summary of the earlier conversation:\nHello!')).toBe(true);
    const compress = spans.find((s) => s.name === 'compress_context')!;
    const chats = spans.filter((s) => s.name === 'chat gpt-4o-mini');
    expect(chats).toHaveLength(4);
    const summaryChat = chats.find((c) => c.parentSpanContext?.spanId === compress.spanContext().spanId)!;
    expect(summaryChat).toBeDefined();
    const summaryCost = summaryChat.attributes[ATTR.costAmount] as number;
    expect(summaryCost).toBeGreaterThan(0);
    const total = chats.reduce((sum, c) => sum + (c.attributes[ATTR.costAmount] as number), 0);
    expect(result!.costUsd).toBeCloseTo(total, 12);
    const runSpan = spans.find((s) => s.name === 'invoke_agent capitals')!;
    expect(runSpan.attributes[ATTR.runCostUsd]).toBeCloseTo(total, 12);
  });

  it('refuse: stops with context_overflow before sending an over-limit prompt', async () => {
    const { spans, result } = await run({ contextStrategy: ['refuse'] });
    expect(result?.stopReason).toBe('context_overflow');
    expect(server.requests).toHaveLength(2);
    const runSpan = spans.find((s) => s.name === 'invoke_agent capitals')!;
    expect(runSpan.attributes[ATTR.stopReason]).toBe('context_overflow');
    expect(runSpan.attributes[ATTR.budgetContextLimit]).toBe(LIMIT);
    expect(spans.find((s) => s.name === 'compress_context')!.attributes[ATTR.contextStrategy]).toBe('refuse');
  });

  it('runs a custom strategy and the compression hooks', async () => {
    const seen: string[] = [];
    /** Keeps the task and the last turn only. */
    const keepLastTurn = {
      name: 'keep_last_turn',
      compress: ({ messages }: { messages: readonly Message[] }) => [messages[0]!, ...messages.slice(-3)],
    };
    const { result, spans } = await run({ contextStrategy: [keepLastTurn] }, false, {
      beforeCompress: ({ strategy, tokens, limit }) => void seen.push(`before ${strategy} ${tokens > limit}`),
      afterCompress: ({ strategy, tokensAfter, limit }) => void seen.push(`after ${strategy} ${tokensAfter <= limit}`),
    });
    expect(result?.stopReason).toBe('final');
    expect(spans.find((s) => s.name === 'compress_context')!.attributes[ATTR.contextStrategy]).toBe('keep_last_turn');
    expect(seen).toEqual(['before keep_last_turn true', 'after keep_last_turn true']);
    const last = server.requests.at(-1)!.body;
    expect(pairsIntact(last)).toBe(true);
    expect(sentTokens(last)).toBeLessThanOrEqual(LIMIT);
  });
});
