/**
 * `fallback([modelA, modelB])` through the runtime, with the official SDKs against the recorded
 * server replaying recorded error bodies (tests/fixtures/{anthropic,openai}, see SOURCES.md
 * there): a model down after its retries hands the call to the next, each model tried is its own
 * `chat` span (the failed one in error, without cost; the next priced on its own model), and the
 * budget reserves at the prices of the model actually called.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { RunError } from '../../src/errors.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { ModelCallError } from '../../src/providers/errors.js';
import { fallback } from '../../src/providers/fallback.js';
import { openai } from '../../src/providers/openai.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import { body, drain, exchange, expectAllEnded, harness, priced, recordedUsage, streamedText, type Harness } from './support.js';
import { rejection } from '../support/rejection.js';

const MESSAGES = '/v1/messages';
const CHAT = '/v1/chat/completions';

let h: Harness;
beforeEach(async () => {
  h = await harness({ langfuseAttributes: true });
});
afterEach(async () => {
  await h.close();
});

const claude = (modelId = 'claude-sonnet-4-0') => anthropic(modelId, { baseURL: h.server.url, apiKey: 'sk-ant-test' });
const gpt = (modelId = 'gpt-4o-mini') => openai(modelId, { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test' });

/** The `chat` spans under the run's one step, in start order. */
function chatSpans(): ReadableSpan[] {
  const step = h.collector.spans().find((s) => s.name === 'step 1') as ReadableSpan;
  return h.collector
    .spans()
    .filter((s) => s.name.startsWith('chat ') && s.parentSpanContext?.spanId === step.spanContext().spanId)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
}

function expectFailedChat(span: ReadableSpan, modelId: string, errorType: string, retries: number): void {
  expect(span.name).toBe(`chat ${modelId}`);
  expect(span.status.code).toBe(SpanStatusCode.ERROR);
  expect(span.attributes[ATTR.errorType]).toBe(errorType);
  expect(span.attributes[ATTR.retryAttempts]).toBe(retries);
  expect(span.events.filter((e) => e.name === EVENT.retry).map((e) => e.attributes?.['error.type'])).toEqual(Array(retries).fill(errorType));
  // No answer, no cost.
  expect(span.attributes[ATTR.costAmount]).toBeUndefined();
  expect(span.attributes[ATTR.usageInputTokens]).toBeUndefined();
}

