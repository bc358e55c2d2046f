/**
 * The durable runs of every store against one contract (src/state/store.ts, `RunStore`): memory,
 * SQLite in a temp file and Redis over a real redis-server. Leases (claim, renew, save, loss and
 * lapse), listing, cancel requests, the event log (order, `after`, backlog then live without gap
 * or duplicate, bounds, retention) and close(). For SQLite and Redis a second store instance on
 * the same file / server stands for a second process.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ModelCallError } from '../../src/providers/errors.js';
import type { RunEvent } from '../../src/runtime/events.js';
import type { RunEventEntry } from '../../src/runtime/runs.js';
import { registerSecret, SECRET_MASK } from '../../src/secrets.js';
import Database from 'better-sqlite3';
import { StoreError } from '../../src/state/errors.js';
import { memoryStore } from '../../src/state/memory.js';
import type { RunStoreOptions } from '../../src/state/run-store.js';
import { MIGRATIONS, sqliteStore } from '../../src/state/sqlite.js';
import { sqliteTrimBatch } from '../../src/state/sqlite-runs.js';
import type { Store } from '../../src/state/store.js';
import { redisStore } from '../../src/state/redis.js';
import { freePort, LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { runRecord } from '../support/run-record.js';
import { HELD_MS, storeClock, type StoreClock } from '../support/store-clock.js';

let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'tracebound-runs-'));
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Makes stores on one fresh place (a file, a key prefix): two of them share their runs as two processes would. */
type Place = (options?: RunStoreOptions) => Store;

/** A test's place and the clock its stores' leases and times to live run on. */
type Kind = (clock: StoreClock) => Place;

/** A SQLite file no test has used yet. */
const freshFile = () => join(dir, `${randomUUID()}.db`);

const kinds: [string, Kind][] = [
  ['memory', (clock) => (options) => memoryStore({ now: clock.now, ...options })],
  [
    'sqlite',
    () => {
      const path = freshFile();
      // A short poll keeps the cross-process tests quick.
      return (options) => sqliteStore({ path, runEventPollMs: 20, ...options });
    },
  ],
  [
    'redis',
    () => {
      const prefix = `t-${randomUUID()}:`;
      return (options) => redisStore({ url: redis.url, prefix, timeoutMs: LOADED_REPLY_TIMEOUT_MS, ...options });
    },
  ],
];

/** Stores made by the running test, closed after it. */
const opened: Store[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  vi.restoreAllMocks();
});

const delta = (i: number): RunEvent => ({ type: 'text-delta', step: 1, text: `t${i}` });

/** What a subscription got, and a wait for the first `n` of it. */
function collect(store: Store, runId: string, after?: string) {
  const entries: RunEventEntry[] = [];
  const off = store.runs.subscribe(runId, (entry) => entries.push(entry), after);
  return {
    entries,
    off,
    texts: () => entries.map((e) => (e.event.type === 'text-delta' ? e.event.text : e.event.type)),
    async until(n: number) {
      while (entries.length < n) await sleep(5);
    },
  };
}

