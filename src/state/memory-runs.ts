/**
 * Durable runs in this process's memory (the memory store's `runs`): records, leases, cancel
 * flags and event logs shared by every run of the process and gone when it exits. The reference
 * the SQLite and Redis run stores follow.
 */
import type { RunEvent } from '../runtime/events.js';
import type { RunQuery, RunStatus } from '../runtime/runs.js';
import {
  encodeRunEvent,
  hasEnded,
  leaseExpired,
  LocalFeed,
  notifyCancel,
  runLogSettings,
  type ClosableRunStore,
  type LoggedEvent,
  type RunStoreOptions,
} from './run-store.js';
import { DEFAULT_LIST_LIMIT, type Lease, type RunRecord, type RunStore } from './store.js';

/**
 * A stored record as saved (its saver never changes it: see `RunStore.save`; a checkpoint is
 * then an array copy, not a serialisation), copied on every read so a caller changing what it
 * got changes nothing stored; and what listing filters on.
 */
interface Stored {
  record: RunRecord;
  agent: string;
  status: RunStatus;
  updatedAt: number;
}

/**
 * A run's event log: its newest events, oldest first, and when the last was appended (ms). Each
 * event is kept as emitted, and serialised (through `encodeRunEvent`, like every store's) only
 * when a subscriber first reads it: its JSON then takes its place. No event is changed after it
 * is emitted (the run-end event's result, which its caller gets too, is kept as a copy of its
 * arrays: see `kept`), so a later serialisation writes what an eager one would have, and a run
 * nobody subscribes to pays for none. Ids and events are two arrays, not an object per event:
 * every run logs some twenty events, and a process keeps the logs of its last ended runs.
 */
interface Log {
  /** Each event's id, increasing. */
  ids: number[];
  /** Each event as emitted, or its JSON once read. */
  events: (RunEvent | string)[];
  lastAt: number;
}

/** Default of {@link MemoryRunsOptions.maxEndedRuns}. */
export const DEFAULT_MAX_ENDED_RUNS = 1_000;

/** The memory run store's options. */
export interface MemoryRunsOptions extends RunStoreOptions {
  /**
   * Retention: how many ended (completed or failed) runs the store keeps, with their event logs;
   * past it the run that ended longest ago is forgotten (`runs.get` no longer finds it, and a
   * failed run it held can no longer be resumed), so a long-lived process does not grow. Running
   * and interrupted runs are never forgotten: an interrupted run waits for its approvals however
   * long they take (it counts once it is resumed and ends). Default 1,000.
   */
  maxEndedRuns?: number;
}

/**
 * The run store of `memoryStore`. Running and interrupted runs are kept until the process exits;
 * ended ones, the newest `maxEndedRuns`. A run's event log keeps its newest `maxRunEvents`
 * events, for `runEventTtlMs` after its last append (checked lazily: no timer), and goes with its
 * run. Event ids are increasing integers (as strings) across the store. Cancel requests and
 * events reach the listeners of this store only: it is one process's.
 * @param now the store's clock, in ms since the epoch
 * @throws {RangeError} when `maxEndedRuns` is not a non-negative integer (or the run log options are invalid).
 * @internal
 */
