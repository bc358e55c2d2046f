import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { BudgetConfigError } from '../../src/budget/guard.js';
import { memoryStore } from '../../src/state/memory.js';
import { RunError } from '../../src/errors.js';
import { priceCall } from '../../src/pricing/price.js';
import type { CountedRequest } from '../../src/providers/model.js';
import { openaiTokenCounting } from '../../src/providers/openai-tokens.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel, type ScriptedModelOptions } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import type { BudgetPolicy } from '../../src/budget/policy.js';

const lookup = tool({ name: 'lookup', description: 'Looks up.', parameters: z.object({ q: z.string() }), execute: ({ q }) => `found ${q}` });
const usage = { inputTokens: 1_000, outputTokens: 500 };
const callCost = priceCall('openai', 'gpt-4o-mini', { ...usage, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })!.usd;

/** A model that always asks for one more lookup, unless told not to call tools. */
const looping: ScriptedModelOptions['respond'] = (request, call) =>
  request.toolChoice === 'none'
    ? { text: `final answer after ${call} calls`, usage }
    : { toolCalls: [{ id: `call_${call}`, name: 'lookup', arguments: { q: String(call) } }], usage };

function setup(budget: BudgetPolicy, store = memoryStore(), counting?: ScriptedModelOptions['counting']) {
  const spans = collectSpans();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: looping, counting });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, budgetStore: store });
  const a = agent({ name: 'researcher', instructions: 'Research.', model, tools: [lookup], maxOutputTokens: 1_000, budget });
  return { spans, model, runtime, agent: a };
}

describe('budget: USD per run', () => {
  it('reserves the worst case before each call, lowers max tokens near the limit, then stops before overspending', async () => {
    const limit = callCost * 3;
    const { spans, model, runtime, agent: a } = setup({ runCostUsd: limit, maxSteps: 20 });
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('budget_exceeded');
    expect(result.costUsd).toBeLessThanOrEqual(limit);
    expect(result.costUsd).toBeCloseTo(callCost * 3, 12);
    // Three calls fit; the third only with lowered max output tokens; the fourth was never sent.
    expect(model.requests).toHaveLength(3);
    expect(model.requests[0]!.maxOutputTokens).toBe(1_000);
    expect(model.requests[2]!.maxOutputTokens).toBeLessThan(1_000);
    expect(model.requests[2]!.maxOutputTokens).toBeGreaterThanOrEqual(256);

    const checks = spans.spans().filter((s) => s.name.startsWith('step ')).sort((x, y) => x.name.localeCompare(y.name))
      .flatMap((s) => s.events.filter((e) => e.name === EVENT.budgetCheck).map((e) => e.attributes));
    // Only decisions other than a plain allow are events; the two allows left none.
    expect(checks.map((c) => c!.decision)).toEqual(['lower', 'refuse']);
    expect(checks.every((c) => c!.scope === 'run' && c!.limit === limit)).toBe(true);
    // The lowered call's settlement; the allowed calls settled without an event.
    const settles = spans.spans().flatMap((s) => s.events.filter((e) => e.name === EVENT.budgetSettle));
    expect(settles).toHaveLength(1);
    for (const s of settles) expect(s.attributes!.actual).toBeCloseTo(callCost, 12);

    const run = spans.spans().find((s) => s.name === 'invoke_agent researcher')!;
    expect(run.attributes[ATTR.stopReason]).toBe('budget_exceeded');
    expect(run.attributes[ATTR.budgetRunCostLimit]).toBe(limit);
    expect(run.attributes[ATTR.budgetRunCostSpent]).toBeCloseTo(callCost * 3, 12);
    expect(run.attributes[ATTR.budgetRunCostRemaining]).toBeCloseTo(limit - callCost * 3, 12);
  });

  it('finishes gracefully near the limit: the lowered call goes without tools and its answer is the output', async () => {
    const { model, runtime, agent: a, spans } = setup({ runCostUsd: callCost * 3, maxSteps: 20, onLimit: 'finish' });
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('graceful_limit');
    expect(result.output).toBe('final answer after 3 calls');
    expect(model.requests[2]!.toolChoice).toBe('none');
    const run = spans.spans().find((s) => s.name === 'invoke_agent researcher')!;
    expect(run.attributes[ATTR.stopReason]).toBe('graceful_limit');
  });

  it('fails with a typed error, never a silent $0, when a USD limit meets a model with no price', async () => {
    const spans = collectSpans();
    const model = scriptedModel({ provider: 'openai', modelId: 'my-private-finetune', respond: looping });
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider });
    const a = agent({ name: 'x', instructions: '', model, tools: [lookup], budget: { runCostUsd: 1 } });
    const error = await runtime.run(a, 'go').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).cause).toBeInstanceOf(BudgetConfigError);
    expect((error as Error).message).toMatch(/no known price.*prices/);
    expect(model.requests).toHaveLength(0);
  });

  it('runs a free model (priced at $0) under a USD budget: nothing to hold, nothing refused', async () => {
    const model = scriptedModel({ provider: 'local', modelId: 'llama-local', respond: [{ toolCalls: [{ id: 'c1', name: 'lookup', arguments: { q: 'a' } }], usage }, { text: 'done', usage }] });
    const runtime = tracedRuntime({ exporter: 'none', prices: { 'llama-local': { inputPerMTok: 0, outputPerMTok: 0 } }, store: memoryStore() });
    const a = agent({ name: 'free', instructions: '', model, tools: [lookup], maxOutputTokens: 1_000, budget: { runCostUsd: 0.01, spend: { usd: 0.01, window: '1h' } } });
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('final');
    expect(result.costUsd).toBe(0);
    expect(model.requests.map((r) => r.maxOutputTokens)).toEqual([1_000, 1_000]);
  });
});

