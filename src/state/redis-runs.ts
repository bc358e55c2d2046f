/**
 * Durable runs in Redis. Per run (R = prefix + `tracebound:run:` + the URI-encoded run id, so no
 * id can spell another's key): R is a hash (`record` JSON, `agent`, `status`, `updated` ms,
 * `cancel` when a cancel was requested), R:lease the holder's id with a PX expiry, R:events the
 * run's event log, a stream; `tracebound:runs` is a zset of encoded ids by update time, for
 * listing; cancel notices go out on the channel `tracebound:run-cancels`. Claim, save, renew and
 * cancel request are each one Lua script (one round trip, atomic on the server), as is an append.
 *
 * Subscriptions are read by one blocking `XREAD` loop per store, on a connection of its own, and
 * cancel notices arrive on a pub/sub connection of its own: both are made on first use and closed
 * by `close()`, and neither ever holds up the store's main connection.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RunEventEntry, RunQuery } from '../runtime/runs.js';
import type { RedisCall } from './redis-conversations.js';
import type { StoreError } from './errors.js';
import {
  decodeRunEvent,
  deliver,
  encodeRunEvent,
  notifyCancel,
  runLogSettings,
  type ClosableRunStore,
  type RunStoreOptions,
} from './run-store.js';
import { DEFAULT_LIST_LIMIT, type RunRecord, type RunStore } from './store.js';

/** The Redis run store's options. */
export interface RedisRunOptions extends RunStoreOptions {
  /**
   * Retention: forget a completed or failed run's record this many ms after its last save.
   * Default: kept until deleted (a running or interrupted run is always kept).
   */
  endedRunTtlMs?: number;
}

/** KEYS: lease, meta. ARGV: owner, ttlMs. Returns {held (1/0), record JSON or nothing}. */
const CLAIM = `
local holder = redis.call('GET', KEYS[1])
local record = redis.call('HGET', KEYS[2], 'record')
if record and holder and holder ~= ARGV[1] then return {0, record} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if record then return {1, record} end
return {1}
`;

/**
 * KEYS: lease, meta, index. ARGV: owner, ttlMs, status, agent, updatedAt (ms), record JSON,
 * encoded id, ended records' time to live in ms ('' for none). Returns 1 when written, 0 when the
 * lease is not the owner's.
 */
const SAVE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local status = ARGV[3]
redis.call('HSET', KEYS[2], 'record', ARGV[6], 'agent', ARGV[4], 'status', status, 'updated', ARGV[5])
if status == 'running' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
if status == 'completed' or status == 'failed' then
  redis.call('HDEL', KEYS[2], 'cancel')
  if ARGV[8] ~= '' then redis.call('PEXPIRE', KEYS[2], ARGV[8]) end
else
  redis.call('PERSIST', KEYS[2])
