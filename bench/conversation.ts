/**
 * Conversation store cost per turn: the load (take the lease and read) and the save (append the
 * turn and release) a run with a `conversationId` adds, for each store (memory, SQLite in a temp
 * file, Redis on a throwaway redis-server or `REDIS_URL`), on a conversation of 20 and of 1,000
 * turns (2 messages each, ~200 bytes per message). For Redis, also the commands the client sent
 * per turn (counted on `Redis.prototype.sendCommand`): its round trips.
 *
 * Then the whole-run cost: a traced run (real SDK tracer provider, spans recorded and dropped)
 * of a scripted model with a conversation on the memory store, against the same run without one.
 *
 *   npm run bench:conversation      # BENCH_TURNS=200 measured turns per case by default
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { Redis } from 'ioredis';
import { agent } from '../src/agent.js';
import type { Message } from '../src/messages.js';
import { memoryStore } from '../src/state/memory.js';
import { redisStore } from '../src/state/redis.js';
import { sqliteStore } from '../src/state/sqlite.js';
import type { Store } from '../src/state/store.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import { startRedis } from '../tests/support/redis.js';

const MEASURED = Number(process.env.BENCH_TURNS ?? 200);
const SIZES = [20, 1_000];

let sent = 0;
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof sendCommand>) {
  sent++;
  return sendCommand.apply(this, args);
};

/** One turn's messages, ~200 bytes each, like a short chat exchange. */
function turn(i: number): Message[] {
  const text = `Turn ${i}: ${'lorem ipsum dolor sit amet '.repeat(7)}`;
  return [
    { role: 'user', content: `Q ${text}` },
    { role: 'assistant', content: `A ${text}` },
  ];
}

/** Fills a conversation to `turns` turns, then times `MEASURED` more load+save turns on it. */
async function measure(store: Store, turns: number) {
  const id = `bench-${randomUUID()}`;
  const owner = 'bench';
  const lease = { owner, ttlMs: 60_000 };
  const filler: Message[] = Array.from({ length: turns }, (_, i) => turn(i)).flat();
  await store.conversations.acquire(id, lease);
  await store.conversations.append(id, { owner, agent: 'bench', messages: filler });
  // Measured turns on a window that stays at `turns`: each measured turn is appended to a copy
  // of the filled conversation, so the 1,000-turn case does not become a 1,200-turn one.
  const ids = Array.from({ length: MEASURED }, () => `${id}-${randomUUID()}`);
  for (const copy of ids) {
    await store.conversations.acquire(copy, lease);
    await store.conversations.append(copy, { owner, agent: 'bench', messages: filler });
  }
  const times: number[] = [];
  const sentBefore = sent;
  for (const [i, copy] of ids.entries()) {
    const started = performance.now();
    const got = await store.conversations.acquire(copy, lease);
    if (!got.held || got.conversation?.messages.length !== filler.length) throw new Error('bench: the conversation did not load whole');
    await store.conversations.append(copy, { owner, agent: 'bench', messages: turn(turns + i) });
    times.push(performance.now() - started);
  }
  const commands = (sent - sentBefore) / MEASURED;
  for (const copy of [id, ...ids]) await store.conversations.delete(copy);
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  return { meanMs: mean, p50Ms: times[Math.floor(times.length / 2)] ?? 0, p99Ms: times[Math.floor(times.length * 0.99)] ?? 0, commands };
}

/**
 * Mean ms per run of each variant, after a warm-up, measured in alternating blocks so that JIT
 * warm-up and machine noise fall on both alike.
 */
async function perRun(variants: ((i: number) => Promise<unknown>)[], blocks = 20, block = 200): Promise<number[]> {
  for (const run of variants) for (let i = 0; i < block; i++) await run(i);
  const totals = variants.map(() => 0);
  for (let b = 0; b < blocks; b++) {
    for (const [v, run] of variants.entries()) {
      const started = performance.now();
      for (let i = 0; i < block; i++) await run(b * block + i);
      totals[v] = (totals[v] ?? 0) + performance.now() - started;
    }
  }
  return totals.map((t) => t / (blocks * block));
}

const dir = mkdtempSync(join(tmpdir(), 'tracebound-bench-conversation-'));
const redis = process.env.REDIS_URL ? undefined : await startRedis();
const redisUrl = process.env.REDIS_URL ?? (redis?.url as string);
try {
  const stores: [string, () => Store][] = [
    ['memory', () => memoryStore()],
    ['sqlite', () => sqliteStore({ path: join(dir, `${randomUUID()}.db`) })],
    ['redis', () => redisStore({ url: redisUrl, timeoutMs: 10_000 })],
  ];
  console.log(`load + save per turn (${MEASURED} turns per case)`);
  console.log('store   turns   mean ms   p50 ms   p99 ms   commands/turn');
  for (const [name, make] of stores) {
    for (const turns of SIZES) {
      const store = make();
      const r = await measure(store, turns);
      await store.close();
      const commands = name === 'redis' ? r.commands.toFixed(2) : '-';
      console.log(
        `${name.padEnd(7)} ${String(turns).padStart(5)} ${r.meanMs.toFixed(3).padStart(9)} ${r.p50Ms.toFixed(3).padStart(8)} ${r.p99Ms.toFixed(3).padStart(8)}   ${commands}`,
      );
    }
  }

  // A run with a conversation vs without, traced, on the memory store; each with a fresh
  // conversation id so the history stays one turn long (the per-turn store cost is above).
  const provider = new BasicTracerProvider();
  const runtime = tracedRuntime({ tracerProvider: provider, store: memoryStore() });
  const chat = agent({ name: 'chat', instructions: '', model: scriptedModel({ respond: () => ({ text: 'ok', usage: { inputTokens: 10, outputTokens: 2 } }) }) });
  const [without = 0, withConversation = 0] = await perRun([() => runtime.run(chat, 'hi'), (i) => runtime.run(chat, 'hi', { conversationId: `c-${i}` })]);
  console.log(`\ntraced run (memory store): ${without.toFixed(3)} ms without a conversation, ${withConversation.toFixed(3)} ms with one (+${(withConversation - without).toFixed(3)} ms)`);
} finally {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
