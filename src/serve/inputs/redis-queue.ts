/**
 * A Redis Streams queue input: a fleet of workers shares one stream through a consumer group.
 * Each entry is acked only once its run finished and the dispatcher returned its outcome; an entry
 * whose worker died stays pending and is claimed by another worker once idle for `claimAfterMs`;
 * an entry that failed `maxAttempts` times goes to a dead-letter stream.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ROOT_CONTEXT, defaultTextMapGetter, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Redis } from 'ioredis';
import { ioredis } from '../../state/ioredis.js';
import { ServerBusyError, type Dispatcher, type InboundMessage, type Input, type RunOutcome } from '../types.js';

/** Options of {@link redisQueueInput}. Durations in ms. */
export interface RedisQueueInputOptions {
  /** Where Redis listens, e.g. `redis://host:6379/0`. Default `redis://127.0.0.1:6379`. Ignored with `client`. */
  url?: string;
  /**
   * A client of the caller's, used for acks and claims and left open by `stop()`. The blocking
   * reads use a duplicate of it (a blocked `XREADGROUP` holds its connection), closed by `stop()`.
   * The input defines its scripts on it (`traceboundQueueClaim`, `traceboundQueueTouch`,
   * `traceboundQueueDead`).
   */
  client?: Redis;
  /** The stream producers add entries to (see {@link enqueue}); created when missing. */
  stream: string;
  /** The consumer group every worker of the fleet joins; created (reading from the stream's start) when missing. */
  group: string;
  /** This worker's name in the group. Default `<hostname>-<pid>-<random>`, unique per input. */
  consumer?: string;
  /**
   * How long an entry may sit pending without a sign of life from its worker before another
   * worker claims it, in ms. A live worker renews its in-flight entries every third of this, so
   * a run may take longer than this without being run twice. A failed attempt is retried after
   * it too. Default 30,000.
   */
  claimAfterMs?: number;
  /** Deliveries of one entry (failed runs, or workers that died running it) before it is dead-lettered. Default 3. */
  maxAttempts?: number;
  /** The stream dead entries are added to. Default `<stream>:dead`. */
  deadLetter?: string;
  /** Longest a read blocks waiting for new entries, in ms. Default 5,000. */
  blockMs?: number;
  /** Most entries this worker holds at once: read per `XREADGROUP` and in flight. Default 10. */
  batch?: number;
  /**
   * Receives errors of the background work (reads, claims, acks) that were retried rather than
   * thrown: a Redis that is down, say. Default: printed to stderr.
   */
  onError?: (error: unknown) => void;
}

/**
 * What a dead-letter entry holds: the original entry's `id`, `payload` and `traceparent` (empty
 * when absent), the last `error` as JSON (`{ type, message, field?, stopReason? }`) and the
 * number of `attempts`.
 */
export interface DeadLetterEntry {
  id: string;
  payload: string;
  traceparent: string;
  error: string;
  attempts: string;
}

/*
 * Claims entries idle for longer than ARGV[3] ms, from cursor ARGV[4], at most ARGV[5]; returns
 * {next cursor, entries, delivery counts}. The counts come from XPENDING in the same script, so a
 * claimed entry's attempt number is exact.
 */
const CLAIM = `
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5])
local counts = {}
for i, entry in ipairs(r[2]) do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
  counts[i] = p[1] and p[1][4] or 0
end
return {r[1], r[2], counts}
`;

/*
 * Resets the idle time of the entries ARGV[3..] still owned by consumer ARGV[2], so no other
 * worker claims them while their runs go on. JUSTID leaves the delivery count alone. Entries
 * another worker claimed meanwhile are left to it.
 */
const TOUCH = `
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  end
end
return 0
`;

/*
 * Acks entry ARGV[2] and adds it to the dead-letter stream KEYS[2], atomically; an entry someone
 * else already acked is not dead-lettered twice. Returns 1 when added.
 */
const DEAD = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'payload', ARGV[3], 'traceparent', ARGV[4], 'error', ARGV[5], 'attempts', ARGV[6])
return 1
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

interface Scripts {
  traceboundQueueClaim: Script;
  traceboundQueueTouch: Script;
  traceboundQueueDead: Script;
}

/** The error recorded for an attempt. */
type Failure = Extract<RunOutcome, { ok: false }>['error'];

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const propagator = new W3CTraceContextPropagator();

/**
 * Adds one message to a queue stream for {@link redisQueueInput} workers.
 * @param payload serialized as JSON into the entry's `payload` field.
 * @param traceparent a W3C `traceparent` (e.g. the producer's span) the run will continue.
 * @returns the entry id.
 * @throws the ioredis error when Redis cannot be reached or the key is not a stream.
 */
export async function enqueue(client: Redis, stream: string, payload: unknown, traceparent?: string): Promise<string> {
  const fields = ['payload', JSON.stringify(payload)];
  if (traceparent !== undefined) fields.push('traceparent', traceparent);
  return (await client.xadd(stream, '*', ...fields)) as string;
}