end
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[7])
return 1
`;

/** KEYS: lease, meta. ARGV: owner, ttlMs. Returns {held, cancel requested} as 1/0. */
const RENEW = `
local held = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  held = 1
end
return {held, redis.call('HEXISTS', KEYS[2], 'cancel')}
`;

/** KEYS: meta, lease. Returns {record JSON, lease gone (1/0)}, or nothing for an unknown run. */
const GET = `
local row = redis.call('HMGET', KEYS[1], 'record', 'status')
if not row[1] then return nil end
return {row[1], (row[2] == 'running' and redis.call('EXISTS', KEYS[2]) == 0) and 1 or 0}
`;

/**
 * KEYS: index. ARGV: agent ('' for any), status ('' for any), limit, the meta keys' prefix.
 * Returns rows {record JSON, lease gone}, most recently updated first, reading the index a page
 * at a time; drops the index entries of records that expired.
 */
const LIST = `
local rows = {}
local limit = tonumber(ARGV[3])
local page = 200
local start = 0
while #rows < limit do
  local ids = redis.call('ZREVRANGE', KEYS[1], start, start + page - 1)
  if #ids == 0 then break end
  local dropped = 0
  for _, id in ipairs(ids) do
    local meta = ARGV[4] .. id
    local row = redis.call('HMGET', meta, 'record', 'agent', 'status')
    if not row[1] then
      redis.call('ZREM', KEYS[1], id)
      dropped = dropped + 1
    elseif (ARGV[1] == '' or row[2] == ARGV[1]) and (ARGV[2] == '' or row[3] == ARGV[2]) then
      rows[#rows + 1] = {row[1], (row[3] == 'running' and redis.call('EXISTS', meta .. ':lease') == 0) and 1 or 0}
      if #rows >= limit then break end
    end
  end
  start = start + page - dropped
end
return rows
`;

/** KEYS: meta. ARGV: channel, notice. Returns 1 when the flag was set, 0 for an unknown or ended run. */
const REQUEST_CANCEL = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'completed' or status == 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'cancel', '1')
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
`;

/** KEYS: events. ARGV: max length, time to live in ms, event JSON. Returns the entry's id. */
const APPEND = `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return id
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

interface Scripts {
  traceboundRunClaim: Script;
  traceboundRunSave: Script;
  traceboundRunRenew: Script;
  traceboundRunGet: Script;
  traceboundRunList: Script;
  traceboundRunRequestCancel: Script;
  traceboundRunAppend: Script;
}

/**
 * Longest a blocking read waits before it reads again, in ms: a safety net for a subscription
 * that came while the wake-up (`CLIENT UNBLOCK`) could not reach the server.
 */
const BLOCK_MS = 2_000;
/** Most entries one read takes per stream. */
const READ_COUNT = 500;
/** Pause before reading again after a failed read, in ms. */
const RETRY_MS = 500;

/** A stream entry id (`ms-seq`) as numbers, to compare. */
type StreamId = [number, number];

/** An `after` id as a stream id; anything else reads as absent (the whole kept log). */
function streamCursor(after: string | undefined): StreamId {
  const m = after === undefined ? null : /^(\d{1,15})-(\d{1,15})$/.exec(after);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

function later(a: StreamId, b: StreamId): boolean {
  return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
}

interface Subscriber {
  listener: (entry: RunEventEntry) => void;
  cursor: StreamId;
  active: boolean;
}

/** What the store gives its run store: the client, key prefix, bounded calls and error making. @internal */
export interface RedisRunContext {
  client: Redis;
  prefix: string;
  call: RedisCall;
  /** A `StoreError` for a failed background operation, naming the server and what to do. */
  fail: (what: string, cause?: unknown) => StoreError;
  /** Whether the store was closed. */
  closed: () => boolean;
}

/**
 * The run store of `redisStore`. A run's event log keeps about its newest `maxRunEvents` events
 * (trimmed with `MAXLEN ~`), expiring `runEventTtlMs` after its last append; event ids are the
 * stream's (`<ms>-<seq>`). Cancel notices reach the `onCancel` listeners of every store on the
 * server sharing the prefix, at once; events reach every subscriber, in any process.
 * @internal
 */
export function redisRuns(context: RedisRunContext, options: RedisRunOptions = {}): ClosableRunStore {
  const { client, prefix, call, fail } = context;
  const { maxEvents, ttlMs, report } = runLogSettings(options);
  const endedTtlMs = options.endedRunTtlMs;
  if (endedTtlMs !== undefined && !(Number.isFinite(endedTtlMs) && endedTtlMs > 0)) {
    throw new RangeError(`endedRunTtlMs must be a positive number of ms, got ${endedTtlMs}`);
  }
  client.defineCommand('traceboundRunClaim', { numberOfKeys: 2, lua: CLAIM });
  client.defineCommand('traceboundRunSave', { numberOfKeys: 3, lua: SAVE });
  client.defineCommand('traceboundRunRenew', { numberOfKeys: 2, lua: RENEW });
  client.defineCommand('traceboundRunGet', { numberOfKeys: 2, lua: GET });
  client.defineCommand('traceboundRunList', { numberOfKeys: 1, lua: LIST });
  client.defineCommand('traceboundRunRequestCancel', { numberOfKeys: 1, lua: REQUEST_CANCEL });
  client.defineCommand('traceboundRunAppend', { numberOfKeys: 1, lua: APPEND });
  const scripts = client as unknown as Scripts;
  const metaPrefix = `${prefix}tracebound:run:`;
  const index = `${prefix}tracebound:runs`;
  const channel = `${prefix}tracebound:run-cancels`;
  const keys = (runId: string) => {
    const meta = metaPrefix + encodeURIComponent(runId);
    return { meta, lease: `${meta}:lease`, events: `${meta}:events` };
  };
  /** Tells this store's notices from other stores' on the channel: its own listeners hear its requests directly. */
  const self = randomUUID();
  const parse = (json: string) => JSON.parse(json) as RunRecord;

  /** A connection of its own for subscriptions, reconnecting by itself, closed by `close()`. */
  function connection(role: string): Redis {
    const c = client.duplicate({ lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null });
    let failing = false;
    c.on('error', (error: unknown) => {
      if (failing || context.closed()) return;
      failing = true;
      report(fail(`the ${role} connection failed (${error instanceof Error ? error.message : String(error)}); it reconnects`, error));
    });
    c.on('ready', () => (failing = false));
    return c;
  }

  // Cancel notices.
  const cancelListeners = new Set<(runId: string) => void>();
  let notices: Redis | undefined;
  function listenForCancels(): void {
    if (notices) return;
    notices = connection('cancel notice');
    notices.on('message', (_channel: string, message: string) => {
      const cut = message.indexOf('\n');
      if (cut === -1 || message.slice(0, cut) === self) return;
      notifyCancel(cancelListeners, decodeURIComponent(message.slice(cut + 1)), report);
    });
    // Failures surface through the connection's 'error' event; ioredis subscribes again on reconnect.
    notices.subscribe(channel).catch(() => undefined);
  }

  // Event subscriptions: one blocking read loop over every subscribed run's stream.
  const byRun = new Map<string, Set<Subscriber>>();
  let reader: Redis | undefined;
  let readerId: number | undefined;
  let reading = false;
  /** Bumped by each subscription change; the read in flight was built at `readGeneration`. */
  let generation = 0;
  let readGeneration = -1;
  let looping = false;

  async function loop(r: Redis): Promise<void> {
    looping = true;
    let failing = false;
    try {
      while (!context.closed() && byRun.size > 0) {
        const runIds = [...byRun.keys()];
        // Each stream is read from its subscribers' lowest cursor.
        const starts = runIds.map((runId) => {
          let min: StreamId = [Infinity, 0];
          for (const sub of byRun.get(runId) ?? []) if (later(min, sub.cursor)) min = sub.cursor;
          return min;
        });
        const ids = starts.map(([ms, seq]) => `${ms}-${seq}`);
        let reply: [string, [string, string[]][]][] | null;
        try {
          readerId ??= (await r.client('ID')) as number;
          readGeneration = generation;
          reading = true;
          reply = (await r.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...runIds.map((id) => keys(id).events), ...ids)) as typeof reply;
          failing = false;
        } catch (error) {
          if (context.closed()) return;
          if (!failing) report(fail(`reading run events failed (${error instanceof Error ? error.message : String(error)}); retrying`, error));
          failing = true;
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
          continue;
        } finally {
          reading = false;
        }
        for (const [key, entries] of reply ?? []) {
          const i = runIds.findIndex((id) => keys(id).events === key);
          const runId = runIds[i] as string;
          const start = starts[i] as StreamId;
          for (const [id, fields] of entries) {
            const at = streamCursor(id);
            const json = fields[1] as string;
            for (const sub of [...(byRun.get(runId) ?? [])]) {
              // A subscriber that came during the read, behind its start, waits for the next read
              // (from its cursor): these entries would skip the ones between.
              if (!sub.active || later(start, sub.cursor) || !later(at, sub.cursor)) continue;
              sub.cursor = at;
              deliver(sub.listener, { id, event: decodeRunEvent(json) }, report);
            }
          }
        }
      }
    } finally {
      looping = false;
    }
  }

  /** Makes the read loop pick up a subscription change now: unblocks the read in flight. */
  async function wake(): Promise<void> {
    const r = (reader ??= readerConnection());
    if (!looping) {
      void loop(r);
      return;
    }
    // The wake-up may come before the read reaches the server: try again until it took.
    for (let attempt = 0; attempt < 20 && looping && readGeneration !== generation; attempt++) {
      if (reading && readerId !== undefined && client.status === 'ready') {
        const unblocked = await client.client('UNBLOCK', readerId).catch(() => 0);
        if (unblocked === 1) return;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  function readerConnection(): Redis {
    const r = connection('run event');
    // A new connection has a new client id.
    r.on('close', () => (readerId = undefined));
    return r;
  }

  const runs: RunStore = {
    async claim(runId, lease) {
      const k = keys(runId);
      const reply = (await call('claim a run', () => scripts.traceboundRunClaim(k.lease, k.meta, lease.owner, Math.ceil(lease.ttlMs)))) as [number, string?];
      const record = reply[1] === undefined ? undefined : parse(reply[1]);
      if (reply[0] === 1) return { held: true, record };
      return { held: false, record: record as RunRecord };
    },
    async save(record, lease) {
      const k = keys(record.runId);
      const json = JSON.stringify(record);
      const reply = await call('save a run checkpoint', () =>
        scripts.traceboundRunSave(
          k.lease, k.meta, index,
          lease.owner, Math.ceil(lease.ttlMs), record.status, record.agent, record.updatedAt, json,
          encodeURIComponent(record.runId), endedTtlMs === undefined ? '' : Math.ceil(endedTtlMs),
        ),
      );
      return reply === 1;
    },
    async renew(runId, lease) {
      const k = keys(runId);
      const [held, cancel] = (await call('renew the lease of a run', () =>
        scripts.traceboundRunRenew(k.lease, k.meta, lease.owner, Math.ceil(lease.ttlMs)),
      )) as [number, number];
      return { held: held === 1, cancelRequested: cancel === 1 };
    },
    async get(runId) {
      const k = keys(runId);
      const reply = (await call('read a run', () => scripts.traceboundRunGet(k.meta, k.lease))) as [string, number] | null;
      return reply ? { ...parse(reply[0]), leaseExpired: reply[1] === 1 } : undefined;
    },
    async list(query: RunQuery = {}) {
      const reply = (await call('list runs', () =>
        scripts.traceboundRunList(index, query.agent ?? '', query.status ?? '', query.limit ?? DEFAULT_LIST_LIMIT, metaPrefix),
      )) as [string, number][];
      return reply.map(([json, expired]) => ({ ...parse(json), leaseExpired: expired === 1 }));
    },
    async requestCancel(runId) {
      const notice = `${self}\n${encodeURIComponent(runId)}`;
      const reply = await call('request a run\'s cancel', () => scripts.traceboundRunRequestCancel(keys(runId).meta, channel, notice));
      if (reply !== 1) return false;
      notifyCancel(cancelListeners, runId, report);
      return true;
    },
    onCancel(listener) {
      cancelListeners.add(listener);
      if (!context.closed()) listenForCancels();
      return () => void cancelListeners.delete(listener);
    },
    async appendEvent(runId, event) {
      const json = encodeRunEvent(event);
      return String(await call('append a run event', () => scripts.traceboundRunAppend(keys(runId).events, maxEvents, ttlMs, json)));
    },
    subscribe(runId, listener, after) {
      if (context.closed()) {
        report(fail('subscribing to a run\'s events failed: the store is closed'));
        return () => undefined;
      }
      const sub: Subscriber = { listener, cursor: streamCursor(after), active: true };
      let subs = byRun.get(runId);
      if (!subs) byRun.set(runId, (subs = new Set()));
      subs.add(sub);
      generation++;
      void wake();
      return () => {
        sub.active = false;
        subs.delete(sub);
        if (subs.size === 0 && byRun.get(runId) === subs) byRun.delete(runId);
      };
    },
  };

  return {
    runs,
    async close() {
      for (const subs of byRun.values()) for (const sub of subs) sub.active = false;
      byRun.clear();
      cancelListeners.clear();
      // Blocked reads and subscriptions hold nothing worth waiting for: drop the sockets.
      reader?.disconnect();
      notices?.disconnect();
      reader = notices = undefined;
    },
  };
}
