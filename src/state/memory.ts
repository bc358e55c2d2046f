/**
 * The in-memory store: the default, for one process. Its spend window is the reference the SQLite
 * and Redis stores follow step for step (same integer arithmetic, same cut-offs).
 */
import type { Conversation, ConversationSummary } from '../runtime/conversations.js';
import type { Message } from '../messages.js';
import {
  DEFAULT_LIST_LIMIT,
  isoTime,
  type ConversationStore,
  type ReserveRequest,
  type ReserveResult,
  type SettleRequest,
  type Store,
  type WindowState,
} from './store.js';
import { memoryRuns, type MemoryRunsOptions } from './memory-runs.js';

/**
 * Nano-dollars per USD. Amounts are held as integers so that sums never drift and Redis (whose Lua
 * numbers are doubles) computes exactly what this store computes: exact up to 2^53 nano-dollars,
 * about $9M per window.
 * @internal
 */
export const NANOS_PER_USD = 1e9;

/** USD to whole nano-dollars. @internal */
export function toNanos(usd: number): number {
  return Math.round(usd * NANOS_PER_USD);
}

/** Whole nano-dollars to USD. @internal */
export function toUsd(nanos: number): number {
  return nanos / NANOS_PER_USD;
}

/** A reserve request in the integer units both stores compute in. @internal */
export interface ReserveArgs {
  maxNanos: number;
  /** At least 1, so a grant is never an empty reservation. */
  minNanos: number;
  limitNanos: number;
  windowMs: number;
  ttlMs: number;
}

/**
 * Checks a reserve request and converts it to integers.
 * @throws {RangeError} when an amount is negative or not finite, `minUsd > maxUsd`, or a duration
 * is not positive: a caller's bug, not a budget decision.
 * @internal
 */
