/**
 * One worker of the BullMQ queue tests, spawned by tests/serve/bullmq.test.ts as
 * `node --import tsx tests/serve/queue-worker.ts '<json QueueWorkerConfig>'`.
 *
 * It runs `serve()` with a {@link bullmqInput} over a scripted agent. A run's input is the JSON
 * `{ n, slowMs?, blockMs? }`: step 1 calls the `work` tool, which sleeps `slowMs`; with `blockMs`,
 * step 2 calls it again, and it flushes the spans so far, then sleeps `blockMs` (unless the worker
 * is `noBlock`); the last step answers `done <n>`. Each `work` call appends `<n>:<step>` to
 * `counterFile` when set. Every outcome is pushed to the Redis list `doneKey` as
 * `<runId>:<pid>:<ok|type>`.
 *
 * Stdout lines: `ready` once the worker takes jobs, `start <n> <step>` when a `work` call begins,
 * `stopped` after a `stop` line on stdin once the server drained. Runs go through a runtime on
 * the `store` when set (a SQLite file path, or a `redis://` URL: checkpoints the workers share),
 * else the default memory store; spans go to `traceFile` when set.
 */
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { bullmqInput, type FleetSchedule } from '../../src/serve/inputs/bullmq.js';
import { serve } from '../../src/serve/serve.js';
import type { Output } from '../../src/serve/types.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import { createTracerProvider } from '../../src/telemetry/setup.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { LOADED_REPLY_TIMEOUT_MS } from '../support/redis.js';

/** What the test passes as argv[2] (JSON). Durations in ms. */
export interface QueueWorkerConfig {
  url: string;
  queue: string;
  doneKey: string;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  leaseRetryMs?: number;
  schedules?: FleetSchedule[];
  counterFile?: string;
  /** A SQLite file path or a `redis://` URL. */
  store?: string;
  /** The runtime's run lease, in ms. */
  leaseMs?: number;
  noBlock?: boolean;
  traceFile?: string;
}

const config = JSON.parse(process.argv[2] as string) as QueueWorkerConfig;
const Payload = z.object({ n: z.number().int(), slowMs: z.number().nonnegative().optional(), blockMs: z.number().nonnegative().optional() });

const provider = createTracerProvider({ exporter: config.traceFile ? ['file'] : ['none'], traceFile: config.traceFile });
const work = tool({
  name: 'work',
  description: 'Works for a while.',
  parameters: z.object({ n: z.number(), step: z.number(), ms: z.number() }),
  execute: async ({ n, step, ms }) => {
    if (config.counterFile) appendFileSync(config.counterFile, `${n}:${step}\n`);
    if (step === 2) {
      // The step-1 spans reach the file before a SIGKILL could lose their batch.
      await provider.forceFlush();
      if (config.noBlock) ms = 0;
    }
    process.stdout.write(`start ${n} ${step}\n`);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'worked';
  },
});
const model = scriptedModel({
  respond: (request) => {
    const input = Payload.parse(JSON.parse(request.messages.find((m) => m.role === 'user')?.content ?? ''));
    const step = request.messages.filter((m) => m.role === 'tool').length + 1;
    const call = (ms: number) => ({ toolCalls: [{ id: `call_${input.n}_${step}`, name: 'work', arguments: { n: input.n, step, ms } }] });
    if (step === 1) return call(input.slowMs ?? 0);
    if (step === 2 && input.blockMs !== undefined) return call(input.blockMs);
    return { text: `done ${input.n}` };
  },
});

const redis = new Redis(config.url);
const done: Output = {
  name: 'done',
  async deliver(outcome) {
    const status = outcome.ok ? 'ok' : outcome.error.type;
    await redis.rpush(config.doneKey, `${outcome.ok ? outcome.result.runId : outcome.error.runId}:${process.pid}:${status}`);
  },
};
const store = config.store === undefined ? undefined : config.store.startsWith('redis://') ? redisStore({ url: config.store, timeoutMs: LOADED_REPLY_TIMEOUT_MS }) : sqliteStore({ path: config.store });
const server = serve({
  agent: agent({ name: 'queue-worker', instructions: 'Work.', model, tools: [work] }),
  runtime: tracedRuntime({ tracerProvider: provider, ...(store ? { store } : {}), ...(config.leaseMs ? { leaseMs: config.leaseMs } : {}) }),
  inputs: [
    bullmqInput({
      url: config.url,
      queue: config.queue,
      lockDurationMs: config.lockDurationMs,
      stalledIntervalMs: config.stalledIntervalMs,
      ...(config.leaseRetryMs ? { leaseRetryMs: config.leaseRetryMs } : {}),
      ...(config.schedules ? { schedules: config.schedules } : {}),
    }),
  ],
  outputs: [done],
  concurrency: config.concurrency,
  drainTimeoutMs: 2_000,
});

await server.start();
process.stdout.write('ready\n');

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() !== 'stop') return;
  lines.close();
  process.stdin.destroy();
  await server.stop();
  await provider.shutdown();
  await store?.close();
  await redis.quit();
  process.stdout.write('stopped\n');
});
