import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { DefinitionError } from '../../src/errors.js';
import { memoryStore } from '../../src/state/memory.js';
import { spendKey } from '../../src/state/store.js';
import { priceCall } from '../../src/pricing/price.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel, type ScriptedModelOptions } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import { renderTraces } from '../../src/tracing/tree.js';
import { spanRecordOf } from '../../src/traces/span-record.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import type { BudgetPolicy } from '../../src/budget/policy.js';

const usage = { inputTokens: 100, outputTokens: 50 };
const callCost = priceCall('openai', 'gpt-4o-mini', { ...usage, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 })!.usd;
const FEE = 0.01;

/** Asks for a paid search on every step until told not to call tools; answers with what the last result said. */
const searching: ScriptedModelOptions['respond'] = (request, call) => {
  const last = request.messages.at(-1);
  if (call > 3 || request.toolChoice === 'none') return { text: `done: ${last?.role === 'tool' ? JSON.stringify(last.content) : ''}`, usage };
  return { toolCalls: [{ id: `call_${call}`, name: 'search', arguments: { q: String(call) } }], usage };
};

function setup(budget: BudgetPolicy, costUsd: number | ((args: { q: string }, result: string) => number) = FEE, store = memoryStore()) {
  const executed: string[] = [];
  const search = tool({
    name: 'search',
    description: 'Paid search.',
    parameters: z.object({ q: z.string() }),
    costUsd,
    execute: ({ q }) => {
      executed.push(q);
      return `result ${q}`;
    },
  });
  const spans = collectSpans();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: searching });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, budgetStore: store });
  const a = agent({ name: 'searcher', instructions: 'Search.', model, tools: [search], maxOutputTokens: 100, budget });
  return { spans, model, runtime, agent: a, executed, store };
}

describe('costed tools', () => {
  it('rejects a price that is not a finite number >= 0 or a function, at definition', () => {
    for (const costUsd of [-1, Number.NaN, Infinity, '0.1']) {
      expect(() =>
        tool({ name: 't', description: 'd', parameters: z.object({}), costUsd: costUsd as number, execute: () => 1 }),
      ).toThrow(DefinitionError);
    }
  });

  it('counts a fixed price in the run cost, on the tool span and in the CLI tree, with no budget at all', async () => {
    const { spans, runtime, agent: a, executed } = setup({});
    const result = await runtime.run(a, 'go');
    expect(executed).toEqual(['1', '2', '3']);
    expect(result.costUsd).toBeCloseTo(4 * callCost + 3 * FEE, 12);
    const toolSpans = spans.spans().filter((s) => s.name === 'execute_tool search');
    expect(toolSpans.map((s) => s.attributes[ATTR.toolCostUsd])).toEqual([FEE, FEE, FEE]);
    const run = spans.spans().find((s) => s.name === 'invoke_agent searcher')!;
    expect(run.attributes[ATTR.runCostUsd]).toBeCloseTo(4 * callCost + 3 * FEE, 12);
    const lines = renderTraces(spans.spans().map((s) => spanRecordOf(s)), { color: false });
    const toolLine = lines.find((l) => l.includes('execute_tool search') && l.includes('call_1'));
    expect(toolLine).toContain('$0.010000');
  });

  it('reserves a fixed price in the run scope: a call that does not fit is not run, the model gets a budget error and the run goes on', async () => {
    // Room for the model calls and one search, not two.
    const limit = 4 * callCost + 1.5 * FEE + 0.002;
    const { spans, runtime, agent: a, executed, model } = setup({ runCostUsd: limit, maxSteps: 10 });
    const result = await runtime.run(a, 'go');
    expect(executed).toEqual(['1']);
    expect(result.costUsd).toBeLessThanOrEqual(limit);
    // The refused call answered the model with an error result, and the model was asked again.
    const second = model.requests[2]!.messages.at(-1)!;
    expect(second.role).toBe('tool');
    expect(JSON.stringify(second)).toMatch(/budget has no room for tool \\"search\\"/);
    const refused = spans.spans().find((s) => s.name === 'execute_tool search' && s.attributes[ATTR.toolCallId] === 'call_2')!;
    expect(refused.attributes[ATTR.errorType]).toBe('budget_exceeded');
    const checks = spans.spans().flatMap((s) => s.events.filter((e) => e.name === EVENT.budgetCheck && e.attributes![EVENT_ATTR.toolCallId] !== undefined));
    expect(checks.map((c) => [c.attributes![EVENT_ATTR.toolCallId], c.attributes![EVENT_ATTR.decision]])).toEqual([
      ['call_1', 'allow'],
      ['call_2', 'refuse'],
      ['call_3', 'refuse'],
    ]);
    const settles = spans.spans().flatMap((s) => s.events.filter((e) => e.name === EVENT.budgetSettle && e.attributes![EVENT_ATTR.toolCallId] === 'call_1'));
    expect(settles.map((e) => [e.attributes![EVENT_ATTR.scope], e.attributes![EVENT_ATTR.actual]])).toEqual([['run', FEE]]);
  });

  it('reserves a fixed price in the spend window shared by runs, and records it there', async () => {
    const { runtime, agent: a, executed, store } = setup({ spend: { usd: 1, window: '1h' } });
    const result = await runtime.run(a, 'go');
    expect(executed).toHaveLength(3);
    const window = await store.window(spendKey('searcher'), 3_600_000);
    expect(window.reservedUsd).toBe(0);
    expect(window.spentUsd).toBeCloseTo(result.costUsd!, 9);
    expect(window.spentUsd).toBeCloseTo(4 * callCost + 3 * FEE, 9);
  });

  it('settles a computed price after the call, in the run and the window', async () => {
    const { runtime, agent: a, spans, store } = setup({ runCostUsd: 1, spend: { usd: 1, window: '1h' } }, (args) => Number(args.q) / 100);
    const result = await runtime.run(a, 'go');
    expect(result.costUsd).toBeCloseTo(4 * callCost + 0.06, 12);
    expect(spans.spans().filter((s) => s.name === 'execute_tool search').map((s) => s.attributes[ATTR.toolCostUsd])).toEqual([0.01, 0.02, 0.03]);
    const window = await store.window(spendKey('searcher'), 3_600_000);
    expect(window.spentUsd).toBeCloseTo(4 * callCost + 0.06, 9);
  });
});
