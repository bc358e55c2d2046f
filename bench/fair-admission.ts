/**
 * Fair admission to a shared spend window (issue 14): 50 concurrent runs of one short answer on a
 * $0.0001 agent window that fits about a dozen answers, each call reserving a worst case (100
 * output tokens) about eight times what it spends. Compared: refusing at once
 * (`waitForRoomMs: 0`, the behaviour before) and waiting for in-flight reservations to settle
 * (the default, 3 s), and waiting with calls that may be lowered to 20 output tokens
 * (`minOutputTokens: 20`), with an instant model and one that answers in 20 ms. Prints runs completed
 * and refused, the settled spend against the limit, and the wall time.
 *
 * Run with `npm run bench:admission`.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { agent } from '../src/agent.js';
import type { BudgetPolicy } from '../src/budget/policy.js';
import { memoryStore } from '../src/state/memory.js';
import { spendKey } from '../src/state/store.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import type { Model } from '../src/providers/model.js';

const LIMIT = 0.0001;
const RUNS = 50;

async function round(latencyMs: number, budget: Partial<BudgetPolicy>) {
  const store = memoryStore();
  const scripted = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'ok', usage: { inputTokens: 20, outputTokens: 10 } }) });
  const model: Model = {
    ...scripted,
    async generate(request) {
      if (latencyMs > 0) await sleep(latencyMs);
      return scripted.generate(request);
    },
  };
  const runtime = tracedRuntime({ exporter: 'none', budgetStore: store });
  const a = agent({ name: 'short', instructions: '', model, maxOutputTokens: 100, budget: { spend: { usd: LIMIT, window: '1h' }, minOutputTokens: 100, ...budget } });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: RUNS }, () => runtime.run(a, 'hi')));
  const ms = performance.now() - started;
  const window = await store.window(spendKey('short'), 3_600_000);
  return {
    completed: results.filter((r) => r.stopReason === 'final').length,
    refused: results.filter((r) => r.stopReason === 'budget_exceeded').length,
    spentUsd: window.spentUsd,
    ms,
  };
}

console.log(`${RUNS} concurrent runs, window $${LIMIT}`);
console.log('model latency | admission          | completed | refused | settled spend | wall ms');
for (const latencyMs of [0, 20]) {
  const variants = [
    ['refuse at once (0)', { waitForRoomMs: 0 }],
    ['wait (default 3 s)', {}],
    ['wait, lower to 20', { minOutputTokens: 20 }],
  ] as const;
  for (const [label, budget] of variants) {
    const r = await round(latencyMs, budget);
    console.log(
      `${String(latencyMs).padStart(10)} ms | ${label.padEnd(18)} | ${String(r.completed).padStart(9)} | ${String(r.refused).padStart(7)} | $${r.spentUsd.toFixed(8)} | ${r.ms.toFixed(0).padStart(7)}`,
    );
    if (r.spentUsd > LIMIT) throw new Error(`the window went over its limit: $${r.spentUsd}`);
  }
}
