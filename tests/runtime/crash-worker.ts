/**
 * One process of a durable run, spawned by tests/runtime/resume-crash.test.ts as
 * `node --import tsx tests/runtime/crash-worker.ts '<json CrashWorkerConfig>'`, over a SQLite file
 * or a Redis server, its spans appended to a shared trace file.
 * - `run`: runs the 3-step agent; step 1's tool counts its runs in a file; step 2's tool flushes
 *   the spans, writes the marker file and blocks (the test SIGKILLs the process there).
 * - `resume`: resumes the run, prints its result as one JSON line.
 * - `block`: like `run`, but prints the error the run rejects with (a cancel from elsewhere).
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import type { RunError } from '../../src/errors.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

/** What the test passes on the command line. */
export interface CrashWorkerConfig {
  mode: 'run' | 'resume' | 'block';
  /** The SQLite file to share, or a Redis URL (`redis://...`). */
  store: string;
  runId: string;
  /** Where the counter and marker files go. */
  dir: string;
  traceFile: string;
  leaseMs: number;
}

const config = JSON.parse(process.argv[2] ?? '') as CrashWorkerConfig;
const store = config.store.startsWith('redis://') ? redisStore({ url: config.store, timeoutMs: 10_000 }) : sqliteStore({ path: config.store });
const runtime = tracedRuntime({ exporter: 'file', traceFile: config.traceFile, store, leaseMs: config.leaseMs });

const count = tool({
  name: 'count',
  description: 'Counts its runs.',
  parameters: z.object({}),
  execute: () => {
    appendFileSync(join(config.dir, 'count'), 'ran\n');
    return 'counted';
  },
});
const slow = tool({
  name: 'slow',
  description: 'Blocks in the first process.',
  parameters: z.object({}),
  execute: async () => {
    if (config.mode === 'resume') return 'slow done';
    // What ended so far (step 1, step 2's model call) reaches the trace file before the kill.
    await runtime.forceFlush();
    writeFileSync(join(config.dir, 'marker'), String(process.pid));
    // A ref'd timer keeps the process alive while the tool blocks (the lease heartbeat is unref'd).
    setInterval(() => {}, 1_000);
    return new Promise<never>(() => {});
  },
});
const usage = [
  { inputTokens: 1_000, outputTokens: 100 },
  { inputTokens: 2_000, outputTokens: 200 },
  { inputTokens: 3_000, outputTokens: 300 },
];
const model = scriptedModel({
  provider: 'openai',
  modelId: 'gpt-4o-mini',
  respond: (request) => {
    const results = request.messages.filter((m) => m.role === 'tool').length;
    if (results === 0) return { toolCalls: [{ id: 'c1', name: 'count', arguments: {} }], usage: usage[0] };
    if (results === 1) return { toolCalls: [{ id: 'c2', name: 'slow', arguments: {} }], usage: usage[1] };
    return { text: 'all done', usage: usage[2] };
  },
});
const worker = agent({ name: 'worker', instructions: 'Work.', model, tools: [count, slow] });

if (config.mode === 'resume') {
  const result = await runtime.resume(worker, config.runId);
  console.log(JSON.stringify(result));
} else {
  const error = await runtime.run(worker, 'go', { runId: config.runId }).then(
    () => undefined,
    (e: unknown) => e as RunError,
  );
  console.log(JSON.stringify(error ? { name: error.name, stopReason: error.stopReason } : { name: 'none' }));
}
await runtime.shutdown();
await store.close();
process.exit(0);