describe.each(kinds)('%s store: durable runs', (name, place) => {
  let clock: StoreClock;
  let open: Place;
  let store: Store;
  let runId: string;
  let agentName: string;

  beforeEach(() => {
    clock = storeClock(name);
    const at = place(clock);
    open = (options) => {
      const s = at(options);
      opened.push(s);
      return s;
    };
    store = open();
    runId = `run-${randomUUID()}`;
    agentName = `agent-${randomUUID()}`;
  });

  const lease = (owner: string, ttlMs = 10_000) => ({ owner, ttlMs });

  it('claims an unknown run, saves checkpoints only while holding its lease, and reads them back exactly', async () => {
    expect(await store.runs.get(runId)).toBeUndefined();
    expect(await store.runs.claim(runId, lease('a'))).toEqual({ held: true, record: undefined });
    const record = runRecord(runId, agentName, { conversationId: 'c-1' });
    expect(await store.runs.save(record, lease('a'))).toBe(true);
    expect(await store.runs.get(runId)).toEqual({ ...record, leaseExpired: false });
    // Another owner sees who holds it and may not write; the holder may claim again (a retry).
    expect(await store.runs.claim(runId, lease('b'))).toEqual({ held: false, record });
    expect(await store.runs.save({ ...record, step: 99 }, lease('b'))).toBe(false);
    expect(await store.runs.renew(runId, lease('b'))).toEqual({ held: false, cancelRequested: false });
    expect(await store.runs.claim(runId, lease('a'))).toEqual({ held: true, record });
    const next = runRecord(runId, agentName, { step: 11, createdAt: record.createdAt, updatedAt: record.updatedAt + 1 });
    expect(await store.runs.save(next, lease('a'))).toBe(true);
    expect((await store.runs.get(runId))?.step).toBe(11);
  });

  it('releases the lease when a save ends the run (or interrupts it), so another process may claim it', async () => {
    await store.runs.claim(runId, lease('a'));
    const record = runRecord(runId, agentName);
    await store.runs.save(record, lease('a'));
    const interrupted = {
      ...record,
      status: 'interrupted' as const,
      interruptions: [{ kind: 'tool_approval' as const, toolCallId: 'call_9', toolName: 'refund', arguments: { orderId: 4711 } }],
    };
    expect(await store.runs.save(interrupted, lease('a'))).toBe(true);
    expect(await store.runs.renew(runId, lease('a'))).toEqual({ held: false, cancelRequested: false });
    expect(await store.runs.save(record, lease('a'))).toBe(false);
    expect(await store.runs.get(runId)).toEqual({ ...interrupted, leaseExpired: false });
    // Approved: a process resumes it and completes it.
    expect(await store.runs.claim(runId, lease('b'))).toEqual({ held: true, record: interrupted });
    const completed = { ...record, status: 'completed' as const, step: 12, interruptions: undefined };
    delete completed.interruptions;
    expect(await store.runs.save(completed, lease('b'))).toBe(true);
    expect(await store.runs.get(runId)).toEqual({ ...completed, leaseExpired: false });
    expect((await store.runs.claim(runId, lease('c'))).held).toBe(true);
  });

  it('lets a lease that is not renewed lapse (a dead process), and keeps one that is', async () => {
    await store.runs.claim(runId, lease('dead', HELD_MS));
    const record = runRecord(runId, agentName);
    expect(await store.runs.save(record, lease('dead', HELD_MS))).toBe(true);
    await clock.pass(HELD_MS + 100);
    expect(await store.runs.get(runId)).toEqual({ ...record, leaseExpired: true });
    expect((await store.runs.list({ agent: agentName }))[0]?.leaseExpired).toBe(true);
    expect(await store.runs.claim(runId, lease('b', HELD_MS))).toEqual({ held: true, record });
    // The lapsed holder can no longer write or renew.
    expect(await store.runs.save({ ...record, step: 99 }, lease('dead'))).toBe(false);
    expect((await store.runs.renew(runId, lease('dead'))).held).toBe(false);
    expect((await store.runs.get(runId))?.leaseExpired).toBe(false);
    expect(await store.runs.renew(runId, lease('b', 10_000))).toEqual({ held: true, cancelRequested: false });
    // Past b's first lease: only the renewal keeps it.
    await clock.pass(HELD_MS + 100);
    expect(await store.runs.claim(runId, lease('c'))).toEqual({ held: false, record });
    expect(await store.runs.save({ ...record, step: 12 }, lease('b'))).toBe(true);
    expect((await store.runs.get(runId))?.step).toBe(12);
  });

  it('lists runs most recently updated first, by agent and status, up to a limit', async () => {
    const at = Date.now();
    const statuses = ['running', 'completed', 'failed', 'interrupted', 'completed'] as const;
    const ids = statuses.map((_, i) => `${runId}-${i}`);
    for (const [i, id] of ids.entries()) {
      await store.runs.claim(id, lease('a'));
      await store.runs.save(runRecord(id, agentName, { status: statuses[i], updatedAt: at + i * 1_000 }), lease('a'));
    }
    await store.runs.claim(`${runId}-other`, lease('a'));
    await store.runs.save(runRecord(`${runId}-other`, `${agentName}-other`, { updatedAt: at + 10_000 }), lease('a'));

    const listed = await store.runs.list({ agent: agentName });
    expect(listed.map((r) => r.runId)).toEqual([...ids].reverse());
    expect(listed[4]).toEqual({ ...runRecord(ids[0] as string, agentName, { updatedAt: at, createdAt: listed[4]?.createdAt }), leaseExpired: false });
    expect((await store.runs.list({ agent: agentName, status: 'completed' })).map((r) => r.runId)).toEqual([ids[4], ids[1]]);
    expect((await store.runs.list({ agent: agentName, limit: 2 })).map((r) => r.runId)).toEqual([ids[4], ids[3]]);
    expect((await store.runs.list({ agent: agentName, status: 'failed', limit: 5 })).map((r) => r.runId)).toEqual([ids[2]]);
    expect((await store.runs.list()).map((r) => r.runId)).toContain(`${runId}-other`);
  });

  it('takes a cancel request for a live run: the flag reaches the heartbeat, the notice every listener', async () => {
    const heard: string[] = [];
    const off = store.runs.onCancel((id) => heard.push(id));
    const other: string[] = [];
    store.runs.onCancel((id) => other.push(id));
    expect(await store.runs.requestCancel(runId)).toBe(false);
    await store.runs.claim(runId, lease('a'));
    const record = runRecord(runId, agentName);
    await store.runs.save(record, lease('a'));
    expect(await store.runs.requestCancel(runId)).toBe(true);
    while (heard.length === 0 || other.length === 0) await sleep(5);
    expect(heard).toEqual([runId]);
    expect(other).toEqual([runId]);
    expect(await store.runs.renew(runId, lease('a'))).toEqual({ held: true, cancelRequested: true });
    // A checkpoint keeps the request; the run's end clears it and takes no more.
    await store.runs.save({ ...record, step: 11 }, lease('a'));
    expect(await store.runs.renew(runId, lease('a'))).toEqual({ held: true, cancelRequested: true });
    off();
    await store.runs.save({ ...record, status: 'failed', error: { type: 'aborted', message: 'cancelled', stopReason: 'aborted' } }, lease('a'));
    expect(await store.runs.requestCancel(runId)).toBe(false);
    expect(await store.runs.renew(runId, lease('a'))).toEqual({ held: false, cancelRequested: false });
    // After `off()` only the other listener hears a new request.
    const second = `${runId}-2`;
    await store.runs.claim(second, lease('a'));
    await store.runs.save(runRecord(second, agentName), lease('a'));
    expect(await store.runs.requestCancel(second)).toBe(true);
    while (other.length < 2) await sleep(5);
    await sleep(50);
    expect(heard).toEqual([runId]);
    expect(other).toEqual([runId, second]);
  });

  it('logs events in order with increasing ids, and delivers those after `after`', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await store.runs.appendEvent(runId, delta(i)));
    const all = collect(store, runId);
    await all.until(5);
    expect(all.entries.map((e) => e.id)).toEqual(ids);
    expect(all.texts()).toEqual(['t0', 't1', 't2', 't3', 't4']);
    const later = collect(store, runId, ids[2]);
    await later.until(2);
    expect(later.texts()).toEqual(['t3', 't4']);
    // An id this store never made (a stale or foreign Last-Event-ID) replays the whole log: a
    // duplicate is the safe side, a gap is not.
    const foreign = collect(store, runId, 'not-an-event-id');
    await foreign.until(5);
    expect(foreign.entries.map((e) => e.id)).toEqual(ids);
    foreign.off();
    // Then each new event, to both, once.
    ids.push(await store.runs.appendEvent(runId, delta(5)));
    await all.until(6);
    await later.until(3);
    expect(all.texts()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5']);
    expect(later.entries.map((e) => e.id)).toEqual(ids.slice(3));
    // Another run's events are not this run's.
    await store.runs.appendEvent(`${runId}-other`, delta(99));
    await store.runs.appendEvent(runId, delta(6));
    await all.until(7);
    expect(all.texts()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
    all.off();
    later.off();
  });

  it('writes an error in an event as { type, message }, its secrets masked', async () => {
    const secret = `sk-test-${randomUUID()}`;
    registerSecret(secret);
    const error = new ModelCallError(`rate limited for key ${secret}`, { kind: 'rate_limit', provider: 'openai', status: 429 });
    await store.runs.appendEvent(runId, { type: 'retry', step: 2, attempt: 1, delayMs: 500, error });
    const got = collect(store, runId);
    await got.until(1);
    expect(got.entries[0]?.event).toEqual({
      type: 'retry',
      step: 2,
      attempt: 1,
      delayMs: 500,
      error: { type: 'rate_limit', message: `rate limited for key ${SECRET_MASK}` },
    });
    got.off();
  });

  it('delivers the backlog then live events without a gap or a duplicate, under concurrent appends', async () => {
    const total = 300;
    const appends: Array<string | Promise<string>> = [];
    for (let i = 0; i < total; i++) {
      appends.push(store.runs.appendEvent(runId, delta(i)));
      if (i === 100) await appends[50];
    }
    // Subscribers join while appends are in flight: before, in the middle, at the end.
    const early = collect(store, runId);
    await appends[150];
    const middle = collect(store, runId);
    const ids = await Promise.all(appends);
    const late = collect(store, runId);
    for (const sub of [early, middle, late]) {
      await sub.until(total);
      await sleep(20);
      expect(sub.entries.map((e) => e.id)).toEqual(ids);
      sub.off();
    }
    const sorted = [...ids].sort((a, b) => (compareIds(a, b)));
    expect(sorted).toEqual(ids);
    expect(new Set(ids).size).toBe(total);
  });

  it('stops delivering once unsubscribed, even inside a delivery', async () => {
    const got: string[] = [];
    const off = store.runs.subscribe(runId, (entry) => {
      got.push(entry.id);
      off();
    });
    await store.runs.appendEvent(runId, delta(0));
    await store.runs.appendEvent(runId, delta(1));
    while (got.length === 0) await sleep(5);
    await sleep(50);
    expect(got).toHaveLength(1);
  });

  it.each([10, 50])('keeps about maxRunEvents (%i) events of a run, the newest', async (max) => {
    const bounded = open({ maxRunEvents: max });
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) ids.push(await bounded.runs.appendEvent(runId, delta(i)));
    const got = collect(bounded, runId);
    await got.until(max);
    await sleep(50);
    const kept = got.entries.map((e) => e.id);
    // Memory is exact; SQLite trims in batches of a tenth; Redis approximately (`MAXLEN ~`,
    // whole stream nodes of 100 entries).
    const most = { memory: max, sqlite: max + sqliteTrimBatch(max) - 1, redis: max + 100 }[name as 'memory'];
    expect(kept.length).toBeGreaterThanOrEqual(max);
    expect(kept.length).toBeLessThanOrEqual(most);
    expect(kept).toEqual(ids.slice(ids.length - kept.length));
    got.off();
  });

  it('forgets a run\'s event log once runEventTtlMs passed without an append', async () => {
    const ttlMs = 2_000;
    const brief = open({ runEventTtlMs: ttlMs });
    await brief.runs.appendEvent(runId, delta(0));
    await clock.pass(ttlMs / 2 + 100);
    await brief.runs.appendEvent(runId, delta(1));
    await clock.pass(ttlMs / 2);
    // Past the time to live since the first append, within it since the last: all kept.
    const kept = collect(brief, runId);
    await kept.until(2);
    kept.off();
    await clock.pass(ttlMs / 2 + 100);
    const gone = collect(brief, runId);
    await sleep(50);
    expect(gone.entries).toEqual([]);
    await brief.runs.appendEvent(runId, delta(2));
    await gone.until(1);
    expect(gone.texts()).toEqual(['t2']);
    gone.off();
  });

  it('ends subscriptions and cancel listeners on close()', async () => {
    const own = open();
    const got = collect(own, runId);
    const heard: string[] = [];
    own.runs.onCancel((id) => heard.push(id));
    await own.runs.appendEvent(runId, delta(0));
    await got.until(1);
    await own.close();
    await sleep(50);
    expect(got.entries).toHaveLength(1);
    expect(heard).toEqual([]);
  });
});

