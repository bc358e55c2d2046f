/**
 * The SQLite store: state in one file, shared by the processes of one machine (the CLI's default,
 * `.tracebound/state.db`). Over better-sqlite3 (synchronous, in-process), in WAL mode so readers
 * never wait for a writer; every write is one IMMEDIATE transaction, which takes the file's write
 * lock at its start, so processes never interleave inside one: a spend window's reserve and
 * settle, a conversation's lease-and-read and append-and-release, and a run's claim, checkpoint
 * and event append (sqlite-runs.ts), are each atomic across processes. Its spend window computes
 * exactly what the in-memory store computes.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type { Message } from '../messages.js';
import type { Conversation, ConversationInfo, ConversationSummary } from '../runtime/conversations.js';
import { storeError, StoreError, type StoreArea } from './errors.js';
import { actualNanos, durationMs, reserveArgs, toUsd } from './memory.js';
import { RUNS_MIGRATION, sqliteRuns, type SqliteRunOptions } from './sqlite-runs.js';
import { DEFAULT_LIST_LIMIT, isoTime, type Acquired, type ConversationStore, type Store } from './store.js';

/** Options of {@link sqliteStore}; the run store's (event log bounds and polling, `onError`) included. */
export interface SqliteStoreOptions extends SqliteRunOptions {
  /** The database file; it and its directory are created on first use. */
  path: string;
  /**
   * Longest wait, in ms, for another process's write to finish before an operation fails with
   * `StoreError` (SQLite's `busy_timeout`). Default 5,000.
   */
  busyTimeoutMs?: number;
}