/**
 * An input that takes messages from a Redis stream through a consumer group (Redis 6.2 or later,
 * for `XAUTOCLAIM`), so several worker processes share it and each entry runs once.
 *
 * Each entry's `payload` field is parsed as JSON into the message's payload; its `traceparent`
 * field (optional) becomes the message's parent context. The message id is the entry id.
 *
 * Delivery, as far as Redis Streams allow exactly once:
 * - An entry is acked only after the dispatcher resolved with its outcome, so a worker that dies
 *   mid-run leaves it pending; another worker claims it once it was idle `claimAfterMs`. Live workers renew their
 *   in-flight entries, so only a dead (or stalled for `claimAfterMs`) worker loses one.
 * - A failed outcome (`ok: false`, or the dispatcher throwing) leaves the entry pending: it is
 *   retried after `claimAfterMs`, by any worker. After `maxAttempts` deliveries it is acked and
 *   added to the dead-letter stream (see {@link DeadLetterEntry}) with the last error; a run
 *   that was aborted (`stopReason: 'aborted'`, e.g. by the server's drain deadline) is never
 *   dead-lettered by this worker. Entries that can never run go there at once: a `payload` that
 *   is not JSON, and a failed outcome that names a `field` (the server rejected the input).
 * - The gaps left: an ack lost with its connection, or a worker stalled past `claimAfterMs`,
 *   runs the entry again.
 * - A `ServerBusyError` from the dispatcher is not an attempt: the entry is dispatched again
 *   after the error's `retryAfterSeconds`.
 *
 * Acked entries stay in the stream (other groups may read it); trim it with `XTRIM` as needed.
 *
 * `start()` rejects with the ioredis error when the group cannot be created (Redis unreachable,
 * or the key is not a stream). Later Redis errors go to `onError` and the reads are retried with
 * a backoff of up to 2 s. `stop()` stops reading at once (it interrupts a blocked read by closing
 * the reading connection) and resolves; the entries in flight are still acked or dead-lettered
 * when their outcomes arrive, after which the input's own command connection is closed.
 * @throws {RangeError} when `claimAfterMs`, `maxAttempts`, `blockMs` or `batch` is not a positive
 *   integer.
 */