/** The stores whose instances share their runs, as processes sharing a file or a server would. */
const shared = kinds.filter(([name]) => name !== 'memory');

describe.each(shared)('%s store: durable runs across two processes', (name, place) => {
  let clock: StoreClock;
  let first: Store;
  let second: Store;
  let runId: string;

  beforeEach(() => {
    clock = storeClock(name);
    const at = place(clock);
    [first, second] = [at(), at()];
    opened.push(first, second);
    runId = `run-${randomUUID()}`;
  });

  const lease = (owner: string, ttlMs = 10_000) => ({ owner, ttlMs });

  it('lets one process hold a run, the other take it over once its lease lapsed', async () => {
    expect((await first.runs.claim(runId, lease('p1', HELD_MS))).held).toBe(true);
    const record = runRecord(runId, 'support');
    expect(await first.runs.save(record, lease('p1', HELD_MS))).toBe(true);
    expect(await second.runs.claim(runId, lease('p2'))).toEqual({ held: false, record });
    expect(await second.runs.get(runId)).toEqual({ ...record, leaseExpired: false });
    await clock.pass(HELD_MS + 100);
    expect((await second.runs.list({ agent: 'support', status: 'running' })).find((r) => r.runId === runId)?.leaseExpired).toBe(true);
    expect(await second.runs.claim(runId, lease('p2'))).toEqual({ held: true, record });
    expect(await first.runs.save({ ...record, step: 99 }, lease('p1'))).toBe(false);
    expect(await second.runs.save({ ...record, step: 11 }, lease('p2'))).toBe(true);
    expect((await first.runs.get(runId))?.step).toBe(11);
  });

  it('carries a cancel request to the process running the run', async () => {
    const heardByRunner: string[] = [];
    const heardByRequester: string[] = [];
    first.runs.onCancel((id) => heardByRunner.push(id));
    second.runs.onCancel((id) => heardByRequester.push(id));
    await first.runs.claim(runId, lease('p1'));
    await first.runs.save(runRecord(runId, 'support'), lease('p1'));
    expect(await second.runs.requestCancel(runId)).toBe(true);
    // The heartbeat reads the flag in every store.
    expect(await first.runs.renew(runId, lease('p1'))).toEqual({ held: true, cancelRequested: true });
    while (heardByRequester.length === 0) await sleep(5);
    if (name === 'redis') {
      // Redis also tells the other process's listeners at once (pub/sub).
      while (heardByRunner.length === 0) await sleep(5);
      expect(heardByRunner).toEqual([runId]);
    } else {
      await sleep(50);
      expect(heardByRunner).toEqual([]);
    }
    expect(heardByRequester).toEqual([runId]);
  });

  it("delivers one process's events to another's subscribers, backlog then live, none missing or twice", async () => {
    const total = 200;
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await first.runs.appendEvent(runId, delta(i)));
    const before = collect(second, runId);
    const appending = (async () => {
      for (let i = 50; i < total; i++) ids.push(await first.runs.appendEvent(runId, delta(i)));
    })();
    await sleep(10);
    const during = collect(second, runId, ids[9]);
    await appending;
    await before.until(total);
    await during.until(total - 10);
    await sleep(50);
    expect(before.entries.map((e) => e.id)).toEqual(ids);
    expect(during.entries.map((e) => e.id)).toEqual(ids.slice(10));
    expect(before.texts()).toEqual(Array.from({ length: total }, (_, i) => `t${i}`));
    before.off();
    during.off();
  });

  it('stops delivering to a closed store', async () => {
    const got = collect(second, runId);
    await first.runs.appendEvent(runId, delta(0));
    await got.until(1);
    await second.close();
    await first.runs.appendEvent(runId, delta(1));
    await sleep(100);
    expect(got.texts()).toEqual(['t0']);
    await expect(second.runs.get(runId)).rejects.toBeInstanceOf(StoreError);
  });
});

