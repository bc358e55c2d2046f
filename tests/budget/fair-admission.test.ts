import { describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { memoryStore } from '../../src/state/memory.js';
import { spendKey } from '../../src/state/store.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import type { BudgetPolicy } from '../../src/budget/policy.js';

const LIMIT = 0.0001;

/**
 * 50 concurrent runs of one short answer each on a window that fits about a dozen answers: each
 * call reserves a worst case (100 output tokens) about eight times its actual cost.
 */
async function fifty(budget: Partial<BudgetPolicy>) {
  const store = memoryStore();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'ok', usage: { inputTokens: 20, outputTokens: 10 } }) });
  const runtime = tracedRuntime({ exporter: 'none', budgetStore: store });
  const a = agent({ name: 'short', instructions: '', model, maxOutputTokens: 100, budget: { spend: { usd: LIMIT, window: '1h' }, minOutputTokens: 100, ...budget } });
  const results = await Promise.all(Array.from({ length: 50 }, () => runtime.run(a, 'hi')));
  const window = await store.window(spendKey('short'), 3_600_000);
  return { results, window };
}

describe('fair admission to a spend window', () => {
  it('lets a call wait for room that in-flight reservations hold: many runs complete, the window never goes over', async () => {
    // A wait far past the default 3 s, which a loaded machine's stalls could use up before the
    // fourth answer: a run is then refused only because the window is spent, never by the clock.
    const { results, window } = await fifty({ waitForRoomMs: 60_000 });
    const completed = results.filter((r) => r.stopReason === 'final');
    // A call is admitted only while settled spend + its worst case (~$0.000063) fits: after four
    // or five answers (~$0.000009 each) the rest are refused, however long they wait.
    expect(completed.length).toBeGreaterThanOrEqual(4);
    const settled = completed.reduce((sum, r) => sum + r.costUsd!, 0);
    expect(settled).toBeLessThanOrEqual(LIMIT);
    expect(window.spentUsd).toBeLessThanOrEqual(LIMIT);
    expect(window.spentUsd).toBeCloseTo(settled, 12);
    expect(window.reservedUsd).toBe(0);
    // Whoever did not fit in the end was refused, not left waiting.
    expect(results.every((r) => r.stopReason === 'final' || r.stopReason === 'budget_exceeded')).toBe(true);
  });

  it('refuses at once with waitForRoomMs: 0, as before: one run holds the room', async () => {
    const { results } = await fifty({ waitForRoomMs: 0 });
    expect(results.filter((r) => r.stopReason === 'final').length).toBe(1);
  });
});