export function memoryRuns(now: () => number, options: MemoryRunsOptions = {}): ClosableRunStore {
  const { maxEvents, ttlMs, report } = runLogSettings(options);
  const maxEnded = options.maxEndedRuns ?? DEFAULT_MAX_ENDED_RUNS;
  if (!Number.isInteger(maxEnded) || maxEnded < 0) throw new RangeError(`maxEndedRuns must be a non-negative integer, got ${maxEnded}`);
  const records = new Map<string, Stored>();
  /** The ended runs' ids, the one that ended longest ago first (a Set keeps insertion order). */
  const ended = new Set<string>();
  const leases = new Map<string, { owner: string; expiresAt: number }>();
  const cancels = new Set<string>();
  const cancelListeners = new Set<(runId: string) => void>();
  const logs = new Map<string, Log>();
  let lastEventId = 0;
  let lastSweep = now();

  const holds = (runId: string, owner: string, at: number): boolean => {
    const lease = leases.get(runId);
    return lease !== undefined && lease.owner === owner && lease.expiresAt > at;
  };
  const withLease = (runId: string, stored: Stored, at: number) => ({
    ...structuredClone(stored.record),
    leaseExpired: leaseExpired(stored.status, leases.get(runId)?.expiresAt, at),
  });
  /** The run's log unless it outlived its retention (then forgotten). */
  const live = (runId: string, at: number): Log | undefined => {
    const log = logs.get(runId);
    if (!log || log.lastAt + ttlMs > at) return log;
    logs.delete(runId);
    return undefined;
  };
  /** Forgets the logs past retention, at most once per retention period (or minute), so appends stay O(1). */
  const sweep = (at: number) => {
    if (at - lastSweep < Math.min(ttlMs, 60_000)) return;
    lastSweep = at;
    for (const runId of logs.keys()) live(runId, at);
  };
  /** Keeps `runId` as ended, and forgets the ended runs past the bound, oldest first. */
  const retire = (runId: string) => {
    ended.delete(runId);
    ended.add(runId);
    for (const old of ended) {
      if (ended.size <= maxEnded) break;
      ended.delete(old);
      records.delete(old);
      logs.delete(old);
      leases.delete(old);
    }
  };
  const feed = new LocalFeed((runId, after) => {
    const log = live(runId, now());
    if (!log) return [];
    const { ids, events } = log;
    // Binary search for the first id above `after`: ids increase along the log.
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((ids[mid] as number) <= after) lo = mid + 1;
      else hi = mid;
    }
    const read: LoggedEvent[] = [];
    for (let i = lo; i < ids.length; i++) {
      let json = events[i] as RunEvent | string;
      if (typeof json !== 'string') events[i] = json = encodeRunEvent(json);
      read.push({ id: ids[i] as number, json });
    }
    return read;
  }, report);

  /** Logs `event` as `runId`'s newest (see `Log`): `appendEvent`, synchronously. */
  const append = (runId: string, event: RunEvent): string => {
    const at = now();
    sweep(at);
    let log = live(runId, at);
    if (!log) logs.set(runId, (log = { ids: [], events: [], lastAt: at }));
    const id = ++lastEventId;
    log.ids.push(id);
    log.events.push(kept(event));
    if (log.ids.length > maxEvents) {
      log.ids.splice(0, log.ids.length - maxEvents);
      log.events.splice(0, log.events.length - maxEvents);
    }
    log.lastAt = at;
    feed.notify(runId);
    return String(id);
  };

  /** `save`, synchronously. */
  const save = (record: RunRecord, lease: Lease): boolean => {
    const at = now();
    if (!holds(record.runId, lease.owner, at)) return false;
    records.set(record.runId, { record, agent: record.agent, status: record.status, updatedAt: record.updatedAt });
    if (record.status === 'running') leases.set(record.runId, { owner: lease.owner, expiresAt: at + lease.ttlMs });
    else leases.delete(record.runId);
    if (hasEnded(record.status)) {
      cancels.delete(record.runId);
      retire(record.runId);
    } else ended.delete(record.runId);
    return true;
  };

  const runs: RunStore = {
    async claim(runId, lease: Lease) {
      const at = now();
      const stored = records.get(runId);
      const held = leases.get(runId);
      if (stored && held && held.owner !== lease.owner && held.expiresAt > at) {
        return { held: false, record: structuredClone(stored.record) };
      }
      leases.set(runId, { owner: lease.owner, expiresAt: at + lease.ttlMs });
      return { held: true, record: stored && structuredClone(stored.record) };
    },
    async renew(runId, lease) {
      const at = now();
      const held = holds(runId, lease.owner, at);
      if (held) leases.set(runId, { owner: lease.owner, expiresAt: at + lease.ttlMs });
      return { held, cancelRequested: cancels.has(runId) };
    },
    async get(runId) {
      const stored = records.get(runId);
      return stored && withLease(runId, stored, now());
    },
    async list(query: RunQuery = {}) {
      const at = now();
      return [...records]
        .filter(([, r]) => (query.agent === undefined || r.agent === query.agent) && (query.status === undefined || r.status === query.status))
        .sort(([a, x], [b, y]) => y.updatedAt - x.updatedAt || (a < b ? -1 : a > b ? 1 : 0))
        .slice(0, query.limit ?? DEFAULT_LIST_LIMIT)
        .map(([runId, stored]) => withLease(runId, stored, at));
    },
    async requestCancel(runId) {
      const stored = records.get(runId);
      if (!stored || hasEnded(stored.status)) return false;
      cancels.add(runId);
      notifyCancel(cancelListeners, runId, report);
      return true;
    },
    onCancel(listener) {
      cancelListeners.add(listener);
      return () => void cancelListeners.delete(listener);
    },
    subscribe(runId, listener, after) {
      return feed.subscribe(runId, listener, after);
    },
    save,
    appendEvent: append,
  };

  return {
    runs,
    close() {
      feed.close();
      cancelListeners.clear();
    },
  };
}

/**
 * An event as the log keeps it until it is read: the run-end event's result is its caller's too
 * (who may push to its arrays), so it is kept as a copy of them; every other event is built for
 * the emit and never changed after it.
 */
function kept(event: RunEvent): RunEvent {
  if (event.type !== 'run-end') return event;
  const result = { ...event.result, messages: event.result.messages.slice() };
  if (event.result.interruptions) result.interruptions = event.result.interruptions.slice();
  return { type: 'run-end', result };
}
