/**
 * A process that uses every listening part of a run store, then closes it, spawned by
 * tests/state/run-store.test.ts as `node --import tsx tests/state/run-store-exit.ts <store>`, where
 * `<store>` is `memory`, a SQLite file or a Redis URL (`redis://...`). It subscribes to a run's
 * events, listens for cancels, gets one event and one notice, closes the store and prints
 * `closed`; the test then expects the process to exit on its own: close() must leave no open
 * handle (socket, timer) behind.
 */
import { memoryStore } from '../../src/state/memory.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import { runRecord } from '../support/run-record.js';

const where = process.argv[2] ?? 'memory';
const store =
  where === 'memory' ? memoryStore() : where.startsWith('redis://') ? redisStore({ url: where, timeoutMs: 10_000 }) : sqliteStore({ path: where });
const runId = `exit-${process.pid}`;
const event = new Promise<void>((resolve) => store.runs.subscribe(runId, () => resolve()));
const cancel = new Promise<void>((resolve) => store.runs.onCancel(() => resolve()));
const lease = { owner: 'exit', ttlMs: 10_000 };
await store.runs.claim(runId, lease);
await store.runs.save(runRecord(runId, 'exit'), lease);
await store.runs.appendEvent(runId, { type: 'step-start', step: 1 });
await store.runs.requestCancel(runId);
await Promise.all([event, cancel]);
// A subscription still open at close() must not keep the process alive either.
store.runs.subscribe(`${runId}-other`, () => undefined);
await store.close();
console.log('closed');
