/**
 * What the three run stores (memory-runs.ts, sqlite-runs.ts, redis-runs.ts) share: their options,
 * the one serialiser of run events (so a subscriber sees the same shape whichever store carries
 * them), and the in-process delivery of a run's event log to its subscribers.
 */
import { errorType } from '../errors.js';
import type { RunEvent } from '../runtime/events.js';
import type { RunEventEntry, RunStatus } from '../runtime/runs.js';
import { maskSecrets } from '../secrets.js';
import type { RunStore } from './store.js';

/** Most events a run's log keeps by default: the newest 1,000. */
export const DEFAULT_MAX_RUN_EVENTS = 1_000;
/** How long a run's event log is kept after its last append by default, in ms: one hour. */
export const DEFAULT_RUN_EVENT_TTL_MS = 3_600_000;

/** The run store's options, the same for every store. */
export interface RunStoreOptions {
  /**
   * Most events a run's log keeps: older ones are dropped as new ones come (a subscriber asking
   * for them gets the oldest kept). Default 1,000. The memory store keeps exactly this many; the
   * SQLite store trims in batches, so it may hold up to a tenth more; the Redis store trims
   * approximately (`MAXLEN ~`, whole stream nodes), so it may hold up to about a hundred more.
   */
  maxRunEvents?: number;
  /** How long a run's event log is kept after its last append, in ms. Default 3,600,000 (1 h). */
  runEventTtlMs?: number;
  /**
   * Called with a `StoreError` when a background read for a subscription ({@link RunStore.subscribe}
   * / `onCancel`) fails, since those registrations return no promise; it is retried meanwhile.
   * Also called with whatever a subscriber's listener throws (delivery goes on). Default: a
   * process warning (`process.emitWarning`).
   */
  onError?: (error: unknown) => void;
}

/** A store's run store, and `close` for the store's own. @internal */
export interface ClosableRunStore {
  runs: RunStore;
  /** Ends every subscription and cancel listener (and their connections). */
  close(): void | Promise<void>;
}

/** The options with their defaults. @internal */
export interface RunLogSettings {
  maxEvents: number;
  ttlMs: number;
  report: (error: unknown) => void;
}

/**
 * The options with their defaults, checked.
 * @throws {RangeError} when `maxRunEvents` is not a positive integer or `runEventTtlMs` not a positive number.
 * @internal
 */
export function runLogSettings(options: RunStoreOptions): RunLogSettings {
  const maxEvents = options.maxRunEvents ?? DEFAULT_MAX_RUN_EVENTS;
  if (!Number.isInteger(maxEvents) || maxEvents <= 0) throw new RangeError(`maxRunEvents must be a positive integer, got ${maxEvents}`);
  const ttlMs = options.runEventTtlMs ?? DEFAULT_RUN_EVENT_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`runEventTtlMs must be a positive number of ms, got ${ttlMs}`);
  return { maxEvents, ttlMs: Math.ceil(ttlMs), report: options.onError ?? warn };
}

function warn(error: unknown): void {
  process.emitWarning(error instanceof Error ? error : new Error(String(error)));
}

/** Whether a run with this status has ended: it holds no lease and takes no cancel. @internal */
export function hasEnded(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed';
}

/**
 * A run event as its log stores it: JSON, an `Error` anywhere in it (the `retry` event's
 * `ModelCallError`) written as `{ type, message }`: its `error.type` and its message with known
 * secrets masked. Every store writes events through this, so subscribers get the same shape.
 */
export function encodeRunEvent(event: RunEvent): string {
  // Only a retry (or a sub-run's, wrapped) carries an error: every other event takes JSON's fast
  // path (a replacer function leaves it, at ~15% of a run's CPU with every event logged).
  if (!carriesError(event)) return JSON.stringify(event);
  return JSON.stringify(event, (_key, value: unknown) =>
    value instanceof Error ? { type: errorType(value), message: maskSecrets(value.message) } : value,
  );
}

/** Whether the event is a `retry`, or a sub-run's `retry` wrapped in `sub-agent` events. */
function carriesError(event: RunEvent): boolean {
  return event.type === 'retry' || (event.type === 'sub-agent' && carriesError(event.event));
}

/** A logged event back as the {@link RunEvent} subscribers get (errors as `{ type, message }`). */
export function decodeRunEvent(json: string): RunEvent {
  return JSON.parse(json) as RunEvent;
}