/**
 * The schema, one migration per version (`tracebound_migrations` records those applied). A
 * release that changes the schema appends a migration; never edit one that shipped.
 * @internal exported for the migration tests.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE spend_reservations (
     key TEXT NOT NULL, id TEXT NOT NULL, nanos INTEGER NOT NULL, expires_at INTEGER NOT NULL,
     PRIMARY KEY (key, id)) WITHOUT ROWID;
   CREATE INDEX spend_reservations_expiry ON spend_reservations (key, expires_at);
   CREATE TABLE spend_settled (
     key TEXT NOT NULL, id TEXT NOT NULL, nanos INTEGER NOT NULL, at INTEGER NOT NULL,
     PRIMARY KEY (key, id)) WITHOUT ROWID;
   CREATE INDEX spend_settled_time ON spend_settled (key, at);
   CREATE TABLE conversations (
     id TEXT PRIMARY KEY, agent TEXT NOT NULL, messages INTEGER NOT NULL,
     created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX conversations_updated ON conversations (updated_at);
   CREATE TABLE conversation_messages (
     conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, message TEXT NOT NULL,
     PRIMARY KEY (conversation_id, seq)) WITHOUT ROWID;
   CREATE TABLE conversation_leases (
     conversation_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;`,
  // 2: retention by time (a conversation past `expires_at`, in ms, is gone; NULL keeps it) and a
  // stored summary of the first `summary_covers` messages.
  `ALTER TABLE conversations ADD COLUMN expires_at INTEGER;
   CREATE INDEX conversations_expiry ON conversations (expires_at) WHERE expires_at IS NOT NULL;
   ALTER TABLE conversations ADD COLUMN summary TEXT;
   ALTER TABLE conversations ADD COLUMN summary_covers INTEGER;`,
  // 3: durable runs: records (JSON text) with their leases and cancel flags, and event logs.
  RUNS_MIGRATION,
];

/** The schema version this release writes. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

const require = createRequire(import.meta.url);

/**
 * A store in a SQLite file, for the processes of one machine (not a network file system: SQLite's
 * locks do not hold there; use `redisStore` for a fleet). Nothing is opened, and better-sqlite3
 * is not loaded, until the first operation; that one creates the file and its directory, turns on
 * WAL and brings the schema to this release's version. Commits are `synchronous = NORMAL`: a
 * crashed process loses nothing committed; a power cut may lose the last commits.
 *
 * Errors: every method rejects with `StoreError` (`BudgetStoreError` for the spend window) naming
 * the file and what to do, when it is not a SQLite database or is damaged, cannot be created,
 * stays locked by another process beyond `busyTimeoutMs`, was written by a newer release, or the
 * store was closed; with `RangeError` on malformed amounts or durations.
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  const { path } = options;
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  let db: Statements | undefined;
  let closed = false;

  /** Runs `op` on the open database (opening it first); every failure becomes the area's store error. */
  function use<T>(area: StoreArea, what: string, op: (s: Statements) => T): T {
    try {
      if (closed) throw storeError(area, 'sqlite', `The SQLite store at ${path} is closed: make a new one.`);
      db ??= open(path, busyTimeoutMs);
      return op(db);
    } catch (error) {
      throw error instanceof StoreError || error instanceof RangeError ? error : failure(area, path, what, busyTimeoutMs, error);
    }
  }

  /** {@link use}, as a promise that rejects with its error. */
  function run<T>(area: StoreArea, what: string, op: (s: Statements) => T): Promise<T> {
    try {
      return Promise.resolve(use(area, what, op));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  const runs = sqliteRuns((what, op) => use('runs', what, (s) => op(s.db)), options);

  const conversations: ConversationStore = {
    acquire: (id, lease) => run('conversations', 'take the lease of a conversation', (s) => s.acquire.immediate(id, lease.owner, lease.ttlMs)),
    renew: (id, lease) =>
      run('conversations', 'renew the lease of a conversation', (s) => s.renew.run(Date.now() + lease.ttlMs, id, lease.owner, Date.now()).changes > 0),
    append: (id, turn) =>
      run('conversations', 'save a conversation turn', (s) =>
        s.append.immediate(id, turn.owner, turn.agent, turn.messages, turn.drop ?? 0, turn.ttlMs ?? null, turn.summary ?? null),
      ),
    release: (id, owner) => run('conversations', 'release the lease of a conversation', (s) => void s.release.run(id, owner)),
    get: (id) => run('conversations', 'read a conversation', (s) => s.read(id, Date.now())),
    list: (query = {}) =>
      run('conversations', 'list conversations', (s) => {
        const limit = query.limit ?? DEFAULT_LIST_LIMIT;
        const rows = query.agent === undefined ? s.list.all(Date.now(), limit) : s.listByAgent.all(query.agent, Date.now(), limit);
        return rows.map((row): ConversationInfo => infoOf(row as ConversationRow));
      }),
    delete: (id) => run('conversations', 'delete a conversation', (s) => s.remove.immediate(id)),
  };

  return {
    name: 'sqlite',
    conversations,
    runs: runs.runs,
    reserve(request) {
      return run('spend', 'reserve', (s) => {
        const a = reserveArgs(request);
        return s.reserve.immediate(request.key, request.id, a.maxNanos, a.minNanos, a.limitNanos, a.windowMs, a.ttlMs);
      });
    },
    settle(request) {
      return run('spend', 'settle', (s) => s.settle.immediate(request.key, request.id, actualNanos(request.actualUsd), durationMs('windowMs', request.windowMs)));
    },
    window(key, windowMs) {
      return run('spend', 'window', (s) => s.window.immediate(key, durationMs('windowMs', windowMs)));
    },
    async close() {
      closed = true;
      await runs.close();
      db?.db.close();
      db = undefined;
    },
  };
}

interface ConversationRow {
  id: string;
  agent: string;
  messages: number;
  created_at: number;
  updated_at: number;
}

/** A row as `read` selects it, with the summary. */
interface FullRow extends ConversationRow {
  summary: string | null;
  summary_covers: number | null;
}

function infoOf(row: ConversationRow): ConversationInfo {
  return { id: row.id, agent: row.agent, messages: row.messages, createdAt: isoTime(row.created_at), updatedAt: isoTime(row.updated_at) };
}

type Transaction<A extends unknown[], R> = BetterSqlite3.Transaction<(...args: A) => R>;

/** The open database and its operations, each prepared once. */
interface Statements {
  db: BetterSqlite3.Database;
  reserve: Transaction<[string, string, number, number, number, number, number], { grantedUsd: number; spentUsd: number; reservedUsd: number; remainingUsd: number }>;
  settle: Transaction<[string, string, number, number], void>;
  window: Transaction<[string, number], { spentUsd: number; reservedUsd: number }>;
  acquire: Transaction<[string, string, number], Acquired>;
  renew: BetterSqlite3.Statement<[number, string, string, number]>;
  append: Transaction<[string, string, string, readonly Message[], number, number | null, ConversationSummary | null], boolean>;
  release: BetterSqlite3.Statement<[string, string]>;
  /** The conversation unless it is past its time to live at `at` (ms). */
  read(id: string, at: number): Conversation | undefined;
  list: BetterSqlite3.Statement<[number, number]>;
  listByAgent: BetterSqlite3.Statement<[string, number, number]>;
  remove: Transaction<[string], boolean>;
}

/**
 * Opens the file (creating it), turns on WAL, migrates the schema and prepares the statements.
 * @throws what better-sqlite3 throws, or a {@link StoreError} for a schema from a newer release.
 */
function open(path: string, busyTimeoutMs: number): Statements {
  let Database: typeof BetterSqlite3;
  try {
    Database = require('better-sqlite3') as typeof BetterSqlite3;
  } catch (error) {
    throw new StoreError(
      'sqlite',
      `better-sqlite3 could not be loaded (${(error as Error).message}): run \`npm rebuild better-sqlite3\` (it builds a native addon for this Node.js).`,
      { cause: error },
    );
  }
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, path);
    return prepare(db);
  } catch (error) {
    db.close();
    throw error;
  }
}

