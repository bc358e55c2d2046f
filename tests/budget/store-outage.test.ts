/**
 * The spend store going down between reserve and settle (issue 10, defect 9), against a real
 * redis-server stopped from inside the model call, with the real OpenTelemetry SDK: the paid
 * answer is kept, the unrecorded amount is a `tracebound.budget.store_error` event, the settle is
 * retried, and the window's next reservation fails closed until the store records it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import type { BudgetPolicy } from '../../src/budget/policy.js';
import { BudgetStoreError } from '../../src/state/errors.js';
import { spendKey, type Store } from '../../src/state/store.js';
import { redisStore } from '../../src/state/redis.js';
import { RunError } from '../../src/errors.js';
import type { Model } from '../../src/providers/model.js';
import type { RetryPolicy } from '../../src/runtime/retry.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { startRedis, type RedisServer } from '../support/redis.js';

/** Generous: the store's deadline must hold on a loaded machine (production default: 500 ms). */
const STORE_TIMEOUT_MS = 3_000;
/** Each outage costs the store's whole deadline, once or twice per test. */
const TEST_TIMEOUT_MS = 60_000;
const HOUR_MS = 3_600_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisUp(port?: number): Promise<RedisServer> {
  const server = await startRedis(port);
  cleanups.push(() => server.stop());
  return server;
}

/** A priced model whose first call stops the store's server before answering, i.e. after the reservation. */
function stoppingModel(server: RedisServer): Model & { calls: () => number } {
  const scripted = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'paid answer', usage: { inputTokens: 1_000, outputTokens: 200 } }) });
  let calls = 0;
  return {
    ...scripted,
    calls: () => calls,
    async generate(request) {
      if (++calls === 1) await server.stop();
      return scripted.generate(request);
    },
  };
}

function setup(server: RedisServer, budget: BudgetPolicy, retry: Partial<RetryPolicy> = { initialDelayMs: 1, maxDelayMs: 10 }) {
  const spans = collectSpans();
  const store: Store = redisStore({ url: server.url, timeoutMs: STORE_TIMEOUT_MS });
  cleanups.push(() => store.close());
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, budgetStore: store, retry });
  const model = stoppingModel(server);
  const a = agent({ name: `outage-${server.port}`, instructions: '', model, maxOutputTokens: 500, budget });
  return { spans, store, runtime, model, agent: a, key: spendKey(a.name) };
}

function storeErrors(spans: ReadableSpan[]) {
  return spans.flatMap((s) => s.events.filter((e) => e.name === EVENT.budgetStoreError).map((e) => ({ span: s.name, ...e.attributes })));
}

describe('the spend store goes down between reserve and settle', () => {
  it('keeps the paid answer, records the unsettled USD, fails the next reservation closed, and records the spend once the store is back', async () => {
    const server = await redisUp();
    const s = setup(server, { spend: { usd: 1, window: '1h' } });

    const result = await s.runtime.run(s.agent, 'hi');
    expect(result.stopReason).toBe('final');
    expect(result.output).toBe('paid answer');
    expect(result.costUsd).toBeGreaterThan(0);
    expect(storeErrors(s.spans.spans())).toEqual([
      { span: 'step 1', [EVENT_ATTR.errorType]: 'budget_store_unavailable', [EVENT_ATTR.policy]: 'closed', [EVENT_ATTR.unsettledUsd]: result.costUsd },
    ]);
    expect(s.spans.open()).toEqual([]);

    // The store is still down: the next run is refused before its model call, with a typed error.
    const refused = await s.runtime.run(s.agent, 'again').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RunError);
    expect((refused as RunError).cause).toBeInstanceOf(BudgetStoreError);
    expect(((refused as RunError).cause as BudgetStoreError).message).toContain(`$${result.costUsd}`);
    expect(s.model.calls()).toBe(1);

    // Back up (empty: the reservation died with the old server): the next run records the first
    // run's spend before reserving, so the window holds both.
    await redisUp(server.port);
    const after = await s.runtime.run(s.agent, 'once more');
    expect(after.stopReason).toBe('final');
    const window = await s.store.window(s.key, HOUR_MS);
    expect(window.spentUsd).toBeCloseTo(result.costUsd! + after.costUsd!, 12);
    expect(window.reservedUsd).toBe(0);
  }, TEST_TIMEOUT_MS);

  it('retries the settle in the background until the store is back', async () => {
    const server = await redisUp();
    // Attempts spread over ~10-20 s, long enough for a loaded machine to restart redis-server.
    const s = setup(server, { spend: { usd: 1, window: '1h' } }, { maxRetries: 8, initialDelayMs: 500, maxDelayMs: 3_000 });
    const result = await s.runtime.run(s.agent, 'hi');
    expect(result.output).toBe('paid answer');

    await redisUp(server.port);
    let spent = 0;
    for (let i = 0; i < 300 && spent === 0; i++) {
      spent = (await s.store.window(s.key, HOUR_MS).catch(() => ({ spentUsd: 0 }))).spentUsd;
      if (spent === 0) await sleep(100);
    }
    expect(spent).toBeCloseTo(result.costUsd!, 12);
  }, TEST_TIMEOUT_MS);

  it("with onStoreError: 'open', records the event at settle and at reserve, and the runs go on", async () => {
    const server = await redisUp();
    const s = setup(server, { spend: { usd: 1, window: '1h' }, onStoreError: 'open' });

    const first = await s.runtime.run(s.agent, 'hi');
    expect(first.output).toBe('paid answer');
    expect(storeErrors(s.spans.spans())).toEqual([
      { span: 'step 1', [EVENT_ATTR.errorType]: 'budget_store_unavailable', [EVENT_ATTR.policy]: 'open', [EVENT_ATTR.unsettledUsd]: first.costUsd },
    ]);

    s.spans.reset();
    const second = await s.runtime.run(s.agent, 'again');
    expect(second.stopReason).toBe('final');
    expect(s.model.calls()).toBe(2);
    // Unguarded by the window, and the trace says so.
    expect(storeErrors(s.spans.spans())).toEqual([{ span: 'step 1', [EVENT_ATTR.errorType]: 'budget_store_unavailable', [EVENT_ATTR.policy]: 'open' }]);
  }, TEST_TIMEOUT_MS);
});
