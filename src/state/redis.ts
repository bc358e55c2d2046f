/**
 * The Redis store: state shared by a fleet. A spend window's reserve, settle and read are each
 * one Lua script (one round trip, atomic on the server), computing exactly what the in-memory
 * store computes, in integer nano-dollars, on Redis's own clock. Conversations are in
 * redis-conversations.ts.
 */
import type { Redis } from 'ioredis';
import { ioredis } from './ioredis.js';
import { storeError, StoreError, type StoreArea } from './errors.js';
import { actualNanos, durationMs, reserveArgs, toUsd } from './memory.js';
import { redisConversations } from './redis-conversations.js';
import { redisRuns, type RedisRunOptions } from './redis-runs.js';
import type { ReserveRequest, ReserveResult, SettleRequest, Store, WindowState } from './store.js';

/** Options of {@link redisStore}; the run store's (event log bounds, ended runs' retention, `onError`) included. */
export interface RedisStoreOptions extends RedisRunOptions {
  /** Where Redis listens, e.g. `redis://host:6379/0`. Default `redis://127.0.0.1:6379`. Ignored with `client`. */
  url?: string;
  /**
   * A client of the caller's, used as is and left open by `close()`. The store defines its scripts
   * on it (`traceboundReserve`, `traceboundSettle`, `traceboundWindow`, `traceboundConversation*`,
   * `traceboundRun*`); run event subscriptions and cancel listeners use connections of the store's
   * own (`client.duplicate()`), which `close()` closes. Create it with
   * `enableOfflineQueue: false` and `maxRetriesPerRequest: 0` as the store's own client is: with
   * ioredis's defaults a call that timed out for its caller stays queued and reaches Redis later.
   */
  client?: Redis;
  /**
   * Prepended verbatim to every key, like ioredis's `keyPrefix`, e.g. to share one Redis between
   * environments. Default none: the request's key (see `spendKey`) is already per agent.
   */
  prefix?: string;
  /**
   * Longest wait for an answer, in ms, connecting included; past it the call rejects with
   * `StoreError` (`BudgetStoreError` for the spend window). Default 500, so a down Redis fails a
   * model call fast rather than stalling it.
   */
  timeoutMs?: number;
}

/*
 * Keys of one window (K = prefix + request key): K is a hash holding the totals (`spent`, `held`)
 * and each entry's amount (`s:<id>` settled, `r:<id>` reserved); K:spent is a zset of settle
 * times by id; K:held a zset of reservation expiries by id. Totals are kept so a call costs
 * O(log n) plus the entries it drops, not a sum over the window. Every write script ends by
 * setting the keys to expire when the window's last spend and reservation would have lapsed.
 */
const PRELUDE = `
local amounts, spentZ, heldZ = KEYS[1], KEYS[2], KEYS[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function drop(zset, max, field, total)
  local ids = redis.call('ZRANGEBYSCORE', zset, '-inf', max)
  if #ids == 0 then return end
  local gone = 0
  for _, id in ipairs(ids) do
    gone = gone + tonumber(redis.call('HGET', amounts, field .. id) or '0')
    redis.call('HDEL', amounts, field .. id)
  end
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', max)
  if gone ~= 0 then redis.call('HINCRBY', amounts, total, -gone) end
end

local function prune(windowMs)
  drop(spentZ, '(' .. (now - windowMs), 's:', 'spent')
  drop(heldZ, now, 'r:', 'held')
  -- an empty zset means a zero total; resetting heals totals left behind by an evicted key
  if redis.call('EXISTS', spentZ) == 0 then redis.call('HDEL', amounts, 'spent') end
  if redis.call('EXISTS', heldZ) == 0 then redis.call('HDEL', amounts, 'held') end
end

local function total(field)
  return tonumber(redis.call('HGET', amounts, field) or '0')
end

local function keep(windowMs)
  local ms = windowMs
  local last = redis.call('ZRANGE', heldZ, -1, -1, 'WITHSCORES')
  if last[2] then ms = math.max(ms, tonumber(last[2]) - now) end
  redis.call('PEXPIRE', amounts, ms)
  redis.call('PEXPIRE', spentZ, ms)
  redis.call('PEXPIRE', heldZ, ms)
end
`;

