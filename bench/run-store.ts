/**
 * Durable-run store cost: one checkpoint save (a realistic RunState of 20 messages, ~4 KB of
 * JSON, with the lease held) and one event append, for each store (memory, SQLite in a temp
 * file, Redis on a throwaway redis-server or `REDIS_URL`), each against a bare baseline doing the
 * least the same write needs, in the same run:
 *   - memory: `JSON.stringify` of the record into a Map (save); of the event onto an array (append);
 *   - SQLite: a raw better-sqlite3 upsert of the same JSON in a WAL file with the store's pragmas
 *     (save); a raw insert of the event's JSON (append);
 *   - Redis: a raw ioredis `SET` of the same JSON (save); a raw `XADD` of the event's JSON (append).
 * Variants run in alternating blocks, so JIT warm-up and machine noise fall on both alike.
 *
 *   npm run bench:runs      # BENCH_OPS=200 operations per block by default, 10 blocks
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import type { RunEvent } from '../src/runtime/events.js';
import { memoryStore } from '../src/state/memory.js';
import { redisStore } from '../src/state/redis.js';
import { encodeRunEvent } from '../src/state/run-store.js';
import { sqliteStore } from '../src/state/sqlite.js';
import type { Store } from '../src/state/store.js';
import { startRedis } from '../tests/support/redis.js';
import { runRecord } from '../tests/support/run-record.js';
import { median } from './stats.js';

const OPS = Number(process.env.BENCH_OPS ?? 200);
const BLOCKS = 10;

/** A tool call's end, the most common sizeable event of a run. */
const EVENT: Extract<RunEvent, { type: 'tool-call-end' }> = {
  type: 'tool-call-end',
  step: 3,
  toolCall: { id: 'call_3', name: 'lookup_order', arguments: { orderId: 4711, carrier: true } },
  result: JSON.stringify({ status: 'shipped', eta: '2026-12-09', events: ['packed', 'handed to carrier', 'in transit'] }),
  isError: false,
  durationMs: 42,
};

/** Median µs per operation of each variant, over `BLOCKS` alternating blocks of `OPS` operations. */
async function perOp(variants: ((i: number) => unknown)[]): Promise<number[]> {
  for (const op of variants) for (let i = 0; i < OPS; i++) await op(i);
  const samples: number[][] = variants.map(() => []);
  for (let b = 0; b < BLOCKS; b++) {
    for (const [v, op] of variants.entries()) {
      const started = performance.now();
      for (let i = 0; i < OPS; i++) await op(i);
      samples[v]?.push(((performance.now() - started) * 1_000) / OPS);
    }
  }
  return samples.map(median);
}

/** The store's save and append, with the lease taken, as benchmark operations. */
async function storeOps(store: Store): Promise<{ save: (i: number) => Promise<unknown>; append: (i: number) => Promise<unknown> }> {
  const runId = `bench-${randomUUID()}`;
  const lease = { owner: 'bench', ttlMs: 600_000 };
  const claim = await store.runs.claim(runId, lease);
  if (!claim.held) throw new Error('bench: could not claim the run');
  const record = runRecord(runId, 'bench');
  return {
    save: async (i) => {
      record.step = i;
      record.updatedAt = Date.now();
      if (!(await store.runs.save(record, lease))) throw new Error('bench: the lease was lost');
    },
    append: async (i) => store.runs.appendEvent(runId, { ...EVENT, step: i }),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'tracebound-bench-runs-'));
const redis = process.env.REDIS_URL ? undefined : await startRedis();
const redisUrl = process.env.REDIS_URL ?? (redis?.url as string);
const record = runRecord('bench-baseline', 'bench');
console.log(`one checkpoint (${JSON.stringify(record).length} bytes of JSON, 20 messages) and one event (${encodeRunEvent(EVENT).length} bytes)`);
console.log(`median µs per operation over ${BLOCKS} blocks of ${OPS}`);
console.log('store    op       store µs   bare µs   ratio');
const report = (name: string, op: string, [store = 0, bare = 0]: number[]) =>
  console.log(`${name.padEnd(8)} ${op.padEnd(8)} ${store.toFixed(1).padStart(9)} ${bare.toFixed(1).padStart(9)} ${(store / bare).toFixed(2).padStart(7)}`);

try {
  // Memory.
  {
    const store = memoryStore();
    const ops = await storeOps(store);
    const map = new Map<string, string>();
    const log: string[] = [];
    report('memory', 'save', await perOp([ops.save, (i) => map.set('bench', JSON.stringify({ ...record, step: i }))]));
    report('memory', 'append', await perOp([ops.append, (i) => log.push(JSON.stringify({ ...EVENT, step: i }))]));
    await store.close();
  }

  // SQLite: the store and a bare table in files of their own, same pragmas.
  {
    const store = sqliteStore({ path: join(dir, 'store.db') });
    const ops = await storeOps(store);
    const db = new Database(join(dir, 'bare.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec('CREATE TABLE runs (run_id TEXT PRIMARY KEY, record TEXT NOT NULL); CREATE TABLE events (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, event TEXT NOT NULL)');
    const upsert = db.prepare('INSERT INTO runs (run_id, record) VALUES (?, ?) ON CONFLICT (run_id) DO UPDATE SET record = excluded.record');
    const insert = db.prepare('INSERT INTO events (run_id, event) VALUES (?, ?)');
    report('sqlite', 'save', await perOp([ops.save, (i) => upsert.run('bench', JSON.stringify({ ...record, step: i }))]));
    report('sqlite', 'append', await perOp([ops.append, (i) => insert.run('bench', JSON.stringify({ ...EVENT, step: i }))]));
    db.close();
    await store.close();
  }

  // Redis.
  {
    const store = redisStore({ url: redisUrl, timeoutMs: 10_000, prefix: `bench-${randomUUID()}:` });
    const ops = await storeOps(store);
    const raw = new Redis(redisUrl);
    const key = `bench-bare-${randomUUID()}`;
    report('redis', 'save', await perOp([ops.save, (i) => raw.set(key, JSON.stringify({ ...record, step: i }))]));
    report('redis', 'append', await perOp([ops.append, (i) => raw.xadd(`${key}:events`, '*', 'e', JSON.stringify({ ...EVENT, step: i }))]));
    await raw.quit();
    await store.close();
  }
} finally {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}
