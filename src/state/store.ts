/**
 * The Store interface: one place for a runtime's state, shared by the runs of one process
 * (memory), of one machine (SQLite) or of a fleet (Redis). It holds the budget's spend windows
 * (the rolling USD window shared by every run of an agent; reserve and settle are each one
 * atomic operation) and conversations (each turn saved in one write, two runs of one
 * conversation kept apart by a lease) and durable runs (a checkpoint after every step, a lease the
 * running process renews, cancel requests and the run's event log).
 */
import type { Message } from '../messages.js';
import type { Conversation, ConversationInfo, ConversationQuery, ConversationSummary } from '../runtime/conversations.js';
import type { Interruption, RunEvent, RunResult } from '../runtime/events.js';
import type { RunState } from '../runtime/run-state.js';
import type { RunEventEntry, RunInfo, RunQuery, RunStatus } from '../runtime/runs.js';

/** A reservation request: take up to `maxUsd` (at least `minUsd`) if the window has room. */
export interface ReserveRequest {
  /** The window's key, namespaced per agent (see {@link spendKey}). */
  key: string;
  /** Unique id of this reservation (one per model call). */
  id: string;
  /** The worst-case cost of the call, in USD: what the guard would like to hold. */
  maxUsd: number;
  /** The least worth holding, in USD; below it the call is refused. 0 < minUsd <= maxUsd. */
  minUsd: number;
  /** The window's limit, in USD. */
  limitUsd: number;
  /** The rolling window's length, in ms. */
  windowMs: number;
  /** A reservation not settled within this many ms (a crashed process) stops counting. */
  ttlMs: number;
}

/** What a reservation got, and the window's state after it. All amounts in USD. */
export interface ReserveResult {
  /** USD held for the call: `min(maxUsd, room)`, or 0 when less than `minUsd` was left. */
  grantedUsd: number;
  /** Settled spend inside the window (this reservation excluded). */
  spentUsd: number;
  /** Open reservations inside the window, this one included when granted. */
  reservedUsd: number;
  /** `limitUsd - spentUsd - reservedUsd`, never below 0. */
  remainingUsd: number;
}

/** A settle request: the reservation becomes the call's actual cost, recorded now. */
export interface SettleRequest {
  key: string;
  id: string;
  /** The call's actual cost in USD (0 for a call that failed and reported nothing). */
  actualUsd: number;
  windowMs: number;
}

/** The window's current state, in USD. */
export interface WindowState {
  spentUsd: number;
  reservedUsd: number;
}