/** ARGV: id, max, min, limit (nano-dollars), windowMs, ttlMs. Returns {granted, spent, held}. */
const RESERVE = `${PRELUDE}
local id = ARGV[1]
local maxN, minN, limitN = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local windowMs, ttlMs = tonumber(ARGV[5]), tonumber(ARGV[6])
prune(windowMs)
local spent, held = total('spent'), total('held')
local granted = tonumber(redis.call('HGET', amounts, 'r:' .. id) or '-1')
if granted < 0 then
  granted = 0
  local room = limitN - spent - held
  if room >= minN then
    granted = math.min(maxN, room)
    redis.call('ZADD', heldZ, now + ttlMs, id)
    redis.call('HSET', amounts, 'r:' .. id, granted)
    redis.call('HINCRBY', amounts, 'held', granted)
    held = held + granted
  end
end
keep(windowMs)
return {granted, spent, held}
`;

/** ARGV: id, actual (nano-dollars), windowMs. Returns 1 when recorded, 0 when already settled. */
const SETTLE = `${PRELUDE}
local id, actualN, windowMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
prune(windowMs)
if redis.call('ZSCORE', spentZ, id) then return 0 end
local held = redis.call('HGET', amounts, 'r:' .. id)
if held then
  redis.call('HDEL', amounts, 'r:' .. id)
  redis.call('ZREM', heldZ, id)
  redis.call('HINCRBY', amounts, 'held', -tonumber(held))
end
redis.call('ZADD', spentZ, now, id)
redis.call('HSET', amounts, 's:' .. id, actualN)
redis.call('HINCRBY', amounts, 'spent', actualN)
keep(windowMs)
return 1
`;