function migrate(db: BetterSqlite3.Database, path: string): void {
  db.exec('CREATE TABLE IF NOT EXISTS tracebound_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  db.transaction(() => {
    const { version } = db.prepare('SELECT COALESCE(MAX(version), 0) AS version FROM tracebound_migrations').get() as { version: number };
    if (version > MIGRATIONS.length) {
      throw new StoreError(
        'sqlite',
        `${path} has schema version ${version}, written by a newer tracebound (this one knows up to ${MIGRATIONS.length}): upgrade tracebound, or point sqliteStore at another file.`,
      );
    }
    const record = db.prepare('INSERT INTO tracebound_migrations (version, applied_at) VALUES (?, ?)');
    for (let v = version + 1; v <= MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v - 1] as string);
      record.run(v, Date.now());
    }
  }).immediate();
}

function prepare(db: BetterSqlite3.Database): Statements {
  const q = (sql: string) => db.prepare(sql);
  const dropSpent = q('DELETE FROM spend_settled WHERE key = ? AND at < ?');
  const dropHeld = q('DELETE FROM spend_reservations WHERE key = ? AND expires_at <= ?');
  const spent = q('SELECT COALESCE(SUM(nanos), 0) AS n FROM spend_settled WHERE key = ?').pluck();
  const held = q('SELECT COALESCE(SUM(nanos), 0) AS n FROM spend_reservations WHERE key = ?').pluck();
  const reservation = q('SELECT nanos FROM spend_reservations WHERE key = ? AND id = ?').pluck();
  const hold = q('INSERT INTO spend_reservations (key, id, nanos, expires_at) VALUES (?, ?, ?, ?)');
  const settledId = q('SELECT 1 FROM spend_settled WHERE key = ? AND id = ?').pluck();
  const unhold = q('DELETE FROM spend_reservations WHERE key = ? AND id = ?');
  const spend = q('INSERT INTO spend_settled (key, id, nanos, at) VALUES (?, ?, ?, ?)');
  /** Drops spends older than the window and lapsed reservations, as the memory store does. */
  const prune = (key: string, windowMs: number, at: number) => {
    dropSpent.run(key, at - windowMs);
    dropHeld.run(key, at);
  };

  const leaseOf = q('SELECT owner, expires_at FROM conversation_leases WHERE conversation_id = ?');
  const setLease = q(
    'INSERT INTO conversation_leases (conversation_id, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT (conversation_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at',
  );
  const holds = q('SELECT 1 FROM conversation_leases WHERE conversation_id = ? AND owner = ? AND expires_at > ?').pluck();
  const dropLease = q('DELETE FROM conversation_leases WHERE conversation_id = ? AND owner = ?');
  const LIVE = '(expires_at IS NULL OR expires_at > ?)';
  const COLUMNS = 'id, agent, messages, created_at, updated_at';
  const row = q(`SELECT ${COLUMNS}, summary, summary_covers FROM conversations WHERE id = ? AND ${LIVE}`);
  const messagesOf = q('SELECT message FROM conversation_messages WHERE conversation_id = ? ORDER BY seq').pluck();
  const create = q('INSERT INTO conversations (id, agent, messages, created_at, updated_at) VALUES (?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING');
  const count = q('SELECT messages FROM conversations WHERE id = ?').pluck();
  const nextSeq = q('SELECT COALESCE(MAX(seq), -1) + 1 FROM conversation_messages WHERE conversation_id = ?').pluck();
  const addMessage = q('INSERT INTO conversation_messages (conversation_id, seq, message) VALUES (?, ?, ?)');
  const dropOldest = q(
    'DELETE FROM conversation_messages WHERE conversation_id = ? AND seq IN (SELECT seq FROM conversation_messages WHERE conversation_id = ? ORDER BY seq LIMIT ?)',
  );
  const touch = q('UPDATE conversations SET messages = ?, updated_at = ?, expires_at = ? WHERE id = ?');
  const setSummary = q('UPDATE conversations SET summary = ?, summary_covers = ? WHERE id = ?');
  const shiftSummary = q('UPDATE conversations SET summary_covers = MAX(0, summary_covers - ?) WHERE id = ? AND summary IS NOT NULL');
  const deleteMessages = q('DELETE FROM conversation_messages WHERE conversation_id = ?');
  const deleteConversation = q('DELETE FROM conversations WHERE id = ?');
  const expired = q('SELECT 1 FROM conversations WHERE id = ? AND NOT ' + LIVE).pluck();
  /** Forgets the conversation when it is past its time to live, so a new turn starts it anew. */
  const purgeExpired = (id: string, at: number) => {
    if (expired.get(id, at) === undefined) return;
    deleteMessages.run(id);
    deleteConversation.run(id);
  };

  const read = (id: string, at: number): Conversation | undefined => {
    const r = row.get(id, at) as FullRow | undefined;
    if (!r) return undefined;
    const info = infoOf(r);
    const messages = (messagesOf.all(id) as string[]).map((m) => JSON.parse(m) as Message);
    const conversation: Conversation = { id, agent: info.agent, messages, createdAt: info.createdAt, updatedAt: info.updatedAt };
    if (r.summary !== null) conversation.summary = { content: r.summary, covers: r.summary_covers ?? 0 };
    return conversation;
  };

  return {
    db,
    reserve: db.transaction((key: string, id: string, maxN: number, minN: number, limitN: number, windowMs: number, ttlMs: number) => {
      const at = Date.now();
      prune(key, windowMs, at);
      const spentN = spent.get(key) as number;
      let heldN = held.get(key) as number;
      let granted = reservation.get(key, id) as number | undefined;
      if (granted === undefined) {
        const room = limitN - spentN - heldN;
        granted = room >= minN ? Math.min(maxN, room) : 0;
        if (granted > 0) {
          hold.run(key, id, granted, at + ttlMs);
          heldN += granted;
        }
      }
      return { grantedUsd: toUsd(granted), spentUsd: toUsd(spentN), reservedUsd: toUsd(heldN), remainingUsd: toUsd(Math.max(0, limitN - spentN - heldN)) };
    }),
    settle: db.transaction((key: string, id: string, nanos: number, windowMs: number) => {
      const at = Date.now();
      prune(key, windowMs, at);
      if (settledId.get(key, id) !== undefined) return;
      unhold.run(key, id);
      spend.run(key, id, nanos, at);
    }),
    window: db.transaction((key: string, windowMs: number) => {
      prune(key, windowMs, Date.now());
      return { spentUsd: toUsd(spent.get(key) as number), reservedUsd: toUsd(held.get(key) as number) };
    }),
    acquire: db.transaction((id: string, owner: string, ttlMs: number): Acquired => {
      const at = Date.now();
      const lease = leaseOf.get(id) as { owner: string; expires_at: number } | undefined;
      if (lease && lease.owner !== owner && lease.expires_at > at) return { held: false };
      setLease.run(id, owner, at + ttlMs);
      return { held: true, conversation: read(id, at) };
    }),
    renew: q('UPDATE conversation_leases SET expires_at = ? WHERE conversation_id = ? AND owner = ? AND expires_at > ?') as BetterSqlite3.Statement<[number, string, string, number]>,
    append: db.transaction(
      (id: string, owner: string, agent: string, messages: readonly Message[], drop: number, ttlMs: number | null, summary: ConversationSummary | null) => {
        const at = Date.now();
        if (holds.get(id, owner, at) === undefined) return false;
        purgeExpired(id, at);
        create.run(id, agent, at, at);
        let seq = nextSeq.get(id) as number;
        for (const m of messages) addMessage.run(id, seq++, JSON.stringify(m));
        const dropped = drop > 0 ? dropOldest.run(id, id, drop).changes : 0;
        touch.run((count.get(id) as number) + messages.length - dropped, at, ttlMs === null ? null : at + ttlMs, id);
        if (summary) setSummary.run(summary.content, summary.covers, id);
        if (dropped > 0) shiftSummary.run(dropped, id);
        dropLease.run(id, owner);
        return true;
      },
    ),
    release: dropLease as BetterSqlite3.Statement<[string, string]>,
    read,
    list: q(`SELECT ${COLUMNS} FROM conversations WHERE ${LIVE} ORDER BY updated_at DESC, id LIMIT ?`) as BetterSqlite3.Statement<[number, number]>,
    listByAgent: q(
      `SELECT ${COLUMNS} FROM conversations WHERE agent = ? AND ${LIVE} ORDER BY updated_at DESC, id LIMIT ?`,
    ) as BetterSqlite3.Statement<[string, number, number]>,
    remove: db.transaction((id: string) => {
      purgeExpired(id, Date.now());
      deleteMessages.run(id);
      return deleteConversation.run(id).changes > 0;
    }),
  };
}

/** A better-sqlite3 failure as the store error a user can act on. */
function failure(area: StoreArea, path: string, what: string, busyTimeoutMs: number, error: unknown): StoreError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT'
      ? `${path} is not a SQLite database or is damaged: move it away (tracebound makes a new one on next use) or point sqliteStore at another file`
      : code === 'SQLITE_BUSY'
        ? `another process held ${path} locked for over ${busyTimeoutMs} ms: raise sqliteStore's busyTimeoutMs`
        : code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code === 'SQLITE_PERM' || (error as { code?: string }).code === 'EACCES'
          ? `${path} cannot be opened for writing: check that its directory exists and is writable`
          : `check ${path}`;
  return storeError(area, 'sqlite', `SQLite store: ${what} failed (${message}); ${hint}.`, error);
}
