import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { BudgetStoreError } from '../../src/state/errors.js';
import { redisStore } from '../../src/state/redis.js';
import { scopedSpendKey } from '../../src/state/store.js';
import { RunError } from '../../src/errors.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { freePort, LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import type { FleetRunConfig, FleetRunReport } from './fleet-run-worker.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

function worker(config: FleetRunConfig) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fleet-run-worker.ts', import.meta.url)), JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
  const ready = next();
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, ready, go: () => child.stdin.write('go\n'), report: next, exited };
}

describe('budget: one agent window shared by a fleet (real redis-server)', () => {
  // Four worker processes start tsx and make 100 runs: slow on a loaded 2-core machine.
  it('100 concurrent runs in 4 processes never spend more than the window, as their traces show', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-fleet-'));
    const limitUsd = 0.02;
    const workers = Array.from({ length: 4 }, (_, i) =>
      worker({ redisUrl: redis.url, storeTimeoutMs: LOADED_REPLY_TIMEOUT_MS, traceFile: join(dir, `worker-${i}.jsonl`), runs: 25, limitUsd }),
    );
    await Promise.all(workers.map((w) => w.ready));
    const reports = workers.map((w) => w.report());
    for (const w of workers) w.go();
    const results = (await Promise.all(reports)).map((line) => JSON.parse(line) as FleetRunReport);
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);

    const stopReasons = results.flatMap((r) => r.stopReasons);
    expect(stopReasons).toHaveLength(100);
    expect(stopReasons).toContain('budget_exceeded');

    // What the traces say was spent: every settled call's cost, from all four trace files.
    const spans = (await Promise.all(workers.map((_, i) => readTraceFile(join(dir, `worker-${i}.jsonl`))))).flat();
    const runs = spans.filter((s) => s.name === 'invoke_agent fleet');
    expect(runs).toHaveLength(100);
    // Every model call's cost, as its chat span says (settlements of plain allows leave no event).
    const settled = spans.filter((s) => s.name === 'chat gpt-4o-mini').reduce((sum, s) => sum + (s.attributes[ATTR.costAmount] as number), 0);
    expect(settled).toBeLessThanOrEqual(limitUsd);
    expect(settled).toBeCloseTo(results.reduce((sum, r) => sum + r.costUsd, 0), 12);
    // The window was used up, not merely respected: less than one full call's cost is left.
    expect(limitUsd - settled).toBeLessThan(1_000 * 0.15e-6 + 500 * 0.6e-6);

    const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    try {
      const window = await store.window('tracebound:spend:fleet', 3_600_000);
      expect(window.spentUsd).toBeCloseTo(settled, 9);
      expect(window.reservedUsd).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('a per-tenant window is shared by the tenant\'s runs in two processes, under its own key', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-tenant-'));
    const limitUsd = 0.005;
    const workers = Array.from({ length: 2 }, (_, i) =>
      worker({ redisUrl: redis.url, storeTimeoutMs: LOADED_REPLY_TIMEOUT_MS, traceFile: join(dir, `worker-${i}.jsonl`), runs: 10, limitUsd, tenant: 'acme' }),
    );
    await Promise.all(workers.map((w) => w.ready));
    const reports = workers.map((w) => w.report());
    for (const w of workers) w.go();
    const results = (await Promise.all(reports)).map((line) => JSON.parse(line) as FleetRunReport);
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    expect(results.flatMap((r) => r.stopReasons)).toContain('budget_exceeded');
    const spans = (await Promise.all(workers.map((_, i) => readTraceFile(join(dir, `worker-${i}.jsonl`))))).flat();
    expect(spans.filter((s) => s.name === 'invoke_agent fleet').every((s) => s.attributes[ATTR.tenant] === 'acme')).toBe(true);
    const settled = spans.filter((s) => s.name === 'chat gpt-4o-mini').reduce((sum, s) => sum + (s.attributes[ATTR.costAmount] as number), 0);
    expect(settled).toBeLessThanOrEqual(limitUsd);
    const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    try {
      const tenant = await store.window(scopedSpendKey('tenant', 'acme'), 3_600_000);
      expect(tenant.spentUsd).toBeCloseTo(settled, 9);
      expect(tenant.reservedUsd).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('fails closed when Redis is down (typed error), and runs unguarded by the window when the policy says open', async () => {
    const lookup = tool({ name: 'lookup', description: 'Looks up.', parameters: z.object({}), execute: () => 'x' });
    const model = () => scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'ok', usage: { inputTokens: 10, outputTokens: 5 } }] });
    const store = redisStore({ url: `redis://127.0.0.1:${await freePort()}`, timeoutMs: 200 });
    const runtime = tracedRuntime({ exporter: 'none', budgetStore: store });
    try {
      const closed = agent({ name: 'down', instructions: '', model: model(), tools: [lookup], budget: { spend: { usd: 1, window: '1h' } } });
      const error = await runtime.run(closed, 'hi').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RunError);
      expect((error as RunError).cause).toBeInstanceOf(BudgetStoreError);

      const open = agent({ name: 'down', instructions: '', model: model(), tools: [lookup], budget: { spend: { usd: 1, window: '1h' }, onStoreError: 'open' } });
      const result = await runtime.run(open, 'hi');
      expect(result.stopReason).toBe('final');
    } finally {
      await store.close();
    }
  });
});
