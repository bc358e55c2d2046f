/**
 * The spend windows of the stores against their contract (src/state/store.ts): one behavioural
 * suite run on the in-memory store, the SQLite store in a temp file and the Redis store over a
 * real redis-server, then what only shared stores have: several Node processes sharing a window
 * (Redis, and SQLite on one machine), a process killed mid-call, Redis going away, a corrupt
 * SQLite file. The conversations' contract is in conversation-store.test.ts.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { BudgetStoreError, StoreError } from '../../src/state/errors.js';
import { spendKey, type ReserveRequest, type SpendStore } from '../../src/state/store.js';
import { memoryStore } from '../../src/state/memory.js';
import { redisStore } from '../../src/state/redis.js';
import { MIGRATIONS, SQLITE_SCHEMA_VERSION, sqliteStore } from '../../src/state/sqlite.js';
import { freePort, LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { HELD_MS, storeClock, type StoreClock } from '../support/store-clock.js';
import type { FleetReport, WorkerConfig } from './fleet-worker.js';

let redis: RedisServer;
let inspect: Redis;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  inspect = new Redis(redis.url);
  dir = mkdtempSync(join(tmpdir(), 'tracebound-sqlite-'));
});

afterAll(async () => {
  await inspect?.quit();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A SQLite file no test has used yet. */
function freshFile(): string {
  return join(dir, `${randomUUID()}.db`);
}

/** A fresh agent key per test, so tests never see each other's windows. */
function freshKey(): string {
  return spendKey(`agent-${randomUUID()}`, 'tbtest');
}

function request(key: string, overrides: Partial<ReserveRequest> = {}): ReserveRequest {
  return { key, id: randomUUID(), maxUsd: 0.4, minUsd: 0.1, limitUsd: 1, windowMs: 60_000, ttlMs: 60_000, ...overrides };
}

/** Each store, on the clock its reservations and windows run on (see store-clock.ts). */
const stores: [string, (clock: StoreClock) => SpendStore][] = [
  ['memory', (clock) => memoryStore({ now: clock.now })],
  ['sqlite', () => sqliteStore({ path: freshFile() })],
  ['redis', () => redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS })],
];