describe('sqlite store: durable runs in an existing file', () => {
  it('migrates a file of schema version 2, keeping its conversations, and runs in it', async () => {
    const path = freshFile();
    const old = new Database(path);
    old.exec('CREATE TABLE tracebound_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    old.exec(MIGRATIONS[0] as string);
    old.exec(MIGRATIONS[1] as string);
    old.prepare('INSERT INTO tracebound_migrations VALUES (1, 0), (2, 0)').run();
    old.prepare("INSERT INTO conversations (id, agent, messages, created_at, updated_at) VALUES ('c-old', 'chat', 1, 0, 0)").run();
    old.prepare("INSERT INTO conversation_messages VALUES ('c-old', 0, ?)").run(JSON.stringify({ role: 'user', content: 'hi' }));
    old.close();
    const store = sqliteStore({ path });
    opened.push(store);
    const runId = `run-${randomUUID()}`;
    expect(await store.runs.claim(runId, { owner: 'a', ttlMs: 10_000 })).toEqual({ held: true, record: undefined });
    expect(await store.runs.save(runRecord(runId, 'chat'), { owner: 'a', ttlMs: 10_000 })).toBe(true);
    expect(await store.conversations.get('c-old')).toMatchObject({ agent: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare('SELECT version FROM tracebound_migrations ORDER BY version').pluck().all()).toEqual([1, 2, 3]);
      expect(db.prepare('SELECT run_id FROM runs').pluck().all()).toEqual([runId]);
    } finally {
      db.close();
    }
  });

  it('fails with StoreError when the file is not a database (its writes throw it at once); a subscription reports through onError', async () => {
    const path = freshFile();
    writeFileSync(path, 'this is a trace, not a database\n'.repeat(200));
    const errors: unknown[] = [];
    const store = sqliteStore({ path, onError: (e) => errors.push(e) });
    opened.push(store);
    const failed = await store.runs.get('r').catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StoreError);
    expect(failed).toMatchObject({ store: 'sqlite', kind: 'store_unavailable' });
    expect((failed as Error).message).toContain('move it away');
    expect(() => store.runs.appendEvent('r', delta(0))).toThrow(StoreError);
    const off = store.runs.subscribe('r', () => undefined);
    expect(() => store.runs.onCancel(() => undefined)).not.toThrow();
    while (errors.length === 0) await sleep(5);
    expect(errors[0]).toBeInstanceOf(StoreError);
    off();
  });
});