/** One event of a log whose ids are increasing integers (the memory and SQLite stores). @internal */
export interface LoggedEvent {
  id: number;
  json: string;
}

/**
 * An `after` id as the integer cursor of the memory and SQLite logs. Anything that is not such
 * an id (a stale or foreign `Last-Event-ID`) reads as absent: delivering the whole kept log again
 * is the safe side of a mismatch, a gap is not.
 * @internal
 */
export function integerCursor(after: string | undefined): number {
  if (after === undefined || !/^\d{1,15}$/.test(after)) return 0;
  return Number(after);
}

interface Subscriber {
  runId: string;
  listener: (entry: RunEventEntry) => void;
  /** The id of the last event delivered (0: none). */
  cursor: number;
  active: boolean;
  /** Delivering now; `again` asks the running delivery to read once more (an append from inside a listener). */
  pumping: boolean;
  again: boolean;
}

/**
 * In-process delivery of run events, for logs whose ids increase (memory, SQLite). Each
 * subscriber keeps a cursor, the id it last got, and every delivery reads the log after it: the
 * backlog and the live events come through the same read, so there is neither a gap between them
 * nor a duplicate, whatever the interleaving of appends and subscribes. @internal
 */
export class LocalFeed {
  private readonly byRun = new Map<string, Set<Subscriber>>();

  /**
   * @param read the run's logged events with ids above `after`, in order; it may throw (a store
   * failure), which goes to `report` and is retried at the next notice.
   */
  constructor(
    private readonly read: (runId: string, after: number) => LoggedEvent[],
    private readonly report: (error: unknown) => void,
  ) {}

  /** Whether any run has a subscriber. */
  get active(): boolean {
    return this.byRun.size > 0;
  }

  /** Delivers the backlog after `after` (from a microtask, so the caller has its unsubscribe first), then live events. */
  subscribe(runId: string, listener: (entry: RunEventEntry) => void, after: string | undefined): () => void {
    const sub: Subscriber = { runId, listener, cursor: integerCursor(after), active: true, pumping: false, again: false };
    let subs = this.byRun.get(runId);
    if (!subs) this.byRun.set(runId, (subs = new Set()));
    subs.add(sub);
    queueMicrotask(() => this.pump(sub));
    return () => {
      sub.active = false;
      subs.delete(sub);
      if (subs.size === 0 && this.byRun.get(runId) === subs) this.byRun.delete(runId);
    };
  }

  /** Delivers what is new in `runId`'s log to its subscribers. */
  notify(runId: string): void {
    const subs = this.byRun.get(runId);
    if (subs) for (const sub of subs) this.pump(sub);
  }

  /** Delivers what is new in every subscribed run's log (a poll for other processes' appends). */
  notifyAll(): void {
    for (const runId of [...this.byRun.keys()]) this.notify(runId);
  }

  /** Ends every subscription: no listener is called after this. */
  close(): void {
    for (const subs of this.byRun.values()) for (const sub of subs) sub.active = false;
    this.byRun.clear();
  }

  private pump(sub: Subscriber): void {
    if (sub.pumping) {
      sub.again = true;
      return;
    }
    sub.pumping = true;
    try {
      do {
        sub.again = false;
        let events: LoggedEvent[];
        try {
          events = sub.active ? this.read(sub.runId, sub.cursor) : [];
        } catch (error) {
          this.report(error);
          return;
        }
        for (const e of events) {
          if (!sub.active) return;
          if (e.id <= sub.cursor) continue;
          sub.cursor = e.id;
          deliver(sub.listener, { id: String(e.id), event: decodeRunEvent(e.json) }, this.report);
        }
      } while (sub.again && sub.active);
    } finally {
      sub.pumping = false;
    }
  }
}

/** Calls a subscriber's listener; what it throws goes to `report`, not into the store. @internal */
export function deliver<T>(listener: (value: T) => void, value: T, report: (error: unknown) => void): void {
  try {
    listener(value);
  } catch (error) {
    report(error);
  }
}

/** Calls each cancel listener with the run id. @internal */
export function notifyCancel(listeners: Iterable<(runId: string) => void>, runId: string, report: (error: unknown) => void): void {
  for (const listener of [...listeners]) deliver(listener, runId, report);
}

/** A record's `leaseExpired`: a running run whose lease is gone or past its expiry. @internal */
export function leaseExpired(status: RunStatus, leaseExpiresAt: number | undefined, now: number): boolean {
  return status === 'running' && !(leaseExpiresAt !== undefined && leaseExpiresAt > now);
}