describe.each(stores)('%s store', (name, make) => {
  let clock: StoreClock;
  let store: SpendStore;
  let key: string;

  beforeEach(() => {
    clock = storeClock(name);
    store = make(clock);
    key = freshKey();
  });

  afterEach(async () => {
    await store.close();
    vi.restoreAllMocks();
  });

  it('grants the whole worst case when it fits and reports the window after it', async () => {
    expect(await store.reserve(request(key))).toEqual({ grantedUsd: 0.4, spentUsd: 0, reservedUsd: 0.4, remainingUsd: 0.6 });
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0, reservedUsd: 0.4 });
  });

  it('grants what is left when the room is between min and max, then refuses below min', async () => {
    await store.reserve(request(key, { maxUsd: 0.75, minUsd: 0.75 }));
    expect(await store.reserve(request(key))).toEqual({ grantedUsd: 0.25, spentUsd: 0, reservedUsd: 1, remainingUsd: 0 });
    expect(await store.reserve(request(key, { minUsd: 0.000001 }))).toEqual({
      grantedUsd: 0,
      spentUsd: 0,
      reservedUsd: 1,
      remainingUsd: 0,
    });
  });

  it('settles a reservation to its actual cost, freeing the rest', async () => {
    const first = request(key);
    await store.reserve(first);
    await store.settle({ key, id: first.id, actualUsd: 0.15, windowMs: 60_000 });
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0.15, reservedUsd: 0 });
    expect(await store.reserve(request(key, { maxUsd: 1 }))).toEqual({
      grantedUsd: 0.85,
      spentUsd: 0.15,
      reservedUsd: 0.85,
      remainingUsd: 0,
    });
  });

  it('settles idempotently per id, and records a settle of an unknown id', async () => {
    const first = request(key);
    await store.reserve(first);
    await store.settle({ key, id: first.id, actualUsd: 0.3, windowMs: 60_000 });
    await store.settle({ key, id: first.id, actualUsd: 0.3, windowMs: 60_000 });
    await store.settle({ key, id: 'never-reserved', actualUsd: 0.2, windowMs: 60_000 });
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0.5, reservedUsd: 0 });
  });

  it('holds once when the same id is reserved twice', async () => {
    const first = request(key);
    await store.reserve(first);
    expect((await store.reserve(first)).grantedUsd).toBe(0.4);
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0, reservedUsd: 0.4 });
  });

  it('rolls the window: spend older than windowMs stops counting', async () => {
    const windowMs = HELD_MS;
    const first = request(key, { maxUsd: 1, minUsd: 1, windowMs });
    expect((await store.reserve(first)).grantedUsd).toBe(1);
    await store.settle({ key, id: first.id, actualUsd: 1, windowMs });
    expect((await store.reserve(request(key, { windowMs }))).grantedUsd).toBe(0);
    await clock.pass(windowMs + 100);
    expect(await store.window(key, windowMs)).toEqual({ spentUsd: 0, reservedUsd: 0 });
    expect((await store.reserve(request(key, { windowMs }))).grantedUsd).toBe(0.4);
  });

  it('frees an unsettled reservation after its TTL (a crashed process), yet still counts a late settle', async () => {
    const ttlMs = HELD_MS;
    const crashed = request(key, { maxUsd: 1, minUsd: 1, ttlMs });
    expect((await store.reserve(crashed)).grantedUsd).toBe(1);
    expect((await store.reserve(request(key, { ttlMs }))).grantedUsd).toBe(0);
    await clock.pass(ttlMs + 100);
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0, reservedUsd: 0 });
    const next = await store.reserve(request(key, { ttlMs }));
    expect(next.grantedUsd).toBe(0.4);
    // The "crashed" call did finish after all: money spent is spent.
    await store.settle({ key, id: crashed.id, actualUsd: 0.5, windowMs: 60_000 });
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0.5, reservedUsd: 0.4 });
  });

  it('never lets 1,000 concurrent reserve+settle pass the limit', async () => {
    const limitUsd = 1;
    let settled = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: 1_000 }, async () => {
        const r = request(key, { limitUsd, maxUsd: 0.01, minUsd: 0.004 });
        const { grantedUsd } = await store.reserve(r);
        if (grantedUsd === 0) {
          refused++;
          return;
        }
        await store.settle({ key, id: r.id, actualUsd: grantedUsd, windowMs: r.windowMs });
        settled += Math.round(grantedUsd * 1e9);
      }),
    );
    const state = await store.window(key, 60_000);
    expect(state.reservedUsd).toBe(0);
    expect(Math.round(state.spentUsd * 1e9)).toBe(settled);
    expect(settled).toBeLessThanOrEqual(limitUsd * 1e9);
    expect(state.spentUsd).toBeGreaterThan(limitUsd - 0.004);
    expect(refused).toBeGreaterThan(0);
  });

  it('keeps exact totals for many small amounts and for large limits', async () => {
    await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => store.settle({ key, id: `small-${i}`, actualUsd: 0.001, windowMs: 60_000 })),
    );
    expect(await store.window(key, 60_000)).toEqual({ spentUsd: 1, reservedUsd: 0 });
    const big = freshKey();
    const result = await store.reserve(request(big, { limitUsd: 5_000_000, maxUsd: 1_234_567.123456789, minUsd: 1 }));
    expect(result).toEqual({ grantedUsd: 1_234_567.123456789, spentUsd: 0, reservedUsd: 1_234_567.123456789, remainingUsd: 3_765_432.876543211 });
  });

  it('rejects malformed requests with RangeError, not a budget decision', async () => {
    await expect(store.reserve(request(key, { minUsd: 0.5, maxUsd: 0.2 }))).rejects.toBeInstanceOf(RangeError);
    await expect(store.reserve(request(key, { maxUsd: Number.NaN }))).rejects.toBeInstanceOf(RangeError);
    await expect(store.reserve(request(key, { ttlMs: 0 }))).rejects.toBeInstanceOf(RangeError);
    await expect(store.settle({ key, id: 'x', actualUsd: -1, windowMs: 1_000 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('memory store', () => {
  it('rolls the window on an injected clock, and forgets idle windows', async () => {
    let now = 1_000_000;
    const store = memoryStore({ now: () => now });
    const key = freshKey();
    const first = request(key, { maxUsd: 1, minUsd: 1, windowMs: 3_600_000 });
    await store.reserve(first);
    await store.settle({ key, id: first.id, actualUsd: 1, windowMs: 3_600_000 });
    now += 3_599_999;
    expect((await store.reserve(request(key, { windowMs: 3_600_000 }))).grantedUsd).toBe(0);
    now += 1;
    expect(await store.window(key, 3_600_000)).toEqual({ spentUsd: 1, reservedUsd: 0 });
    now += 1;
    expect(await store.window(key, 3_600_000)).toEqual({ spentUsd: 0, reservedUsd: 0 });
  });
});

const worker = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));

/** Spawns a fleet worker process; `nextLine` reads its stdout line by line. */
function startWorker(config: WorkerConfig) {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else queue.push(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const nextLine = (): Promise<string> =>
    Promise.race([
      queue.length > 0 ? Promise.resolve(queue.shift() as string) : new Promise<string>((resolve) => waiting.push(resolve)),
      exited.then((code) => Promise.reject(new Error(`fleet worker exited (${code}) before printing a line`))),
    ]);
  return { child, nextLine, exited };
}

describe('redis store', () => {
  it('keeps 100 concurrent runs in 4 processes within one shared window, refusing some', { timeout: 120_000 }, async () => {
    const key = freshKey();
    const limitUsd = 3;
    const config: WorkerConfig = {
      mode: 'fleet', url: redis.url, key, limitUsd, maxUsd: 0.05, minUsd: 0.01,
      windowMs: 60_000, ttlMs: 30_000, runs: 25, cycles: 4,
    };
    const workers = Array.from({ length: 4 }, () => startWorker(config));
    for (const w of workers) expect(await w.nextLine()).toBe('ready');
    const startAt = Date.now() + 500;
    for (const w of workers) w.child.stdin?.end(`go ${startAt}\n`);
    const reports = await Promise.all(workers.map(async (w) => JSON.parse(await w.nextLine()) as FleetReport));
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0, 0]);

    const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    const state = await store.window(key, 60_000);
    await store.close();
    const settledNanos = reports.reduce((sum, r) => sum + r.settledNanos, 0);
    expect(state.reservedUsd).toBe(0);
    expect(Math.round(state.spentUsd * 1e9)).toBe(settledNanos);
    expect(settledNanos).toBeLessThanOrEqual(limitUsd * 1e9);
    expect(reports.reduce((sum, r) => sum + r.refusals, 0)).toBeGreaterThan(0);
    expect(reports.every((r) => r.maxGrantedUsd <= 0.05)).toBe(true);
    // Every process reserved from the one window (its opening reservation, before the race).
    expect(reports.map((r) => r.openingUsd)).toEqual([0.05, 0.05, 0.05, 0.05]);
  });

  it("holds a SIGKILLed process's reservation until its TTL, then frees it", async () => {
    const key = freshKey();
    // Outlasts reading the holder's line, killing it and connecting another client, on a loaded machine.
    const ttlMs = 3_000;
    const base = { url: redis.url, key, limitUsd: 1, maxUsd: 0.8, minUsd: 0.5, windowMs: 60_000, ttlMs };
    const holder = startWorker({ mode: 'hold', ...base });
    expect(JSON.parse(await holder.nextLine())).toMatchObject({ grantedUsd: 0.8 });
    const reservedAt = Date.now();
    holder.child.kill('SIGKILL');
    await holder.exited;

    const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    try {
      expect(await store.reserve(request(key, { maxUsd: 0.8, minUsd: 0.5, ttlMs }))).toMatchObject({
        grantedUsd: 0,
        reservedUsd: 0.8,
      });
      await sleep(reservedAt + ttlMs + 50 - Date.now());
      expect(await store.reserve(request(key, { maxUsd: 0.8, minUsd: 0.5, ttlMs }))).toMatchObject({
        grantedUsd: 0.8,
        reservedUsd: 0.8,
      });
    } finally {
      await store.close();
    }
  });

  it('namespaces keys under the agent key and lets idle keys expire with the window', async () => {
    const key = freshKey();
    const store = redisStore({ url: redis.url, prefix: 'env1:', timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    try {
      const windowMs = HELD_MS;
      const r = request(key, { windowMs, ttlMs: 60_000 });
      await store.reserve(r);
      expect((await inspect.keys(`env1:${key}*`)).sort()).toEqual([`env1:${key}`, `env1:${key}:held`]);
      expect(await inspect.pttl(`env1:${key}`)).toBeGreaterThan(50_000);
      await store.settle({ key, id: r.id, actualUsd: 0.1, windowMs });
      expect((await inspect.keys(`env1:${key}*`)).sort()).toEqual([`env1:${key}`, `env1:${key}:spent`]);
      expect(await inspect.pttl(`env1:${key}`)).toBeLessThanOrEqual(windowMs);
      await sleep(windowMs + 100);
      expect(await inspect.keys(`env1:${key}*`)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('reloads its scripts after the server lost them', async () => {
    const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    try {
      const key = freshKey();
      await store.reserve(request(key));
      await inspect.script('FLUSH');
      expect((await store.reserve(request(key))).grantedUsd).toBe(0.4);
    } finally {
      await store.close();
    }
  });

  it('uses a caller-supplied client and leaves it open', async () => {
    const client = new Redis(redis.url);
    const store = redisStore({ client, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
    const key = freshKey();
    expect((await store.reserve(request(key))).grantedUsd).toBe(0.4);
    await store.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();
  });
});

describe('redis store outages', () => {
  async function expectFastFailure(store: SpendStore, key = freshKey()): Promise<void> {
    const started = performance.now();
    const error = await store.reserve(request(key)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetStoreError);
    expect((error as BudgetStoreError).kind).toBe('budget_store_unavailable');
    // The store's reply deadline (at most 2 s here) bounds it; the margin is for a loaded machine.
    expect(performance.now() - started).toBeLessThan(5_000);
  }

  it('rejects with BudgetStoreError within its reply deadline when nothing listens', async () => {
    const store = redisStore({ url: `redis://127.0.0.1:${await freePort()}` });
    await expectFastFailure(store);
    await store.close();
  });

  it('recovers when Redis comes up, without replaying the calls that failed', async () => {
    const port = await freePort();
    const store = redisStore({ url: `redis://127.0.0.1:${port}` });
    const key = freshKey();
    await expectFastFailure(store, key);
    const server = await startRedis(port);
    try {
      let granted = 0;
      for (let attempt = 0; attempt < 50 && granted === 0; attempt++) {
        granted = await store.reserve(request(key)).then((r) => r.grantedUsd, () => 0);
        if (granted === 0) await sleep(50);
      }
      expect(granted).toBe(0.4);
      expect(await store.window(key, 60_000)).toEqual({ spentUsd: 0, reservedUsd: 0.4 });
    } finally {
      await store.close();
      await server.stop();
    }
  });

  it('rejects with BudgetStoreError within its reply deadline once the server is gone, and after close()', async () => {
    const server = await startRedis();
    // Long enough for the first reserve on a loaded machine, short enough to fail fast after.
    const store = redisStore({ url: server.url, timeoutMs: 2_000 });
    expect((await store.reserve(request(freshKey()))).grantedUsd).toBe(0.4);
    await server.stop();
    await expectFastFailure(store);
    await expectFastFailure(store);
    await store.close();
    await expect(store.window(freshKey(), 1_000)).rejects.toBeInstanceOf(BudgetStoreError);
  });
});

describe('sqlite store', () => {
  it('keeps 2 processes sharing one file within one window, refusing some', { timeout: 120_000 }, async () => {
    const path = freshFile();
    const key = freshKey();
    const limitUsd = 1.5;
    const config: WorkerConfig = {
      mode: 'fleet', url: '', sqlite: path, key, limitUsd, maxUsd: 0.05, minUsd: 0.01,
      windowMs: 60_000, ttlMs: 30_000, runs: 25, cycles: 4,
    };
    const workers = Array.from({ length: 2 }, () => startWorker(config));
    for (const w of workers) expect(await w.nextLine()).toBe('ready');
    const startAt = Date.now() + 500;
    for (const w of workers) w.child.stdin?.end(`go ${startAt}\n`);
    const reports = await Promise.all(workers.map(async (w) => JSON.parse(await w.nextLine()) as FleetReport));
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);

    const store = sqliteStore({ path });
    const state = await store.window(key, 60_000);
    await store.close();
    const settledNanos = reports.reduce((sum, r) => sum + r.settledNanos, 0);
    expect(state.reservedUsd).toBe(0);
    expect(Math.round(state.spentUsd * 1e9)).toBe(settledNanos);
    expect(settledNanos).toBeLessThanOrEqual(limitUsd * 1e9);
    expect(reports.reduce((sum, r) => sum + r.refusals, 0)).toBeGreaterThan(0);
    // Both processes reserved from the one file (their opening reservations, before the race).
    expect(reports.map((r) => r.openingUsd)).toEqual([0.05, 0.05]);
  });

  it('creates its file and directory on first use, in WAL mode, with its schema version recorded', async () => {
    const path = join(dir, randomUUID(), 'nested', 'state.db');
    const store = sqliteStore({ path });
    expect(existsSync(path)).toBe(false);
    await store.window(freshKey(), 1_000);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const versions = db.prepare('SELECT version FROM tracebound_migrations ORDER BY version').pluck().all();
      expect(versions).toEqual(Array.from({ length: SQLITE_SCHEMA_VERSION }, (_, i) => i + 1));
    } finally {
      db.close();
    }
  });

  it('migrates a file an earlier release wrote (schema version 1), keeping its conversations', async () => {
    const path = freshFile();
    const old = new Database(path);
    old.exec('CREATE TABLE tracebound_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    old.exec(MIGRATIONS[0] as string);
    old.prepare('INSERT INTO tracebound_migrations VALUES (1, 0)').run();
    old.prepare("INSERT INTO conversations VALUES ('c-old', 'chat', 1, 0, 0)").run();
    old.prepare("INSERT INTO conversation_messages VALUES ('c-old', 0, ?)").run(JSON.stringify({ role: 'user', content: 'hi' }));
    old.close();
    const store = sqliteStore({ path });
    expect(await store.conversations.get('c-old')).toMatchObject({ agent: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM tracebound_migrations ORDER BY version').pluck().all()).toEqual([1, 2, 3]);
      expect(db.prepare("SELECT name FROM pragma_table_info('conversations')").pluck().all()).toContain('expires_at');
    } finally {
      db.close();
    }
  });

  it('refuses a file whose schema a newer release wrote, saying to upgrade', async () => {
    const path = freshFile();
    const first = sqliteStore({ path });
    await first.window(freshKey(), 1_000);
    await first.close();
    const db = new Database(path);
    db.prepare('INSERT INTO tracebound_migrations (version, applied_at) VALUES (?, ?)').run(SQLITE_SCHEMA_VERSION + 1, Date.now());
    db.close();
    const store = sqliteStore({ path });
    const error = await store.conversations.get('c').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ store: 'sqlite', kind: 'store_unavailable' });
    expect((error as Error).message).toContain('upgrade tracebound');
    await store.close();
  });

  it('gives typed errors naming the file and what to do when it is not a database', async () => {
    const path = freshFile();
    writeFileSync(path, 'this is a trace, not a database\n'.repeat(200));
    const store = sqliteStore({ path });
    const spend = await store.reserve(request(freshKey())).catch((e: unknown) => e);
    expect(spend).toBeInstanceOf(BudgetStoreError);
    expect(spend).toMatchObject({ store: 'sqlite', kind: 'budget_store_unavailable' });
    expect((spend as Error).message).toContain(path);
    expect((spend as Error).message).toContain('move it away');
    const conversation = await store.conversations.get('c').catch((e: unknown) => e);
    expect(conversation).toBeInstanceOf(StoreError);
    expect(conversation).not.toBeInstanceOf(BudgetStoreError);
    expect((conversation as Error).message).toContain('move it away');
    await store.close();
    await expect(store.window(freshKey(), 1_000)).rejects.toThrow(/closed/);
  });
});
