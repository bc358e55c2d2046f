/**
 * What durable runs cost: every run claims a lease on its id, is recorded when it starts,
 * checkpointed after every step (and its spend saved when a model call asks for tools, before
 * they run), recorded when it ends, and logs its events in the store.
 *
 * Per store (memory, SQLite in a temp file, Redis on a throwaway redis-server or `REDIS_URL`),
 * the time per step of the shared 3-step scenario (bench/scenario.ts), untraced, against the same
 * runtime over a run store that keeps nothing (the baseline: no lease, no checkpoint, no event
 * log), in the same process, rounds interleaved. The difference is the durable cost per step.
 * SQLite and Redis also run without their event log (checkpoints alone), to tell the two apart.
 * The memory store also runs with a 40-message input (a long conversation), since a checkpoint
 * writes the whole state.
 *
 * Then the traced overhead: a traced run (real SDK tracer provider, spans recorded then
 * dropped) on the memory store against the same traced run over the keep-nothing run store.
 *
 *   npm run bench:durable        # BENCH_RUNS=200 runs per variant per round by default
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { agent } from '../src/agent.js';
import { createRuntime } from '../src/create-runtime.js';
import type { Message } from '../src/messages.js';
import type { Runtime } from '../src/runtime/runtime.js';
import { memoryStore } from '../src/state/memory.js';
import { redisStore } from '../src/state/redis.js';
import { sqliteStore } from '../src/state/sqlite.js';
import type { RunStore, Store } from '../src/state/store.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { startRedis, type RedisServer } from '../tests/support/redis.js';
import { add, AGENT_NAME, INPUT, INSTRUCTIONS, makeModel } from './scenario.js';
import { median, rotate } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const WARMUP_ROUNDS = 2;
const ROUNDS = 7;
const STEPS_PER_RUN = 3;

const calc = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model: makeModel(), tools: [add], budget: { maxSteps: 10 } });

/** A 40-message conversation (~200 bytes a message) ending with the question. */
const LONG_INPUT: Message[] = [
  ...Array.from({ length: 39 }, (_, i): Message => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}: ${'lorem ipsum dolor sit amet '.repeat(7)}` })),
  { role: 'user', content: INPUT },
];

/** A run store that keeps nothing: every lease held, every write taken, no event logged. */
const keepNothing: RunStore = {
  claim: async () => ({ held: true, record: undefined }),
  save: async () => true,
  renew: async () => ({ held: true, cancelRequested: false }),
  get: async () => undefined,
  list: async () => [],
  requestCancel: async () => false,
  onCancel: () => () => {},
  appendEvent: async () => '0',
  subscribe: () => () => {},
};

/** `store` with its run store swapped for one that keeps nothing. */
const nonDurable = (store: Store): Store => Object.assign(Object.create(store) as Store, { runs: keepNothing });

/** `store` logging no run event: its checkpoints alone. */
const checkpointsOnly = (store: Store): Store =>
  Object.assign(Object.create(store) as Store, { runs: { ...store.runs, appendEvent: keepNothing.appendEvent } });

interface Variant {
  name: string;
  runtime: Runtime;
  input: string | Message[];
  samples: number[];
}

let redis: RedisServer | undefined;
const dir = mkdtempSync(join(tmpdir(), 'tracebound-bench-durable-'));
const closers: Array<() => Promise<void>> = [];
try {
  const memory = memoryStore();
  const sqlite = sqliteStore({ path: join(dir, 'state.db') });
  closers.push(() => sqlite.close());
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    redis = await startRedis();
    redisUrl = redis.url;
  }
  const redisS = redisStore({ url: redisUrl, timeoutMs: 10_000 });
  closers.push(() => redisS.close());
  const provider = new BasicTracerProvider();
  const traced = (store: Store) => tracedRuntime({ tracerProvider: provider, store });

  const variants: Variant[] = [
    { name: 'baseline (keeps nothing)', runtime: createRuntime({ store: nonDurable(memory) }), input: INPUT, samples: [] },
    { name: 'memory', runtime: createRuntime({ store: memory }), input: INPUT, samples: [] },
    { name: 'sqlite', runtime: createRuntime({ store: sqlite }), input: INPUT, samples: [] },
    { name: 'redis', runtime: createRuntime({ store: redisS }), input: INPUT, samples: [] },
    { name: 'sqlite, no event log', runtime: createRuntime({ store: checkpointsOnly(sqlite) }), input: INPUT, samples: [] },
    { name: 'redis, no event log', runtime: createRuntime({ store: checkpointsOnly(redisS) }), input: INPUT, samples: [] },
    { name: 'baseline, 40-message input', runtime: createRuntime({ store: nonDurable(memory) }), input: LONG_INPUT, samples: [] },
    { name: 'memory, 40-message input', runtime: createRuntime({ store: memory }), input: LONG_INPUT, samples: [] },
    { name: 'traced, keeps nothing', runtime: traced(nonDurable(memory)), input: INPUT, samples: [] },
    { name: 'traced, memory', runtime: traced(memory), input: INPUT, samples: [] },
  ];
  const usable: Variant[] = [];
  for (const v of variants) {
    try {
      await v.runtime.run(calc, v.input);
      usable.push(v);
    } catch (error) {
      console.log(`${v.name}: skipped (${(error as Error).message})`);
    }
  }

  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const v of rotate(usable, round)) {
      const started = performance.now();
      for (let i = 0; i < RUNS; i++) await v.runtime.run(calc, v.input);
      const usPerStep = ((performance.now() - started) * 1000) / (RUNS * STEPS_PER_RUN);
      if (round >= WARMUP_ROUNDS) v.samples.push(usPerStep);
    }
  }

  const figure = (name: string) => {
    const v = usable.find((u) => u.name === name);
    return v ? median(v.samples) : undefined;
  };
  console.log(`durable runs: ${RUNS} sequential runs x ${ROUNDS} rounds (+${WARMUP_ROUNDS} warm-up) per variant, ${STEPS_PER_RUN} steps a run, ${process.version}; medians`);
  console.log('variant                            µs/step   durable cost µs/step   ratio');
  const rows: Record<string, { usPerStep: number; costUsPerStep?: number; ratio?: number }> = {};
  const row = (name: string, baseline?: string) => {
    const us = figure(name);
    if (us === undefined) return;
    const base = baseline === undefined ? undefined : figure(baseline);
    const cost = base === undefined ? undefined : us - base;
    const ratio = base === undefined ? undefined : us / base;
    rows[name] = { usPerStep: us, costUsPerStep: cost, ratio };
    console.log(`${name.padEnd(34)} ${us.toFixed(1).padStart(8)}   ${cost === undefined ? '' : cost.toFixed(1).padStart(20)}   ${ratio === undefined ? '' : `${ratio.toFixed(2)}x`}`);
  };
  row('baseline (keeps nothing)');
  for (const name of ['memory', 'sqlite', 'redis', 'sqlite, no event log', 'redis, no event log']) row(name, 'baseline (keeps nothing)');
  row('baseline, 40-message input');
  row('memory, 40-message input', 'baseline, 40-message input');
  row('traced, keeps nothing');
  row('traced, memory', 'traced, keeps nothing');
  console.log(`\nBENCH_JSON ${JSON.stringify({ bench: 'durable', runs: RUNS, rounds: ROUNDS, stepsPerRun: STEPS_PER_RUN, node: process.version, rows })}`);
} finally {
  for (const close of closers) await close().catch(() => {});
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
