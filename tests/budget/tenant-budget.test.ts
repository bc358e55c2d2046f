import { describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { BudgetConfigError } from '../../src/budget/guard.js';
import { RunError } from '../../src/errors.js';
import { memoryStore } from '../../src/state/memory.js';
import { scopedSpendKey, spendKey } from '../../src/state/store.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import type { BudgetPolicy } from '../../src/budget/policy.js';

const HOUR = 3_600_000;

function setup(spend: BudgetPolicy['spend']) {
  const store = memoryStore();
  const spans = collectSpans();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'ok', usage: { inputTokens: 20, outputTokens: 10 } }) });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, budgetStore: store });
  const a = agent({ name: 'helpdesk', instructions: '', model, maxOutputTokens: 100, budget: { spend, minOutputTokens: 100, waitForRoomMs: 0 } });
  return { store, spans, model, runtime, agent: a };
}

describe('tenant and user spend windows', () => {
  it('keys a per-tenant window by the run\'s tenant: one tenant\'s spend never refuses another\'s runs', async () => {
    // Room for one call's worst case (~$0.000063) per tenant, not two.
    const { runtime, agent: a, store, spans } = setup([{ usd: 0.0001, window: '1h', per: 'tenant' }]);
    const first = await runtime.run(a, 'hi', { tenant: 'acme', user: 'ada' });
    expect(first.stopReason).toBe('final');
    const other = await runtime.run(a, 'hi', { tenant: 'globex' });
    expect(other.stopReason).toBe('final');
    const acme = await store.window(scopedSpendKey('tenant', 'acme'), HOUR);
    expect(acme.spentUsd).toBeCloseTo(first.costUsd!, 12);
    // The agent's own key holds nothing: the window is the tenant's.
    expect((await store.window(spendKey('helpdesk'), HOUR)).spentUsd).toBe(0);
    const run = spans.spans().find((s) => s.name === 'invoke_agent helpdesk' && s.attributes[ATTR.tenant] === 'acme')!;
    expect(run.attributes[ATTR.userId]).toBe('ada');
  });

  it('fails a run with a per-tenant window and no tenant with BudgetConfigError, before any model call', async () => {
    const { runtime, agent: a, model } = setup({ usd: 1, window: '1h', per: 'tenant' });
    const error = await runtime.run(a, 'hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).cause).toBeInstanceOf(BudgetConfigError);
    expect((error as Error).message).toMatch(/per-tenant spend window.*no tenant/);
    expect(model.requests).toHaveLength(0);
  });

  it('needs room in every window: a full user window refuses, and the agent window\'s reservation is released', async () => {
    const { runtime, agent: a, store, spans } = setup([
      { usd: 1, window: '1h' },
      { usd: 0.00005, window: '1h', per: 'user' },
    ]);
    const result = await runtime.run(a, 'hi', { user: 'ada' });
    expect(result.stopReason).toBe('budget_exceeded');
    const agentWindow = await store.window(spendKey('helpdesk'), HOUR);
    expect(agentWindow).toEqual({ spentUsd: 0, reservedUsd: 0 });
    const checks = spans.spans().flatMap((s) => s.events.filter((e) => e.name === EVENT.budgetCheck)).map((e) => [e.attributes![EVENT_ATTR.scope], e.attributes![EVENT_ATTR.decision]]);
    expect(checks).toEqual([
      ['spend', 'allow'],
      ['user', 'refuse'],
    ]);
  });
});
