/**
 * The conversations of every store against one contract (src/state/store.ts): memory, SQLite in
 * a temp file and Redis over a real redis-server. Leases, one-write turns, listing, deletion, and
 * Redis going away.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '../../src/messages.js';
import { BudgetStoreError, StoreError } from '../../src/state/errors.js';
import { memoryStore } from '../../src/state/memory.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import type { Store } from '../../src/state/store.js';
import { freePort, LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { HELD_MS, storeClock, type StoreClock } from '../support/store-clock.js';

let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'tracebound-conversations-'));
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Each store, on the clock its leases and times to live run on (see store-clock.ts). */
const stores: [string, (clock: StoreClock) => Store][] = [
  ['memory', (clock) => memoryStore({ now: clock.now })],
  ['sqlite', () => sqliteStore({ path: join(dir, `${randomUUID()}.db`) })],
  ['redis', () => redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS })],
];

/** A turn with every kind of message field, to check they come back as they went in. */
const TURN: Message[] = [
  { role: 'user', content: 'Add 1 and 2, then say hi.' },
  {
    role: 'assistant',
    content: '',
    toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }],
    reasoning: [{ text: 'adding', signature: 'sig' }],
  },
  { role: 'tool', toolCallId: 'call_1', toolName: 'add', content: '3' },
  { role: 'tool', toolCallId: 'call_2', toolName: 'missing', content: 'Error: unknown tool', isError: true },
  { role: 'assistant', content: 'It is 3. Hi! — ünïcödé' },
];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.each(stores)('%s store: conversations', (name, make) => {
  let clock: StoreClock;
  let store: Store;
  let id: string;
  let agentName: string;

  beforeEach(() => {
    clock = storeClock(name);
    store = make(clock);
    id = `conv-${randomUUID()}`;
    agentName = `agent-${randomUUID()}`;
  });

  afterEach(async () => {
    await store.close();
    vi.restoreAllMocks();
  });

  const lease = (owner: string, ttlMs = 10_000) => ({ owner, ttlMs });

  it('names itself', () => {
    expect(store.name).toBe(name);
  });

  it('starts empty, saves a turn in one write, and reads it back exactly', async () => {
    expect(await store.conversations.get(id)).toBeUndefined();
    expect(await store.conversations.acquire(id, lease('a'))).toEqual({ held: true, conversation: undefined });
    expect(await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN })).toBe(true);
    const saved = await store.conversations.get(id);
    expect(saved).toMatchObject({ id, agent: agentName, messages: TURN });
    expect(saved?.createdAt).toMatch(ISO);
    expect(saved?.updatedAt).toMatch(ISO);

    const second: Message[] = [{ role: 'user', content: 'again' }, { role: 'assistant', content: 'sure' }];
    const got = await store.conversations.acquire(id, lease('b'));
    expect(got).toEqual({ held: true, conversation: saved });
    expect(await store.conversations.append(id, { owner: 'b', agent: 'someone-else', messages: second })).toBe(true);
    const after = await store.conversations.get(id);
    expect(after?.messages).toEqual([...TURN, ...second]);
    expect(after?.agent).toBe(agentName);
    expect(after?.createdAt).toBe(saved?.createdAt);
    expect(Date.parse(after?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(saved?.updatedAt ?? ''));
  });

  it('lets one owner hold a conversation at a time, until it saves or releases', async () => {
    expect((await store.conversations.acquire(id, lease('a'))).held).toBe(true);
    expect(await store.conversations.acquire(id, lease('b'))).toEqual({ held: false });
    // The holder may take it again (a retried acquire), the other still not.
    expect((await store.conversations.acquire(id, lease('a'))).held).toBe(true);
    expect(await store.conversations.append(id, { owner: 'b', agent: agentName, messages: TURN })).toBe(false);
    expect(await store.conversations.get(id)).toBeUndefined();
    await store.conversations.release(id, 'b');
    expect(await store.conversations.acquire(id, lease('b'))).toEqual({ held: false });
    await store.conversations.release(id, 'a');
    expect((await store.conversations.acquire(id, lease('b'))).held).toBe(true);
    expect(await store.conversations.get(id)).toBeUndefined();
  });

  it('lets a lease that is not renewed lapse (a crashed process), and renews one that is', async () => {
    expect((await store.conversations.acquire(id, lease('crashed', HELD_MS))).held).toBe(true);
    await clock.pass(HELD_MS + 100);
    expect((await store.conversations.acquire(id, lease('b', HELD_MS))).held).toBe(true);
    // The lapsed holder can no longer save or renew.
    expect(await store.conversations.renew(id, lease('crashed', 10_000))).toBe(false);
    expect(await store.conversations.append(id, { owner: 'crashed', agent: agentName, messages: TURN })).toBe(false);
    expect(await store.conversations.renew(id, lease('b', 10_000))).toBe(true);
    // Past b's first lease: only the renewal keeps it.
    await clock.pass(HELD_MS + 100);
    expect(await store.conversations.acquire(id, lease('c'))).toEqual({ held: false });
    expect(await store.conversations.append(id, { owner: 'b', agent: agentName, messages: TURN })).toBe(true);
  });

  it('lists conversations most recently updated first, by agent, up to a limit', async () => {
    const ids = [`${id}-1`, `${id}-2`, `${id}-3`];
    for (const c of ids) {
      await store.conversations.acquire(c, lease('a'));
      await store.conversations.append(c, { owner: 'a', agent: agentName, messages: TURN.slice(0, 1) });
      await sleep(5);
    }
    await store.conversations.acquire(`${id}-other`, lease('a'));
    await store.conversations.append(`${id}-other`, { owner: 'a', agent: `${agentName}-other`, messages: TURN });
    const listed = await store.conversations.list({ agent: agentName });
    expect(listed.map((c) => c.id)).toEqual([...ids].reverse());
    expect(listed[0]).toMatchObject({ agent: agentName, messages: 1 });
    expect(listed[0]?.updatedAt).toMatch(ISO);
    expect((await store.conversations.list({ agent: agentName, limit: 2 })).map((c) => c.id)).toEqual([ids[2], ids[1]]);
    expect((await store.conversations.list()).map((c) => c.id)).toContain(`${id}-other`);
  });

  it('forgets a deleted conversation: every message, and its listing', async () => {
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN });
    expect(await store.conversations.delete(id)).toBe(true);
    expect(await store.conversations.get(id)).toBeUndefined();
    expect(await store.conversations.list({ agent: agentName })).toEqual([]);
    expect(await store.conversations.delete(id)).toBe(false);
    expect(await store.conversations.acquire(id, lease('b'))).toEqual({ held: true, conversation: undefined });
  });

  it('drops the oldest messages in the same write as a turn (retention by count)', async () => {
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN });
    await store.conversations.acquire(id, lease('a'));
    const next: Message[] = [{ role: 'user', content: 'next' }, { role: 'assistant', content: 'ok' }];
    expect(await store.conversations.append(id, { owner: 'a', agent: agentName, messages: next, drop: 3 })).toBe(true);
    const kept = [...TURN.slice(3), ...next];
    expect((await store.conversations.get(id))?.messages).toEqual(kept);
    expect((await store.conversations.list({ agent: agentName }))[0]?.messages).toBe(kept.length);
    // Later turns append after what was kept.
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: [{ role: 'user', content: 'last' }] });
    expect((await store.conversations.get(id))?.messages).toEqual([...kept, { role: 'user', content: 'last' }]);
  });

  it('keeps a summary with the conversation, replaced by a newer one, its covers lowered by a drop', async () => {
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN });
    expect((await store.conversations.get(id))?.summary).toBeUndefined();
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN.slice(0, 1), summary: { content: 'S1: ünï', covers: 5 } });
    expect((await store.conversations.get(id))?.summary).toEqual({ content: 'S1: ünï', covers: 5 });
    const got = await store.conversations.acquire(id, lease('a'));
    expect(got.held && got.conversation?.summary).toEqual({ content: 'S1: ünï', covers: 5 });
    // A turn without a summary keeps the stored one; a drop shifts what it covers.
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN.slice(0, 1), drop: 2 });
    expect((await store.conversations.get(id))?.summary).toEqual({ content: 'S1: ünï', covers: 3 });
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN.slice(0, 1), summary: { content: 'S2', covers: 6 } });
    expect((await store.conversations.get(id))?.summary).toEqual({ content: 'S2', covers: 6 });
  });

  it('forgets a conversation past its time to live, unless a turn came first (retention by time)', async () => {
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN, ttlMs: 2000 });
    await clock.pass(1000);
    expect((await store.conversations.get(id))?.messages).toEqual(TURN);
    await store.conversations.acquire(id, lease('a'));
    await store.conversations.append(id, { owner: 'a', agent: agentName, messages: TURN.slice(0, 1), ttlMs: 2000 });
    await clock.pass(1200);
    // 2.2 s after the first turn, 1.2 s after the second: still there. The margins are wide
    // because Redis keeps time on its own clock, and a loaded CI machine oversleeps by hundreds
    // of ms.
    expect((await store.conversations.get(id))?.messages).toHaveLength(TURN.length + 1);
    await clock.pass(1000);
    expect(await store.conversations.get(id)).toBeUndefined();
    expect(await store.conversations.list({ agent: agentName })).toEqual([]);
    expect(await store.conversations.acquire(id, lease('b'))).toEqual({ held: true, conversation: undefined });
    await store.conversations.append(id, { owner: 'b', agent: agentName, messages: TURN.slice(0, 1) });
    expect((await store.conversations.get(id))?.messages).toEqual(TURN.slice(0, 1));
  });

  it('keeps ids apart that a naive key scheme would mix up', async () => {
    for (const c of [id, `${id}:messages`, `${id}:lease`]) {
      expect((await store.conversations.acquire(c, lease('a'))).held).toBe(true);
      await store.conversations.append(c, { owner: 'a', agent: agentName, messages: [{ role: 'user', content: c }] });
    }
    expect((await store.conversations.get(id))?.messages).toEqual([{ role: 'user', content: id }]);
    expect((await store.conversations.get(`${id}:messages`))?.messages).toEqual([{ role: 'user', content: `${id}:messages` }]);
  });
});

describe('redis store: conversations while Redis is down', () => {
  it('fails with StoreError (not a budget error) naming the store and what to do', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const store = redisStore({ url, timeoutMs: 300 });
    const error = await store.conversations.acquire('c', { owner: 'a', ttlMs: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(BudgetStoreError);
    expect(error).toMatchObject({ store: 'redis', kind: 'store_unavailable' });
    expect((error as Error).message).toContain(url);
    await store.close();
  });
});