describe('run stores: close() leaves nothing open', () => {
  const worker = fileURLToPath(new URL('./run-store-exit.ts', import.meta.url));
  /** Long enough for tsx to start on a loaded machine; a process kept alive by a handle never exits. */
  const EXIT_WAIT_MS = 20_000;

  it.each([
    ['memory', () => 'memory'],
    ['sqlite', () => freshFile()],
    ['redis', () => redis.url],
  ])('%s: a process that subscribed, listened and closed its store exits on its own', async (_name, where) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, where()], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), EXIT_WAIT_MS);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(output.trim()).toBe('closed');
    expect(signal).toBeNull();
    expect(code).toBe(0);
  }, 30_000);
});

describe('redis store: durable runs', () => {
  it('forgets an ended run after endedRunTtlMs, and keeps a running one', async () => {
    const prefix = `t-${randomUUID()}:`;
    const store = redisStore({ url: redis.url, prefix, timeoutMs: LOADED_REPLY_TIMEOUT_MS, endedRunTtlMs: HELD_MS });
    opened.push(store);
    const lease = { owner: 'a', ttlMs: 10_000 };
    for (const [runId, status] of [['done', 'completed'], ['live', 'running']] as const) {
      await store.runs.claim(runId, lease);
      await store.runs.save(runRecord(runId, 'support', { status }), lease);
    }
    expect((await store.runs.list()).map((r) => r.runId).sort()).toEqual(['done', 'live']);
    await sleep(HELD_MS + 100);
    expect(await store.runs.get('done')).toBeUndefined();
    expect((await store.runs.list()).map((r) => r.runId)).toEqual(['live']);
    expect((await store.runs.get('live'))?.status).toBe('running');
  });

  it('rejects with StoreError while Redis is down; listener registrations report through onError instead', async () => {
    const port = await freePort();
    const password = `pw-${randomUUID()}`;
    const errors: unknown[] = [];
    const store = redisStore({ url: `redis://:${password}@127.0.0.1:${port}`, timeoutMs: 300, onError: (e) => errors.push(e) });
    opened.push(store);
    for (const attempt of [
      store.runs.claim('r', { owner: 'a', ttlMs: 1_000 }),
      store.runs.list(),
      store.runs.requestCancel('r'),
      store.runs.appendEvent('r', delta(0)),
    ]) {
      const error = await Promise.resolve(attempt).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ store: 'redis', kind: 'store_unavailable' });
      // It names the server, never the URL's password.
      expect((error as Error).message).toContain(`redis://127.0.0.1:${port}`);
      expect((error as Error).message).not.toContain(password);
    }
    let off: (() => void) | undefined;
    expect(() => (off = store.runs.subscribe('r', () => undefined))).not.toThrow();
    expect(() => store.runs.onCancel(() => undefined)).not.toThrow();
    while (errors.length < 2) await sleep(10);
    for (const error of errors) expect(error).toBeInstanceOf(StoreError);
    expect(errors.map((e) => (e as Error).message).join('\n')).not.toContain(password);
    expect(errors.map((e) => (e as Error).message).join('\n')).toMatch(/cancel notice|run event/);
    off?.();
  });
});

/** Orders event ids: integers (memory, SQLite) or Redis stream ids (`ms-seq`). */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