/** The spend windows of a store: in memory (one process), SQLite (one machine) or Redis (a fleet). */
export interface SpendStore {
  /**
   * Atomically reserves up to `maxUsd` when `spent + reserved + minUsd <= limitUsd`; expired
   * reservations and spend older than the window are dropped first.
   * @throws {BudgetStoreError} when the store cannot be reached.
   */
  reserve(request: ReserveRequest): Promise<ReserveResult>;
  /**
   * Atomically replaces reservation `id` with a spend of `actualUsd`, timestamped now. Settling an
   * expired or unknown reservation still records the spend. Settling an id again while its spend
   * is inside the window changes nothing, so a retried settle counts once.
   * @throws {BudgetStoreError} when the store cannot be reached.
   */
  settle(request: SettleRequest): Promise<void>;
  /** The window's state now. @throws {BudgetStoreError} when the store cannot be reached. */
  window(key: string, windowMs: number): Promise<WindowState>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** The key of an agent's spend window: `tracebound:spend:<agent name>`. */
export function spendKey(agentName: string, prefix = 'tracebound'): string {
  return `${prefix}:spend:${agentName}`;
}

/**
 * The key of a tenant's (`per: 'tenant'`) or a user's (`per: 'user'`) spend window:
 * `tracebound:spend-tenant:<tenant>` / `tracebound:spend-user:<user>`. The segment differs from
 * an agent's `spend`, so a tenant can never share an agent's window whatever their names.
 */
export function scopedSpendKey(per: 'tenant' | 'user', id: string, prefix = 'tracebound'): string {
  return `${prefix}:spend-${per}:${id}`;
}

/** A conversation's lease: who holds it, and for how long without renewal (ms). */
export interface Lease {
  /** Unique per run holding it. */
  owner: string;
  ttlMs: number;
}

/** What taking a conversation's lease gave. */
export type Acquired = { held: true; conversation: Conversation | undefined } | { held: false };

/** A turn to save: the messages it added, by the run holding the lease. */
export interface Turn {
  /** The lease's owner: the write happens only while it still holds the lease. */
  owner: string;
  /** The agent of the run (recorded when the turn starts the conversation). */
  agent: string;
  messages: readonly Message[];
  /** Retention: how many of the oldest stored messages to remove in the same write. Default 0. */
  drop?: number;
  /**
   * A new summary of the conversation's first `covers` messages (counted before this write),
   * replacing the stored one. A `drop` lowers a summary's `covers` by the messages dropped.
   */
  summary?: ConversationSummary;
  /**
   * Retention: forget the whole conversation this many ms after this write unless another turn
   * comes first. Default: kept until deleted.
   */
  ttlMs?: number;
}

/**
 * The conversations of a store. Two runs of one conversation never interleave: a run takes the
 * conversation's lease and reads it in one atomic operation ({@link acquire}), and saves its turn
 * and gives the lease back in another ({@link append}). A lease not renewed within its TTL (a
 * crashed process) lapses. Every method rejects with a `StoreError` when the store fails.
 */
export interface ConversationStore {
  /**
   * Takes the lease of conversation `id` for `lease.owner` when it is free, lapsed or already
   * that owner's, and reads the conversation, atomically.
   * @returns `held: false` when another owner holds it.
   */
  acquire(id: string, lease: Lease): Promise<Acquired>;
  /** Extends a lease its owner holds. @returns false when it was lost (lapsed and taken). */
  renew(id: string, lease: Lease): Promise<boolean>;
  /**
   * Appends the turn's messages (creating the conversation when new; a lapsed one starts anew),
   * drops the oldest `turn.drop` messages, sets its time to live, and releases the lease, in one
   * atomic write, when `turn.owner` still holds the lease. A conversation past its time to live
   * is gone for every method.
   * @returns false, writing nothing, when the lease was lost.
   */
  append(id: string, turn: Turn): Promise<boolean>;
  /** Gives the lease back, when `owner` holds it, writing nothing else. */
  release(id: string, owner: string): Promise<void>;
  get(id: string): Promise<Conversation | undefined>;
  /** Most recently updated first; `limit` defaults to 100. */
  list(query?: ConversationQuery): Promise<ConversationInfo[]>;
  /** Forgets every message of the conversation. @returns whether there was one. */
  delete(id: string): Promise<boolean>;
}

/** A run as a store keeps it: the last checkpoint of its state, and where the run is. Times in epoch ms. */
export interface RunRecord {
  runId: string;
  agent: string;
  status: RunStatus;
  /** `state.step` at the checkpoint. */
  step: number;
  conversationId?: string;
  /** The run's state at its last checkpoint (plain data: it survives JSON). */
  state: RunState;
  interruptions?: Interruption[];
  result?: RunResult;
  error?: RunInfo['error'];
  createdAt: number;
  updatedAt: number;
}

/** What taking a run's lease gave: the record as it was, or who holds it. */
export type RunClaim = { held: true; record: RunRecord | undefined } | { held: false; record: RunRecord };

/**
 * The durable runs of a store. A process runs a run only while it holds the run's lease
 * ({@link claim}), renews it by heartbeat ({@link renew}), and writes a checkpoint after every
 * step ({@link save}); a lease not renewed within its TTL (a dead process) lapses, and another
 * process may claim the run and resume it from its last checkpoint. Cancel requests and run
 * events reach every process sharing the store. Every method but the listener registrations
 * rejects with a `StoreError` when the store fails. The two writes made on every step and every
 * event ({@link save}, {@link appendEvent}) may answer synchronously (and then throw their
 * `StoreError`) when the store's writes complete at once, as the memory and SQLite stores do: the
 * durable runs middleware then spends no promise per checkpoint or event. Callers that `await`
 * them need not care which.
 */
export interface RunStore {
  /**
   * Takes run `runId`'s lease for `lease.owner` when the run is unknown, its lease is free or
   * lapsed, or already that owner's, and reads its record, in one atomic operation. A run with no
   * record yet is taken by whoever claims it last: of two first claims of one id, only the later
   * one's `save` succeeds.
   * @returns `held: false` with the record when another owner holds a live lease.
   */
  claim(runId: string, lease: Lease): Promise<RunClaim>;
  /**
   * Writes `record` (a checkpoint, or the run's end) when `lease.owner` holds the run's lease,
   * renewing it; a status other than `running` also releases the lease, and an ended one
   * (`completed`, `failed`) clears a cancel request. Listing orders by `record.updatedAt`. The
   * caller hands the record over: it never changes it afterwards, so a store may keep it as is
   * (the memory store does, and copies on read).
   * @returns false, writing nothing, when the lease was lost (lapsed, or taken): at once, or as a promise.
   */
  save(record: RunRecord, lease: Lease): boolean | Promise<boolean>;
  /**
   * Extends a lease its owner holds (the heartbeat).
   * @returns whether it is still held, and whether a cancel was requested for the run.
   */
  renew(runId: string, lease: Lease): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** The run's record, with whether its lease has lapsed; `undefined` when unknown. */
  get(runId: string): Promise<(RunRecord & { leaseExpired: boolean }) | undefined>;
  /** Records, most recently updated first; `limit` defaults to 100. */
  list(query?: RunQuery): Promise<Array<RunRecord & { leaseExpired: boolean }>>;
  /**
   * Asks whichever process runs `runId` to abort it: a flag on the record (read by the heartbeat)
   * and a notice to every {@link onCancel} listener sharing the store. An `interrupted` run takes
   * it too: its resume then sees the flag on its first heartbeat.
   * @returns false when the run is unknown or already ended (`completed`, `failed`).
   */
  requestCancel(runId: string): Promise<boolean>;
  /**
   * Calls `listener` with the id of each run a cancel is requested for (memory and SQLite: requests
   * made through this store; Redis: through any store on the server with the same prefix). Never
   * throws: a store failure goes to the store's `onError` option.
   * @returns the unsubscribe function.
   */
  onCancel(listener: (runId: string) => void): () => void;
  /**
   * Appends an event to the run's log (bounded; kept a while after the run ends) and delivers it
   * to the run's subscribers in every process sharing the store (memory: this process; SQLite:
   * this process at once, the others' at their next poll of the file; Redis: every process at
   * once). Order of appends is kept. The event is stored as JSON: an `Error` in it becomes
   * `{ type, message }`, its secrets masked (run-store.ts, `encodeRunEvent`).
   * @returns the event's id: at once, or as a promise.
   */
  appendEvent(runId: string, event: RunEvent): string | Promise<string>;
  /**
   * Delivers the run's logged events after `after` (all when absent, or not an id of this store),
   * then each new one, in order, none twice and none skipped, until unsubscribed or the store is
   * closed. Never throws: a store failure while reading goes to the store's `onError` option, and
   * the read is retried.
   * @returns the unsubscribe function.
   */
  subscribe(runId: string, listener: (entry: RunEventEntry) => void, after?: string): () => void;
}

/**
 * One store for a runtime's state: `memoryStore()` (the default; one process),
 * `sqliteStore({ path })` (the processes of one machine) or `redisStore({ url })` (a fleet).
 */
export interface Store extends SpendStore {
  /** `tracebound.store` on the spans of its operations: `memory`, `sqlite`, `redis` or a custom name. */
  readonly name: string;
  readonly conversations: ConversationStore;
  readonly runs: RunStore;
}

/** Most conversations a listing returns when the query sets no limit. */
export const DEFAULT_LIST_LIMIT = 100;

/** The ISO 8601 form of an epoch time in ms, as conversations carry their times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
