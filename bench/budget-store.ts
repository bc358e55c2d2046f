/**
 * Spend store throughput: 100 concurrent callers each looping reserve + settle (one model call's
 * worth of store traffic) against one agent's window, for the memory store and the Redis store on
 * a throwaway redis-server (or `REDIS_URL`).
 *
 * Reports model calls (reserve+settle pairs) per second, pair latency, and round trips per call:
 * commands the client sent (counted on `Redis.prototype.sendCommand`) and the scripts the server
 * ran (its `evalsha`/`eval` command stats), each divided by the calls.
 *
 *   npm run bench:budget            # BENCH_SECONDS=2 by default, per store
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { SpendStore } from '../src/state/store.js';
import { spendKey } from '../src/state/store.js';
import { memoryStore } from '../src/state/memory.js';
import { redisStore } from '../src/state/redis.js';
import { startRedis } from '../tests/support/redis.js';

const CALLERS = 100;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const WINDOW_MS = 3_600_000;

let sent = 0;
const sendCommand = Redis.prototype.sendCommand;
Redis.prototype.sendCommand = function (this: Redis, ...args: Parameters<typeof sendCommand>) {
  sent++;
  return sendCommand.apply(this, args);
};

interface Result {
  store: string;
  calls: number;
  callsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  clientCommandsPerCall: number;
  serverScriptsPerCall: number;
}

async function scriptCalls(admin: Redis | undefined): Promise<number> {
  if (!admin) return 0;
  const stats = await admin.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

async function measure(name: string, store: SpendStore, admin?: Redis): Promise<Result> {
  const key = spendKey(`bench-${randomUUID()}`);
  const base = { key, maxUsd: 0.01, minUsd: 0.001, limitUsd: 1_000_000, windowMs: WINDOW_MS, ttlMs: 60_000 };
  const call = async (): Promise<number> => {
    const id = randomUUID();
    const started = performance.now();
    const { grantedUsd } = await store.reserve({ ...base, id });
    await store.settle({ key, id, actualUsd: grantedUsd / 2, windowMs: WINDOW_MS });
    return performance.now() - started;
  };
  // Warm up: connect, load the scripts, let the JIT settle.
  await Promise.all(Array.from({ length: CALLERS }, call));

  const sentBefore = sent;
  const scriptsBefore = await scriptCalls(admin);
  const latencies: number[] = [];
  const deadline = performance.now() + SECONDS * 1_000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (performance.now() < deadline) latencies.push(await call());
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  const scripts = (await scriptCalls(admin)) - scriptsBefore;
  // The second INFO was sent by the counting itself.
  const commands = admin ? sent - sentBefore - 1 : 0;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const calls = latencies.length;
  return {
    store: name,
    calls,
    callsPerSec: Math.round(calls / elapsed),
    p50Ms: round(at(0.5)),
    p99Ms: round(at(0.99)),
    clientCommandsPerCall: round(commands / calls),
    serverScriptsPerCall: round(scripts / calls),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

const external = process.env.REDIS_URL;
const server = external ? undefined : await startRedis();
const url = external ?? (server?.url as string);
const admin = new Redis(url);
const results: Result[] = [];
try {
  for (const [name, make, redisBacked] of [
    ['memory', () => memoryStore(), false],
    ['redis', () => redisStore({ url }), true],
  ] as const) {
    const store = make();
    results.push(await measure(name, store, redisBacked ? admin : undefined));
    await store.close();
  }
} finally {
  await admin.quit();
  await server?.stop();
}

const redisVersion = server ? 'throwaway redis-server' : url.replace(/\/\/[^@]*@/, '//');
console.log(`budget store: ${CALLERS} concurrent callers, ${SECONDS} s each, one agent window (${redisVersion})\n`);
console.log('| store | model calls/s | p50 ms | p99 ms | client commands/call | server scripts/call |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(`| ${r.store} | ${r.callsPerSec} | ${r.p50Ms} | ${r.p99Ms} | ${r.clientCommandsPerCall} | ${r.serverScriptsPerCall} |`);
}
console.log(`\nBENCH_JSON ${JSON.stringify({ bench: 'budget-store', callers: CALLERS, seconds: SECONDS, node: process.version, results })}`);