describe('fallback() through the runtime', () => {
  it('after a 529 streak outlasting its retries, Anthropic hands the call to OpenAI: two chat spans, the second priced on its model', async () => {
    const overloaded = await exchange('anthropic', 'error-529-overloaded.json');
    // The first try and its two retries (the runtime's default), all overloaded.
    h.server.enqueue(MESSAGES, overloaded, overloaded, overloaded);
    h.server.enqueue(CHAT, await exchange('openai', 'chat-tool-answer.json'));
    const answer = body('openai', 'chat-tool-answer.json');
    const usage = recordedUsage.openaiChat(answer.usage);

    const result = await h.runtime.run(agent({ name: 'resilient', instructions: 'Answer.', model: fallback([claude(), gpt()]) }), 'Capital of England?');

    expect(result.output).toBe(answer.choices[0].message.content);
    expect(h.server.requests.map((r) => r.path)).toEqual([MESSAGES, MESSAGES, MESSAGES, CHAT]);
    const [failed, served, ...more] = chatSpans();
    expect(more).toEqual([]);
    expectFailedChat(failed!, 'claude-sonnet-4-0', 'overloaded', 2);
    expect(failed!.attributes[ATTR.providerName]).toBe('anthropic');
    expect(served!.name).toBe('chat gpt-4o-mini');
    expect(served!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(served!.attributes[ATTR.providerName]).toBe('openai');
    expect(served!.attributes[ATTR.responseModel]).toBe(answer.model);
    const usd = priced('openai', answer.model, usage);
    expect(served!.attributes[ATTR.costAmount]).toBeCloseTo(usd, 12);
    expect(served!.attributes[ATTR.costSource]).toBe('local');
    // The run's cost is the one answer's; its span names the first model, the one asked for.
    expect(result.costUsd).toBeCloseTo(usd, 12);
    const run = h.collector.spans().find((s) => s.name === 'invoke_agent resilient') as ReadableSpan;
    expect(run.attributes[ATTR.runCostUsd]).toBeCloseTo(usd, 12);
    expect(run.attributes[ATTR.requestModel]).toBe('claude-sonnet-4-0');
    expectAllEnded(h);
  });

  it('after a 500 streak from OpenAI, a streamed run goes on with Anthropic', async () => {
    const down = await exchange('openai', 'chat-error-500.json');
    h.server.enqueue(CHAT, down, down, down);
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'stream-text.sse'));

    const { events, error } = await drain(h.runtime.stream(agent({ name: 'resilient', instructions: '', model: fallback([gpt(), claude('claude-haiku-4-5')]) }), 'hi'));

    expect(error).toBeUndefined();
    expect(streamedText(events).length).toBeGreaterThan(0);
    expect(events.filter((e) => e.type === 'retry')).toHaveLength(2);
    const [failed, served] = chatSpans();
    expectFailedChat(failed!, 'gpt-4o-mini', 'server_error', 2);
    expect(served!.name).toBe('chat claude-haiku-4-5');
    expect(served!.attributes[ATTR.costSource]).toBe('local');
    expect(served!.attributes[ATTR.costAmount]).toBeGreaterThan(0);
    expectAllEnded(h);
  });

  it('reserves the budget at the prices of the model actually called', async () => {
    // $0.05 for the run, 1000 output tokens asked: at claude-opus-4-0's $75/M output the worst
    // case does not fit and the call is lowered; at gpt-4o-mini's $0.60/M it fits whole.
    const overloaded = await exchange('anthropic', 'error-529-overloaded.json');
    h.server.enqueue(MESSAGES, overloaded, overloaded, overloaded);
    h.server.enqueue(CHAT, await exchange('openai', 'chat-tool-answer.json'));
    const answer = body('openai', 'chat-tool-answer.json');
    const a = agent({
      name: 'budgeted',
      instructions: 'Answer.',
      model: fallback([claude('claude-opus-4-0'), gpt()]),
      maxOutputTokens: 1000,
      // 'finish' makes a lowered call the last, tool-less one: the Anthropic call's lowering must
      // not make the OpenAI call, which fit whole, the run's last.
      budget: { runCostUsd: 0.05, onLimit: 'finish' },
    });

    const result = await h.runtime.run(a, 'Capital of England?');

    expect(result.stopReason).toBe('final');
    const sentToClaude = h.server.requests[0]!.body as { max_tokens: number };
    const sentToGpt = h.server.requests[3]!.body as { max_completion_tokens: number };
    expect(sentToClaude.max_tokens).toBeLessThan(1000);
    expect(sentToGpt.max_completion_tokens).toBe(1000);
    // The one lowering decision (on the step span) is the Anthropic call's, granting what it sent.
    const step = h.collector.spans().find((s) => s.name === 'step 1') as ReadableSpan;
    const checks = step.events.filter((e) => e.name === EVENT.budgetCheck);
    expect(checks.map((c) => [c.attributes?.[EVENT_ATTR.decision], c.attributes?.[EVENT_ATTR.maxOutputTokens]])).toEqual([['lower', sentToClaude.max_tokens]]);
    // The failed call's hold was released: the run spent only the answer.
    const usd = priced('openai', answer.model, recordedUsage.openaiChat(answer.usage));
    const run = h.collector.spans().find((s) => s.name === 'invoke_agent budgeted') as ReadableSpan;
    expect(run.attributes[ATTR.budgetRunCostSpent]).toBeCloseTo(usd, 12);
    expectAllEnded(h);
  });

  it('does not fall back on a 400: the request is the caller to fix, and the next model gets none', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'error-400-invalid-request.json'));

    const error = await rejection(h.runtime.run(agent({ name: 'resilient', instructions: '', model: fallback([claude(), gpt()]) }), 'hi'));

    expect(error).toBeInstanceOf(RunError);
    expect(((error as RunError).cause as ModelCallError).kind).toBe('invalid_request');
    expect(h.server.requests.map((r) => r.path)).toEqual([MESSAGES]);
    const [failed, ...more] = chatSpans();
    expect(more).toEqual([]);
    expectFailedChat(failed!, 'claude-sonnet-4-0', 'invalid_request', 0);
  });

  it('falls back only on the kinds it is given', async () => {
    const overloaded = await exchange('anthropic', 'error-529-overloaded.json');
    h.server.enqueue(MESSAGES, overloaded, overloaded, overloaded);

    const model = fallback([claude(), gpt()], { on: ['rate_limit'] });
    const error = await rejection(h.runtime.run(agent({ name: 'resilient', instructions: '', model }), 'hi'));

    expect(((error as RunError).cause as ModelCallError).kind).toBe('overloaded');
    expect(h.server.requests.every((r) => r.path === MESSAGES)).toBe(true);
  });

  it('throws the last model’s failure when every model is down', async () => {
    const overloaded = await exchange('anthropic', 'error-529-overloaded.json');
    const down = await exchange('openai', 'chat-error-500.json');
    h.server.enqueue(MESSAGES, overloaded, overloaded, overloaded);
    h.server.enqueue(CHAT, down, down, down);

    const error = await rejection(h.runtime.run(agent({ name: 'resilient', instructions: '', model: fallback([claude(), gpt()]) }), 'hi'));

    expect(((error as RunError).cause as ModelCallError).kind).toBe('server_error');
    const spans = chatSpans();
    expectFailedChat(spans[0]!, 'claude-sonnet-4-0', 'overloaded', 2);
    expectFailedChat(spans[1]!, 'gpt-4o-mini', 'server_error', 2);
    expectAllEnded(h);
  });
});

describe('fallback() as a plain model', () => {
  it('tries the next model on an outage, without the runtime', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'error-529-overloaded.json'));
    h.server.enqueue(CHAT, await exchange('openai', 'chat-tool-answer.json'));
    const m = fallback([claude(), gpt()]);
    expect([m.provider, m.modelId]).toEqual(['anthropic', 'claude-sonnet-4-0']);

    const response = await m.generate({ messages: [{ role: 'user', content: 'hi' }], tools: [] });

    expect(response.text).toBe(body('openai', 'chat-tool-answer.json').choices[0].message.content);
  });

  it('needs a model', () => {
    expect(() => fallback([])).toThrow(/at least one model/);
  });
});