describe('budget: steps and tool calls with onLimit finish', () => {
  it('makes the last allowed step without tools (graceful_limit)', async () => {
    const { model, runtime, agent: a } = setup({ maxSteps: 3, onLimit: 'finish' });
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('graceful_limit');
    expect(result.steps).toBe(3);
    expect(model.requests.map((r) => r.toolChoice)).toEqual([undefined, undefined, 'none']);
    expect(result.output).toBe('final answer after 3 calls');
  });

  it('answers over-limit tool calls with an error result, then asks for the final answer', async () => {
    const { model, runtime, agent: a } = setup({ maxToolCalls: 2, maxSteps: 10, onLimit: 'finish' });
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('graceful_limit');
    expect(result.toolCalls).toBe(2);
    const last = model.requests.at(-1)!;
    expect(last.toolChoice).toBe('none');
    expect(last.messages.at(-1)).toMatchObject({ role: 'tool', toolCallId: 'call_3', isError: true });
  });
});

describe('budget: USD per agent over a window (memory store)', () => {
  it('never lets concurrent runs together pass the window limit', async () => {
    const store = memoryStore();
    const limit = callCost * 10;
    const { runtime, agent: a } = setup({ spend: { usd: limit, window: '1h' }, maxSteps: 3 }, store);
    const results = await Promise.all(Array.from({ length: 20 }, () => runtime.run(a, 'go')));
    const total = results.reduce((sum, r) => sum + (r.costUsd ?? 0), 0);
    expect(total).toBeLessThanOrEqual(limit + 1e-12);
    expect(results.some((r) => r.stopReason === 'budget_exceeded')).toBe(true);
    const window = await store.window('tracebound:spend:researcher', 3_600_000);
    expect(window.spentUsd).toBeCloseTo(total, 9);
    expect(window.reservedUsd).toBe(0);
  });
});

describe('budget: the prompt is counted only where the count can change a decision', () => {
  const exact = openaiTokenCounting('gpt-4o-mini');
  /** gpt-4o-mini's counting, with a spy on the exact count. */
  const spied = (bounded = true) => {
    const countTokens = vi.fn((request: CountedRequest) => exact.countTokens(request));
    return { countTokens, ...(bounded ? { tokenUpperBound: exact.tokenUpperBound } : {}) };
  };
  const usdPerToken = (field: 'inputTokens' | 'outputTokens') =>
    priceCall('openai', 'gpt-4o-mini', { ...usage, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, [field]: 1_000_000 })!.usd / 1e6;
  const chatSpans = (spans: ReturnType<typeof collectSpans>) =>
    spans.spans().filter((s) => s.name === 'chat gpt-4o-mini').sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);

  it('a run far from its USD limit never counts: it reserves the upper bound', async () => {
    const counting = spied();
    const { spans, model, runtime, agent: a } = setup({ runCostUsd: 1_000, maxSteps: 3 }, memoryStore(), counting);
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('max_steps');
    expect(model.requests).toHaveLength(3);
    expect(model.requests.every((r) => r.maxOutputTokens === 1_000)).toBe(true);
    expect(counting.countTokens).not.toHaveBeenCalled();
    // No counted prompt to record: utilization comes from the reported input tokens.
    for (const chat of chatSpans(spans)) {
      expect(chat.attributes[ATTR.contextPromptTokens]).toBeUndefined();
      expect(chat.attributes[ATTR.contextUtilization]).toBe(usage.inputTokens / 128_000);
    }
  });

  it('a call near the limit is counted, corrected by the uncounted call before it, and lowered by the count', async () => {
    const counting = spied();
    const limit = callCost * 3;
    const { spans, model, runtime, agent: a } = setup({ runCostUsd: limit, maxSteps: 20 }, memoryStore(), counting);
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('budget_exceeded');
    expect(result.costUsd).toBeLessThanOrEqual(limit);
    expect(model.requests).toHaveLength(3);
    // Calls 1 and 2 fit whole at their bound. Call 3 does not: the previous call is counted to
    // learn its correction, then call 3 itself; the refused call 4 is counted too.
    const counted = counting.countTokens.mock.calls.map(([request]) => request.messages);
    expect(counted.slice(0, 2)).toEqual([model.requests[1]!.messages, model.requests[2]!.messages]);
    expect(counted).toHaveLength(3);
    const promptTokens = exact.countTokens(model.requests[2]!) + usage.inputTokens - exact.countTokens(model.requests[1]!);
    const room = limit - 2 * callCost;
    const lowered = Math.floor((room - Math.ceil(promptTokens * 1.1) * usdPerToken('inputTokens')) / usdPerToken('outputTokens') + 1e-9);
    expect(model.requests[2]!.maxOutputTokens).toBe(lowered);
    expect(chatSpans(spans).map((c) => c.attributes[ATTR.contextPromptTokens])).toEqual([undefined, undefined, promptTokens]);
  });

  it('a spend window (shared with other runs) is always reserved at the count', async () => {
    const counting = spied();
    const { model, runtime, agent: a } = setup({ spend: { usd: 1_000, window: '1h' }, maxSteps: 3 }, memoryStore(), counting);
    await runtime.run(a, 'go');
    expect(counting.countTokens.mock.calls.map(([request]) => request.messages)).toEqual(model.requests.map((r) => r.messages));
  });

  it('a model that counts but gives no upper bound is counted on every guarded call', async () => {
    const counting = spied(false);
    const { model, runtime, agent: a } = setup({ runCostUsd: 1_000, maxSteps: 3 }, memoryStore(), counting);
    await runtime.run(a, 'go');
    expect(counting.countTokens).toHaveBeenCalledTimes(model.requests.length);
  });
});