/** ARGV: windowMs. Returns {spent, held}. */
const WINDOW = `${PRELUDE}
prune(tonumber(ARGV[1]))
return {total('spent'), total('held')}
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

interface Scripts {
  traceboundReserve: Script;
  traceboundSettle: Script;
  traceboundWindow: Script;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_TIMEOUT_MS = 500;

/**
 * A store in Redis (5 or later: the scripts read `TIME` before writing), shared by every process
 * that points at the same server, so a fleet together stays within each agent's spend window and
 * continues each conversation where any of its processes left it.
 * Reserve, settle and window are each one `EVALSHA` (ioredis `defineCommand`; it falls back to
 * `EVAL` once after a server restart flushed the script cache).
 *
 * Semantics are those of `memoryStore`, with Redis's clock instead of the process's, so a fleet
 * with skewed clocks agrees on the window. A reservation whose process crashed stops counting
 * after its `ttlMs`. Each window's keys expire once idle for the window (or the last reservation's
 * TTL, if longer). Amounts are exact up to about $9M per window.
 *
 * Durable runs are in redis-runs.ts: their event subscriptions and cancel listeners each take a
 * connection of their own on first use, so a blocking read never holds up the store's calls.
 *
 * Errors: reserve, settle and window reject with `BudgetStoreError`, the conversations' and runs'
 * methods with `StoreError` (its `cause` is the ioredis error), when Redis cannot be reached, does not
 * answer within `timeoutMs`, or replies with an error (such as WRONGTYPE when the key holds
 * something else); with `RangeError` on malformed amounts or durations. A call that timed out may still have been applied: a reservation then
 * holds its amount until its TTL (the safe side), and a settle retried with the same id counts
 * once.
 */
export function redisStore(options: RedisStoreOptions = {}): Store {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const prefix = options.prefix ?? '';
  const owned = options.client === undefined;
  const client =
    options.client ??
    new (ioredis().Redis)(options.url ?? DEFAULT_URL, {
      // Without a queue a command sent while disconnected fails at once instead of waiting for a
      // reconnect; `ready()` below waits for the first connection, bounded by the timeout.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      lazyConnect: true,
    });
  // Errors reach callers as rejected calls; without a listener ioredis would also log each one.
  if (owned) client.on('error', () => undefined);
  client.defineCommand('traceboundReserve', { numberOfKeys: 3, lua: RESERVE });
  client.defineCommand('traceboundSettle', { numberOfKeys: 3, lua: SETTLE });
  client.defineCommand('traceboundWindow', { numberOfKeys: 3, lua: WINDOW });
  const scripts = client as unknown as Scripts;

  let closed = false;
  let connecting: Promise<void> | undefined;

  // A URL's password never goes into an error message.
  const where = options.client ? 'the client given to redisStore()' : (options.url ?? DEFAULT_URL).replace(/\/\/[^@/]*@/, '//');
  const fail = (area: StoreArea, what: string, cause?: unknown) =>
    storeError(area, 'redis', `Redis store: ${what}; check that Redis is up at ${where}, or raise redisStore's timeoutMs.`, cause);

  function ready(area: StoreArea): Promise<void> | undefined {
    if (closed || client.status === 'end') {
      return Promise.reject(storeError(area, 'redis', 'The Redis store is closed: make a new one (or do not close it while runs use it).'));
    }
    if (client.status === 'ready') return undefined;
    connecting ??= new Promise<void>((resolve) => {
      client.once('ready', () => {
        connecting = undefined;
        resolve();
      });
      // A failed first connect is retried by ioredis's own reconnect loop.
      if (client.status === 'wait') client.connect().catch(() => undefined);
    });
    return connecting;
  }

  /** Runs one command, bounded by the timeout; every failure becomes the area's store error. */
  async function call<T>(area: StoreArea, what: string, op: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        reject(fail(area, `${what} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const pending = ready(area);
    // A call that already failed for its caller must not reach Redis once it reconnects: a
    // reserve would hold money nobody settles, a lease would hold a conversation nobody runs.
    const afterConnect = (): Promise<T> => (late ? Promise.reject(fail(area, `${what} timed out`)) : op());
    try {
      return await Promise.race([pending ? pending.then(afterConnect) : op(), timeout]);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw fail(area, `${what} failed: ${message}`, error);
    } finally {
      clearTimeout(timer);
    }
  }

  const runs = redisRuns(
    {
      client,
      prefix,
      call: (what, op) => call('runs', what, op),
      fail: (what, cause) => fail('runs', what, cause),
      closed: () => closed,
    },
    options,
  );

  function keys(key: string): [string, string, string] {
    const k = prefix + key;
    return [k, `${k}:spent`, `${k}:held`];
  }

  return {
    name: 'redis',
    conversations: redisConversations(client, prefix, (what, op) => call('conversations', what, op)),
    runs: runs.runs,
    async reserve(request: ReserveRequest): Promise<ReserveResult> {
      const a = reserveArgs(request);
      const reply = await call('spend', 'reserve', () =>
        scripts.traceboundReserve(...keys(request.key), request.id, a.maxNanos, a.minNanos, a.limitNanos, a.windowMs, a.ttlMs),
      );
      const [granted, spent, held] = integers(reply, 3);
      return {
        grantedUsd: toUsd(granted),
        spentUsd: toUsd(spent),
        reservedUsd: toUsd(held),
        remainingUsd: toUsd(Math.max(0, a.limitNanos - spent - held)),
      };
    },

    async settle(request: SettleRequest): Promise<void> {
      const nanos = actualNanos(request.actualUsd);
      const windowMs = durationMs('windowMs', request.windowMs);
      await call('spend', 'settle', () => scripts.traceboundSettle(...keys(request.key), request.id, nanos, windowMs));
    },

    async window(key: string, windowMs: number): Promise<WindowState> {
      const ms = durationMs('windowMs', windowMs);
      const [spent, held] = integers(await call('spend', 'window', () => scripts.traceboundWindow(...keys(key), ms)), 2);
      return { spentUsd: toUsd(spent), reservedUsd: toUsd(held) };
    },

    async close(): Promise<void> {
      closed = true;
      await runs.close();
      if (!owned) return;
      // quit() waits for replies in flight; when Redis is down it fails and the socket is dropped.
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** A script's array-of-integers reply. @throws {BudgetStoreError} on any other shape. */
function integers(reply: unknown, length: 3): [number, number, number];
function integers(reply: unknown, length: 2): [number, number];
function integers(reply: unknown, length: number): number[] {
  if (Array.isArray(reply) && reply.length === length && reply.every((n) => typeof n === 'number')) {
    return reply as number[];
  }
  throw storeError('spend', 'redis', `Redis store: unexpected script reply ${JSON.stringify(reply)}; is another program writing tracebound's keys?`);
}