export function reserveArgs(request: ReserveRequest): ReserveArgs {
  const { maxUsd, minUsd, limitUsd } = request;
  for (const [name, value] of [['maxUsd', maxUsd], ['minUsd', minUsd], ['limitUsd', limitUsd]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite amount >= 0, got ${value}`);
  }
  if (minUsd > maxUsd) throw new RangeError(`minUsd (${minUsd}) must not exceed maxUsd (${maxUsd})`);
  return {
    maxNanos: toNanos(maxUsd),
    minNanos: Math.max(1, toNanos(minUsd)),
    limitNanos: toNanos(limitUsd),
    windowMs: durationMs('windowMs', request.windowMs),
    ttlMs: durationMs('ttlMs', request.ttlMs),
  };
}

/**
 * A duration as whole ms (rounded up, so a window never shrinks).
 * @throws {RangeError} when it is not a positive finite number.
 * @internal
 */
export function durationMs(name: string, ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`${name} must be a positive number of ms, got ${ms}`);
  return Math.ceil(ms);
}

/**
 * The actual cost of a settle in nano-dollars.
 * @throws {RangeError} when it is negative or not finite.
 * @internal
 */
export function actualNanos(actualUsd: number): number {
  if (!Number.isFinite(actualUsd) || actualUsd < 0) {
    throw new RangeError(`actualUsd must be a finite amount >= 0, got ${actualUsd}`);
  }
  return toNanos(actualUsd);
}

/**
 * Options of {@link memoryStore}; the run store's included (event log bounds, `onError`, and
 * `maxEndedRuns`: how many completed or failed runs it keeps, default 1,000).
 */
export interface MemoryStoreOptions extends MemoryRunsOptions {
  /** The clock, in ms since the epoch; injectable so tests can roll the window without waiting. */
  now?: () => number;
}

interface Window {
  /** Settled spends by id, in the order they were recorded (so oldest first). */
  spends: Map<string, { at: number; nanos: number }>;
  spentNanos: number;
  reservations: Map<string, { expiresAt: number; nanos: number }>;
  heldNanos: number;
}

/**
 * A store in this process's memory: spend windows, conversations and durable runs are shared by
 * every run in the process, not across processes (use `sqliteStore` for one machine, `redisStore`
 * for a fleet), and gone when it exits (of ended runs, the newest `maxEndedRuns` are kept). An idle window is forgotten once its spends have left it and
 * its reservations have expired. Conversations are kept as copies, so a caller changing a
 * message it passed or got back changes nothing stored.
 *
 * Settling is idempotent per id while the first settle's spend is inside the window. Reserving an
 * id that already holds an open reservation returns that reservation instead of holding twice.
 * Reserve and settle reject with `RangeError` on malformed amounts or durations, never with
 * `BudgetStoreError`.
 */
export function memoryStore(options: MemoryStoreOptions = {}): Store {
  const now = options.now ?? Date.now;
  const windows = new Map<string, Window>();
  const runs = memoryRuns(now, options);

  function current(key: string, windowMs: number, at: number): Window {
    let w = windows.get(key);
    if (!w) {
      w = { spends: new Map(), spentNanos: 0, reservations: new Map(), heldNanos: 0 };
      windows.set(key, w);
    }
    const cutoff = at - windowMs;
    for (const [id, spend] of w.spends) {
      if (spend.at >= cutoff) break;
      w.spends.delete(id);
      w.spentNanos -= spend.nanos;
    }
    for (const [id, r] of w.reservations) {
      if (r.expiresAt > at) continue;
      w.reservations.delete(id);
      w.heldNanos -= r.nanos;
    }
    return w;
  }

  function forgetIfIdle(key: string, w: Window): void {
    if (w.spends.size === 0 && w.reservations.size === 0) windows.delete(key);
  }

  return {
    name: 'memory',
    conversations: memoryConversations(now),
    runs: runs.runs,
    async reserve(request) {
      const args = reserveArgs(request);
      const at = now();
      const w = current(request.key, args.windowMs, at);
      let granted = w.reservations.get(request.id)?.nanos;
      if (granted === undefined) {
        const room = args.limitNanos - w.spentNanos - w.heldNanos;
        granted = room >= args.minNanos ? Math.min(args.maxNanos, room) : 0;
        if (granted > 0) {
          w.reservations.set(request.id, { expiresAt: at + args.ttlMs, nanos: granted });
          w.heldNanos += granted;
        }
      }
      const result: ReserveResult = {
        grantedUsd: toUsd(granted),
        spentUsd: toUsd(w.spentNanos),
        reservedUsd: toUsd(w.heldNanos),
        remainingUsd: toUsd(Math.max(0, args.limitNanos - w.spentNanos - w.heldNanos)),
      };
      forgetIfIdle(request.key, w);
      return result;
    },

    async settle(request: SettleRequest) {
      const nanos = actualNanos(request.actualUsd);
      const at = now();
      const w = current(request.key, durationMs('windowMs', request.windowMs), at);
      if (!w.spends.has(request.id)) {
        const held = w.reservations.get(request.id);
        if (held) {
          w.reservations.delete(request.id);
          w.heldNanos -= held.nanos;
        }
        w.spends.set(request.id, { at, nanos });
        w.spentNanos += nanos;
      }
    },

    async window(key, windowMs): Promise<WindowState> {
      const w = current(key, durationMs('windowMs', windowMs), now());
      const state = { spentUsd: toUsd(w.spentNanos), reservedUsd: toUsd(w.heldNanos) };
      forgetIfIdle(key, w);
      return state;
    },

    async close() {
      windows.clear();
      runs.close();
    },
  };
}

/** Conversations in memory, with their leases. */
function memoryConversations(now: () => number): ConversationStore {
  const conversations = new Map<
    string,
    { agent: string; messages: Message[]; createdAt: number; updatedAt: number; expiresAt?: number; summary?: ConversationSummary }
  >();
  /** The live conversation, forgetting it once past its time to live. */
  const live = (id: string) => {
    const c = conversations.get(id);
    if (c?.expiresAt !== undefined && c.expiresAt <= now()) conversations.delete(id);
    return conversations.get(id);
  };
  const leases = new Map<string, { owner: string; expiresAt: number }>();
  const holds = (id: string, owner: string): boolean => {
    const lease = leases.get(id);
    return lease !== undefined && lease.owner === owner && lease.expiresAt > now();
  };
  const read = (id: string): Conversation | undefined => {
    const c = live(id);
    if (!c) return undefined;
    const conversation: Conversation = { id, agent: c.agent, messages: structuredClone(c.messages), createdAt: isoTime(c.createdAt), updatedAt: isoTime(c.updatedAt) };
    if (c.summary) conversation.summary = { ...c.summary };
    return conversation;
  };
  return {
    async acquire(id, lease) {
      const held = leases.get(id);
      if (held && held.owner !== lease.owner && held.expiresAt > now()) return { held: false };
      leases.set(id, { owner: lease.owner, expiresAt: now() + lease.ttlMs });
      return { held: true, conversation: read(id) };
    },
    async renew(id, lease) {
      if (!holds(id, lease.owner)) return false;
      leases.set(id, { owner: lease.owner, expiresAt: now() + lease.ttlMs });
      return true;
    },
    async append(id, turn) {
      if (!holds(id, turn.owner)) return false;
      const at = now();
      const c = live(id) ?? { agent: turn.agent, messages: [], createdAt: at, updatedAt: at };
      c.messages.push(...structuredClone(turn.messages));
      const drop = turn.drop ?? 0;
      c.messages.splice(0, drop);
      const summary = turn.summary ?? c.summary;
      if (summary) c.summary = { content: summary.content, covers: Math.max(0, summary.covers - drop) };
      c.updatedAt = at;
      c.expiresAt = turn.ttlMs === undefined ? undefined : at + turn.ttlMs;
      conversations.set(id, c);
      leases.delete(id);
      return true;
    },
    async release(id, owner) {
      if (leases.get(id)?.owner === owner) leases.delete(id);
    },
    async get(id) {
      return read(id);
    },
    async list(query = {}) {
      return [...conversations.keys()]
        .flatMap((id) => {
          const c = live(id);
          return c && (query.agent === undefined || c.agent === query.agent) ? [[id, c] as const] : [];
        })
        .sort(([, a], [, b]) => b.updatedAt - a.updatedAt)
        .slice(0, query.limit ?? DEFAULT_LIST_LIMIT)
        .map(([id, c]) => ({ id, agent: c.agent, messages: c.messages.length, createdAt: isoTime(c.createdAt), updatedAt: isoTime(c.updatedAt) }));
    },
    async delete(id) {
      return live(id) !== undefined && conversations.delete(id);
    },
  };
}
