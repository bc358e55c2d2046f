/**
 * Durable runs in the SQLite store's file (tables of schema version 3: `runs`, `run_leases`,
 * `run_events`, `run_event_logs`). Each write is one IMMEDIATE transaction, so a claim, a save, a
 * renew, a cancel request and an append are each atomic across the processes sharing the file.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { RunEvent } from '../runtime/events.js';
import type { RunQuery, RunStatus } from '../runtime/runs.js';
import {
  encodeRunEvent,
  leaseExpired,
  LocalFeed,
  notifyCancel,
  runLogSettings,
  type ClosableRunStore,
  type LoggedEvent,
  type RunLogSettings,
  type RunStoreOptions,
} from './run-store.js';
import { DEFAULT_LIST_LIMIT, type Lease, type RunClaim, type RunRecord, type RunStore } from './store.js';

/** Default interval, in ms, at which a subscribed SQLite store looks for other processes' events. */
export const DEFAULT_RUN_EVENT_POLL_MS = 250;

/** The SQLite run store's options. */
export interface SqliteRunOptions extends RunStoreOptions {
  /**
   * While this store has subscribers, how often it looks for events other processes appended to
   * the file, in ms (one indexed read of the newest event id; the logs are read only when it
   * moved). Events appended through this store are delivered at once. Default 250.
   */
  runEventPollMs?: number;
}

/**
 * Runs `op` on the open database, opening it first; every failure becomes a `StoreError` naming
 * the file and what to do. @internal
 */
export type UseDatabase = <T>(what: string, op: (db: BetterSqlite3.Database) => T) => T;

/**
 * The run store of `sqliteStore`. Records are kept until deleted from the file; a run's event log
 * keeps its newest `maxRunEvents` events for `runEventTtlMs` after its last append. Event ids are
 * the file's increasing row ids (as strings). Cancel requests set a flag every process reads on
 * its heartbeat (`renew`) and reach this store's `onCancel` listeners at once; other processes'
 * listeners do not hear them. Subscribers get this store's appends at once and other processes'
 * within `runEventPollMs`.
 * @internal
 */