export function redisQueueInput(options: RedisQueueInputOptions): Input {
  const claimAfterMs = positive('claimAfterMs', options.claimAfterMs ?? 30_000);
  const maxAttempts = positive('maxAttempts', options.maxAttempts ?? 3);
  const blockMs = positive('blockMs', options.blockMs ?? 5_000);
  const batch = positive('batch', options.batch ?? 10);
  const stream = options.stream;
  const group = options.group;
  const deadLetter = options.deadLetter ?? `${stream}:dead`;
  const consumer = options.consumer ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const onError = options.onError ?? ((error: unknown) => console.error(`tracebound redis-queue ${stream}:`, error));

  let client: Redis | undefined;
  let reader: Redis | undefined;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let touchTimer: NodeJS.Timeout | undefined;
  /** Entry ids this worker is running, renewed by the touch timer. */
  const inFlight = new Set<string>();
  /** Resolves the wait of a full read loop when an entry settles, or of everything on stop. */
  let wake: (() => void) | undefined;
  /** Wakes the busy-retry sleeps on stop. */
  const stopped = new AbortController();
  let current: Dispatcher | undefined;
  let closing: Promise<void> | undefined;
  const owned = options.client === undefined;

  function scripts(): Scripts {
    return client as unknown as Scripts;
  }

  async function ensureGroup(): Promise<void> {
    try {
      // '0': a queue's consumers start with what producers added before any worker ran.
      await (client as Redis).xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
    }
  }

  async function run(): Promise<void> {
    let cursor = '0-0';
    let nextClaim = 0;
    let backoffMs = 0;
    while (!stopping) {
      if (inFlight.size >= batch) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      try {
        const now = Date.now();
        if (now >= nextClaim) {
          // Claiming every half interval bounds how long a dead worker's entry waits to ~1.5x.
          nextClaim = now + claimAfterMs / 2;
          const [next, entries, counts] = (await scripts().traceboundQueueClaim(stream, group, consumer, claimAfterMs, cursor, batch - inFlight.size)) as [
            string,
            RawEntry[],
            number[],
          ];
          cursor = next;
          entries.forEach((entry, i) => handle(entry, counts[i] ?? 1));
          if (stopping || inFlight.size >= batch) continue;
        }
        const block = Math.max(1, Math.min(blockMs, nextClaim - Date.now()));
        const reply = (await (reader as Redis).call(
          'XREADGROUP', 'GROUP', group, consumer, 'COUNT', batch - inFlight.size, 'BLOCK', Math.ceil(block), 'STREAMS', stream, '>',
        )) as [string, RawEntry[]][] | null;
        for (const entry of reply?.[0]?.[1] ?? []) handle(entry, 1);
        backoffMs = 0;
      } catch (error) {
        if (stopping) break;
        onError(error);
        backoffMs = Math.min(2_000, backoffMs * 2 || 100);
        await sleep(backoffMs, stopped.signal);
        // The stream (and its group) may have been deleted: make them again.
        if (error instanceof Error && error.message.startsWith('NOGROUP')) await ensureGroup().catch(onError);
      }
    }
  }

  /** Runs one delivered entry (`attempt` is its delivery count) and records the result. Never rejects. */
  function handle([id, flat]: RawEntry, attempt: number): void {
    // Our own entry, claimed back because a renewal came late (a stalled event loop): it is running.
    if (inFlight.has(id)) return;
    inFlight.add(id);
    settle(id, flat, attempt)
      .catch(onError)
      .finally(() => {
        inFlight.delete(id);
        wake?.();
        if (stopping && inFlight.size === 0) void close();
      });
  }

  async function settle(id: string, flat: string[] | null, attempt: number): Promise<void> {
    const dispatcher = current as Dispatcher;
    // An entry deleted from the stream while pending (Redis 6.2 returns it without fields).
    if (!flat) {
      await (client as Redis).xack(stream, group, id);
      return;
    }
    const fields = toFields(flat);
    const dead = (error: Failure) =>
      scripts().traceboundQueueDead(stream, deadLetter, group, id, fields.payload ?? '', fields.traceparent ?? '', JSON.stringify(error), attempt);
    if (attempt > maxAttempts) {
      await dead({ type: 'MaxAttemptsExceeded', message: `the entry was delivered ${attempt - 1} times without an outcome (its workers stopped mid-run)` });
      return;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(fields.payload ?? '');
    } catch {
      await dead({ type: 'InvalidPayload', message: 'the entry has no `payload` field holding JSON', field: 'payload' });
      return;
    }
    const message: InboundMessage = { id, payload, source: 'redis-queue' };
    const parentContext = fields.traceparent ? extract(fields.traceparent) : undefined;
    if (parentContext) message.parentContext = parentContext;

    let outcome: RunOutcome | undefined;
    while (!outcome) {
      try {
        outcome = await dispatcher.dispatch(message);
      } catch (error) {
        if (error instanceof ServerBusyError) {
          // Still ours (renewed by the touch timer): try again, unless the worker is stopping.
          await sleep(error.retryAfterSeconds * 1_000, stopped.signal);
          if (stopping) return;
          continue;
        }
        const failure = error instanceof Error ? { type: error.name, message: error.message } : { type: 'Error', message: String(error) };
        outcome = { ok: false, message, error: failure };
      }
    }
    if (outcome.ok) await (client as Redis).xack(stream, group, id);
    else if (outcome.error.field !== undefined) await dead(outcome.error);
    // A run aborted (the server's drain deadline, say) says nothing about the message: it stays
    // pending for another worker, as do failures with attempts left (claimed after claimAfterMs).
    else if (attempt >= maxAttempts && outcome.error.stopReason !== 'aborted') await dead(outcome.error);
  }

  async function touch(): Promise<void> {
    if (inFlight.size === 0) return;
    await scripts().traceboundQueueTouch(stream, group, consumer, ...inFlight);
  }

  function close(): Promise<void> {
    clearInterval(touchTimer);
    closing ??= owned && client ? client.quit().then(() => undefined, () => client?.disconnect()) : Promise.resolve();
    return closing;
  }

  return {
    name: 'redis-queue',

    async start(dispatcher: Dispatcher): Promise<void> {
      if (current) throw new Error('redisQueueInput: already started');
      current = dispatcher;
      client = options.client ?? new (ioredis().Redis)(options.url ?? DEFAULT_URL);
      // Failures reach onError through the calls that fail; ioredis would also log each one.
      if (owned) client.on('error', () => undefined);
      // A blocked read must fail at once when its connection drops, so the loop notices stop().
      reader = client.duplicate({ maxRetriesPerRequest: 0 });
      reader.on('error', () => undefined);
      client.defineCommand('traceboundQueueClaim', { numberOfKeys: 1, lua: CLAIM });
      client.defineCommand('traceboundQueueTouch', { numberOfKeys: 1, lua: TOUCH });
      client.defineCommand('traceboundQueueDead', { numberOfKeys: 2, lua: DEAD });
      try {
        await ensureGroup();
      } catch (error) {
        reader.disconnect();
        if (owned) client.disconnect();
        throw error;
      }
      touchTimer = setInterval(() => touch().catch(onError), claimAfterMs / 3);
      loop = run();
    },

    async stop(): Promise<void> {
      if (stopping || !current) return;
      stopping = true;
      stopped.abort();
      wake?.();
      // Rejects the blocked XREADGROUP at once ("Connection is closed"); the loop then ends.
      reader?.disconnect();
      await loop;
      if (inFlight.size === 0) await close();
    },
  };
}

/** An entry as XREADGROUP and XAUTOCLAIM return it: its id and flat field/value list. */
type RawEntry = [string, string[] | null];

function toFields(flat: string[]): Record<string, string | undefined> {
  const fields: Record<string, string | undefined> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1];
  return fields;
}

/** The context of a W3C `traceparent`, without touching the global propagator; undefined when invalid. */
function extract(traceparent: string): Context | undefined {
  const context = propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
  return trace.getSpanContext(context) ? context : undefined;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`redisQueueInput: ${name} must be a positive integer, got ${value}`);
  return value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
