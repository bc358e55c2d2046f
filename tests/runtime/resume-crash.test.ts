/**
 * A worker process SIGKILLed in the middle of step 2 of a durable run (its step-2 tool blocks
 * after writing a marker file), over a SQLite file and over a real redis-server: once the lease
 * lapses another process resumes the run. The step-1 tool ran exactly once (a counter file),
 * usage and cost are the sum of every chat span of both processes (the step-2 call made twice
 * included), and both processes' spans are one trace. A run is also cancelled from another
 * process: over SQLite its heartbeat reads the request, over Redis the pub/sub notice does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../src/runtime/events.js';
import { createRuntime } from '../../src/create-runtime.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import type { Store } from '../../src/state/store.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';
import { LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { CHILD_PROCESS_TEST_MS } from '../support/timeouts.js';
import type { CrashWorkerConfig } from './crash-worker.js';

const WORKER = fileURLToPath(new URL('./crash-worker.ts', import.meta.url));
/**
 * The workers' run lease, renewed every third of it: a loaded machine stalling a worker for two
 * thirds of it loses the lease (the run then stops lease-lost before the kill or the cancel), so
 * it leaves 2 s for a stall.
 */
const LEASE_MS = 3_000;

let redis: RedisServer;
let root: string;

beforeAll(async () => {
  redis = await startRedis();
  root = mkdtempSync(join(tmpdir(), 'tracebound-resume-crash-'));
});

afterAll(async () => {
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

function start(config: CrashWorkerConfig): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const output = new Promise<string>((resolve, reject) =>
    child.once('exit', (code, signal) => (code === 0 ? resolve(out.trim()) : reject(new Error(`worker exited ${code ?? signal}: ${err}`)))),
  );
  output.catch(() => {});
  return { child, output };
}

/** Polls until `check` holds (bounded: 30 s). */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 1_500; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Each store, and the lease of the cancelled run: over SQLite the run's heartbeat (every third of
 * its 3 s lease) reads the cancel request; over Redis the lease is 5 minutes, so no heartbeat
 * comes within the test's time limit: only the pub/sub notice can cancel it.
 */
const stores: Array<[string, (dir: string) => { spec: string; open: () => Store; cancelLeaseMs: number }]> = [
  ['SQLite', (dir) => ({ spec: join(dir, 'state.db'), open: () => sqliteStore({ path: join(dir, 'state.db') }), cancelLeaseMs: LEASE_MS })],
  ['Redis', () => ({ spec: redis.url, open: () => redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS }), cancelLeaseMs: 300_000 })],
];

describe.each(stores)('a worker killed in the middle of step 2 (%s store)', { timeout: CHILD_PROCESS_TEST_MS }, (name, storeOf) => {
  it('is resumed by another process from its last checkpoint: step 1 is not redone, spend adds up, one trace', async () => {
    const dir = mkdtempSync(join(root, `${name}-crash-`));
    const { spec, open } = storeOf(dir);
    const runId = `crash-${name}`;
    const base = { store: spec, runId, dir, traceFile: join(dir, 'traces.jsonl'), leaseMs: LEASE_MS };
    const first = start({ ...base, mode: 'run' });
    await until(() => existsSync(join(dir, 'marker')), 'the step-2 tool to block');
    first.child.kill('SIGKILL');
    await expect(first.output).rejects.toThrow(/SIGKILL/);

    const store = open();
    const runtime = createRuntime({ store });
    try {
      expect(await runtime.runs.get(runId)).toMatchObject({ status: 'running', step: 1 });
      await until(async () => (await runtime.runs.get(runId))?.leaseExpired === true, 'the lease to lapse');
      const second = start({ ...base, mode: 'resume' });
      const result = JSON.parse(await second.output) as RunResult;
      expect(result).toMatchObject({ runId, stopReason: 'final', output: 'all done', steps: 3 });
      expect(readFileSync(join(dir, 'count'), 'utf8')).toBe('ran\n');
      expect(await runtime.runs.get(runId)).toMatchObject({ status: 'completed', step: 3 });

      const spans = await readTraceFile(base.traceFile);
      // One trace: the killed process's spans (its run and step-2 spans never ended) and the resumed ones.
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([result.traceId]));
      const chats = spans.filter((s) => s.name === SPAN_NAME.chat('gpt-4o-mini'));
      // Step 1 and 2 in the first process; step 2 again and 3 in the second.
      expect(chats.map((s) => s.attributes[ATTR.usageInputTokens])).toEqual([1_000, 2_000, 2_000, 3_000]);
      const sum = (key: string) => chats.reduce((total, s) => total + (s.attributes[key] as number), 0);
      expect(result.usage.inputTokens).toBe(sum(ATTR.usageInputTokens));
      expect(result.usage.outputTokens).toBe(sum(ATTR.usageOutputTokens));
      expect(result.costUsd).toBeCloseTo(sum(ATTR.costAmount), 12);
      const step1 = spans.find((s) => s.name === SPAN_NAME.step(1))!;
      const resumedRun = spans.find((s) => s.name === SPAN_NAME.run('worker'))!;
      expect(spans.filter((s) => s.name === SPAN_NAME.run('worker'))).toHaveLength(1);
      expect(resumedRun.attributes[ATTR.resumeFromStep]).toBe(2);
      expect(resumedRun.parentSpanId).toBe(step1.parentSpanId);
      expect(resumedRun.attributes[ATTR.runId]).toBe(runId);
      expect(resumedRun.attributes[ATTR.runCostUsd]).toBeCloseTo(result.costUsd!, 12);
      expect(spans.filter((s) => s.name === SPAN_NAME.tool('count'))).toHaveLength(1);
    } finally {
      await store.close();
    }
  });

  it('is cancelled from another process', async () => {
    const dir = mkdtempSync(join(root, `${name}-cancel-`));
    const { spec, open, cancelLeaseMs } = storeOf(dir);
    const runId = `cancel-${name}`;
    const worker = start({ store: spec, runId, dir, traceFile: join(dir, 'traces.jsonl'), leaseMs: cancelLeaseMs, mode: 'block' });
    await until(() => existsSync(join(dir, 'marker')), 'the step-2 tool to block');
    const store = open();
    try {
      const runtime = createRuntime({ store });
      expect(await runtime.cancel(runId)).toBe(true);
      expect(JSON.parse(await worker.output)).toEqual({ name: 'RunAbortedError', stopReason: 'aborted' });
      expect(await runtime.runs.get(runId)).toMatchObject({ status: 'failed', step: 1, error: { stopReason: 'aborted' } });
      expect(await runtime.cancel(runId)).toBe(false);
    } finally {
      await store.close();
    }
  });
});