export function sqliteRuns(use: UseDatabase, options: SqliteRunOptions = {}): ClosableRunStore {
  const settings = runLogSettings(options);
  const pollMs = options.runEventPollMs ?? DEFAULT_RUN_EVENT_POLL_MS;
  if (!Number.isFinite(pollMs) || pollMs <= 0) throw new RangeError(`runEventPollMs must be a positive number of ms, got ${pollMs}`);
  const statements = new WeakMap<BetterSqlite3.Database, RunStatements>();
  const cancelListeners = new Set<(runId: string) => void>();
  let lastSweep = 0;
  /** The newest event id this store has seen in the file, so a poll reads logs only when it moved. */
  let newestSeen = 0;
  let poll: NodeJS.Timeout | undefined;
  let closed = false;

  /** Runs `op` with the prepared statements, synchronously. */
  function sync<T>(what: string, op: (s: RunStatements) => T): T {
    return use(what, (db) => {
      let s = statements.get(db);
      if (!s) statements.set(db, (s = prepareRuns(db, settings)));
      return op(s);
    });
  }
  /** The same, as a promise that rejects with the `StoreError`. */
  function run<T>(what: string, op: (s: RunStatements) => T): Promise<T> {
    try {
      return Promise.resolve(sync(what, op));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  const feed = new LocalFeed((runId, after) => sync('read a run\'s events', (s) => s.events(runId, after, Date.now())), settings.report);

  function startPolling(): void {
    if (poll) return;
    /** Set while the poll fails, so a broken file is reported once, not at every poll. */
    let failing = false;
    // Unref'd: a process is not kept alive just to watch for other processes' events.
    poll = setInterval(() => {
      if (!feed.active) {
        clearInterval(poll);
        poll = undefined;
        return;
      }
      try {
        const newest = sync('look for new run events', (s) => s.newestId());
        failing = false;
        if (newest <= newestSeen) return;
        newestSeen = newest;
      } catch (error) {
        if (!failing) settings.report(error);
        failing = true;
        return;
      }
      feed.notifyAll();
    }, pollMs).unref();
  }

  /** Logs `event` as `runId`'s newest: `appendEvent`, synchronously (better-sqlite3 is). */
  const append = (runId: string, event: RunEvent): string => {
    const json = encodeRunEvent(event);
    const id = sync('append a run event', (s) => {
      const at = Date.now();
      if (at - lastSweep >= Math.min(settings.ttlMs, 60_000)) {
        lastSweep = at;
        s.sweep.immediate(at);
      }
      return s.append.immediate(runId, json, at);
    });
    newestSeen = Math.max(newestSeen, id);
    feed.notify(runId);
    return String(id);
  };

  /** `save`, synchronously. */
  const save = (record: RunRecord, lease: Lease): boolean =>
    sync('save a run checkpoint', (s) => s.save.immediate(record, JSON.stringify(record), lease.owner, lease.ttlMs));

  const runs: RunStore = {
    claim: (runId, lease) => run('claim a run', (s) => s.claim.immediate(runId, lease.owner, lease.ttlMs)),
    renew: (runId, lease) => run('renew the lease of a run', (s) => s.renew.immediate(runId, lease.owner, lease.ttlMs)),
    get: (runId) => run('read a run', (s) => s.get(runId, Date.now())),
    list: (query = {}) => run('list runs', (s) => s.list(query, Date.now())),
    async requestCancel(runId) {
      const requested = await run('request a run\'s cancel', (s) => s.cancel.run(runId).changes > 0);
      if (requested) notifyCancel(cancelListeners, runId, settings.report);
      return requested;
    },
    onCancel(listener) {
      cancelListeners.add(listener);
      return () => void cancelListeners.delete(listener);
    },
    subscribe(runId, listener, after) {
      const off = feed.subscribe(runId, listener, after);
      // After close() the feed's first read reports the closed store; nothing is polled.
      if (!closed) startPolling();
      return off;
    },
    save,
    appendEvent: append,
  };

  return {
    runs,
    close() {
      closed = true;
      clearInterval(poll);
      poll = undefined;
      feed.close();
      cancelListeners.clear();
    },
  };
}

/** The SQL of schema version 3 (the `runs` tables), appended to the store's migrations. @internal */
export const RUNS_MIGRATION = `CREATE TABLE runs (
     run_id TEXT PRIMARY KEY, agent TEXT NOT NULL, status TEXT NOT NULL, updated_at INTEGER NOT NULL,
     record TEXT NOT NULL, cancel_requested INTEGER NOT NULL DEFAULT 0);
   CREATE INDEX runs_updated ON runs (updated_at);
   CREATE INDEX runs_agent_updated ON runs (agent, updated_at);
   CREATE INDEX runs_status_updated ON runs (status, updated_at);
   CREATE TABLE run_leases (run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE TABLE run_events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, event TEXT NOT NULL);
   CREATE INDEX run_events_run ON run_events (run_id, id);
   CREATE TABLE run_event_logs (
     run_id TEXT PRIMARY KEY, last_at INTEGER NOT NULL, events INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX run_event_logs_time ON run_event_logs (last_at);`;

/**
 * How many events past `maxRunEvents` a SQLite log may hold before a trim (a tenth, at least 1):
 * a log keeps between `maxEvents` and `maxEvents + trimBatch - 1` events. @internal
 */
export function sqliteTrimBatch(maxEvents: number): number {
  return Math.max(1, Math.floor(maxEvents / 10));
}

type Transaction<A extends unknown[], R> = BetterSqlite3.Transaction<(...args: A) => R>;

interface RunStatements {
  claim: Transaction<[string, string, number], RunClaim>;
  save: Transaction<[RunRecord, string, string, number], boolean>;
  renew: Transaction<[string, string, number], { held: boolean; cancelRequested: boolean }>;
  get(runId: string, at: number): (RunRecord & { leaseExpired: boolean }) | undefined;
  list(query: RunQuery, at: number): Array<RunRecord & { leaseExpired: boolean }>;
  cancel: BetterSqlite3.Statement<[string]>;
  append: Transaction<[string, string, number], number>;
  /** Forgets the logs not appended to within the retention. */
  sweep: Transaction<[number], void>;
  events(runId: string, after: number, at: number): LoggedEvent[];
  newestId(): number;
}

interface RecordRow {
  record: string;
  status: RunStatus;
  expires_at: number | null;
}

function prepareRuns(db: BetterSqlite3.Database, settings: RunLogSettings): RunStatements {
  const q = (sql: string) => db.prepare(sql);
  const { maxEvents, ttlMs } = settings;
  const trimBatch = sqliteTrimBatch(maxEvents);
  const ENDED = `('completed', 'failed')`;
  const leaseOf = q('SELECT owner, expires_at FROM run_leases WHERE run_id = ?');
  const recordOf = q('SELECT record FROM runs WHERE run_id = ?').pluck();
  const setLease = q(
    'INSERT INTO run_leases (run_id, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at',
  );
  const holds = q('SELECT 1 FROM run_leases WHERE run_id = ? AND owner = ? AND expires_at > ?').pluck();
  const dropLease = q('DELETE FROM run_leases WHERE run_id = ?');
  const upsert = q(
    `INSERT INTO runs (run_id, agent, status, updated_at, record) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id) DO UPDATE SET agent = excluded.agent, status = excluded.status, updated_at = excluded.updated_at,
       record = excluded.record, cancel_requested = CASE WHEN excluded.status IN ${ENDED} THEN 0 ELSE cancel_requested END`,
  );
  const cancelRequested = q('SELECT cancel_requested FROM runs WHERE run_id = ?').pluck();
  const SELECT_RECORD = 'SELECT r.record, r.status, l.expires_at FROM runs r LEFT JOIN run_leases l ON l.run_id = r.run_id';
  const getRow = q(`${SELECT_RECORD} WHERE r.run_id = ?`);
  /** One prepared listing per filter combination, so each uses its index. */
  const listings = new Map<string, BetterSqlite3.Statement>();
  const withLease = (row: RecordRow, at: number) => ({
    ...(JSON.parse(row.record) as RunRecord),
    leaseExpired: leaseExpired(row.status, row.expires_at ?? undefined, at),
  });

  const logOf = q('SELECT last_at, events FROM run_event_logs WHERE run_id = ?');
  const dropEvents = q('DELETE FROM run_events WHERE run_id = ?');
  const insertEvent = q('INSERT INTO run_events (run_id, event) VALUES (?, ?)');
  const setLog = q(
    'INSERT INTO run_event_logs (run_id, last_at, events) VALUES (?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET last_at = excluded.last_at, events = excluded.events',
  );
  const dropOldest = q('DELETE FROM run_events WHERE id IN (SELECT id FROM run_events WHERE run_id = ? ORDER BY id LIMIT ?)');
  const sweepEvents = q('DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM run_event_logs WHERE last_at <= ?)');
  const sweepLogs = q('DELETE FROM run_event_logs WHERE last_at <= ?');
  const eventsAfter = q(
    `SELECT id, event AS json FROM run_events WHERE run_id = ? AND id > ?
       AND EXISTS (SELECT 1 FROM run_event_logs WHERE run_id = ? AND last_at > ?) ORDER BY id`,
  );
  const newest = q('SELECT COALESCE(MAX(id), 0) FROM run_events').pluck();

  return {
    claim: db.transaction((runId: string, owner: string, ttlMs: number): RunClaim => {
      const at = Date.now();
      const json = recordOf.get(runId) as string | undefined;
      const lease = leaseOf.get(runId) as { owner: string; expires_at: number } | undefined;
      if (json !== undefined && lease && lease.owner !== owner && lease.expires_at > at) {
        return { held: false, record: JSON.parse(json) as RunRecord };
      }
      setLease.run(runId, owner, at + ttlMs);
      return { held: true, record: json === undefined ? undefined : (JSON.parse(json) as RunRecord) };
    }),
    save: db.transaction((record: RunRecord, json: string, owner: string, ttlMs: number) => {
      const at = Date.now();
      if (holds.get(record.runId, owner, at) === undefined) return false;
      upsert.run(record.runId, record.agent, record.status, record.updatedAt, json);
      if (record.status === 'running') setLease.run(record.runId, owner, at + ttlMs);
      else dropLease.run(record.runId);
      return true;
    }),
    renew: db.transaction((runId: string, owner: string, ttlMs: number) => {
      const at = Date.now();
      const held = holds.get(runId, owner, at) !== undefined;
      if (held) setLease.run(runId, owner, at + ttlMs);
      return { held, cancelRequested: cancelRequested.get(runId) === 1 };
    }),
    get(runId, at) {
      const row = getRow.get(runId) as RecordRow | undefined;
      return row && withLease(row, at);
    },
    list(query, at) {
      const key = `${query.agent !== undefined}/${query.status !== undefined}`;
      let statement = listings.get(key);
      if (!statement) {
        const where = [query.agent !== undefined ? 'r.agent = @agent' : '', query.status !== undefined ? 'r.status = @status' : ''].filter(Boolean);
        statement = q(`${SELECT_RECORD} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.updated_at DESC, r.run_id LIMIT @limit`);
        listings.set(key, statement);
      }
      const params: Record<string, unknown> = { limit: query.limit ?? DEFAULT_LIST_LIMIT };
      if (query.agent !== undefined) params.agent = query.agent;
      if (query.status !== undefined) params.status = query.status;
      return (statement.all(params) as RecordRow[]).map((row) => withLease(row, at));
    },
    cancel: q(`UPDATE runs SET cancel_requested = 1 WHERE run_id = ? AND status NOT IN ${ENDED}`) as BetterSqlite3.Statement<[string]>,
    append: db.transaction((runId: string, json: string, at: number) => {
      const log = logOf.get(runId) as { last_at: number; events: number } | undefined;
      let count = log?.events ?? 0;
      // A log past its retention starts anew, as if the sweep had already forgotten it.
      if (log && log.last_at + ttlMs <= at) {
        dropEvents.run(runId);
        count = 0;
      }
      const id = Number(insertEvent.run(runId, json).lastInsertRowid);
      count++;
      // Trimmed in batches: one delete per `trimBatch` appends costs far less than one per append.
      if (count >= maxEvents + trimBatch) {
        dropOldest.run(runId, count - maxEvents);
        count = maxEvents;
      }
      setLog.run(runId, at, count);
      return id;
    }),
    sweep: db.transaction((at: number) => {
      sweepEvents.run(at - ttlMs);
      sweepLogs.run(at - ttlMs);
    }),
    events(runId, after, at) {
      return eventsAfter.all(runId, after, runId, at - ttlMs) as LoggedEvent[];
    },
    newestId() {
      return newest.get() as number;
    },
  };
}
