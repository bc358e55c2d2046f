/**
 * One process of a simulated fleet, spawned by tests/state/stores.test.ts as
 * `node --import tsx tests/state/fleet-worker.ts '<json WorkerConfig>'`.
 *
 * - `fleet`: connects, prints `ready`, waits for `go <epoch ms>` on stdin and then for that instant
 *   (so every process starts spending at once), runs `runs` concurrent runs of up to `cycles` model calls each (reserve, a short
 *   "call", settle a random actual cost <= the grant; a refusal ends the run), then prints one
 *   JSON {@link FleetReport} line and exits.
 * - `hold`: reserves once, prints the JSON `ReserveResult`, and never settles: the test
 *   SIGKILLs it, as a crash mid-call.
 */
import { createInterface } from 'node:readline';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';

/** What the test passes on the command line. Amounts in USD, durations in ms. */
export interface WorkerConfig {
  mode: 'fleet' | 'hold';
  /** The Redis server the processes share, unless `sqlite` is set. */
  url: string;
  /** The SQLite file the processes share instead of Redis. */
  sqlite?: string;
  key: string;
  limitUsd: number;
  maxUsd: number;
  minUsd: number;
  windowMs: number;
  ttlMs: number;
  /** fleet: concurrent runs in this process. */
  runs?: number;
  /** fleet: most model calls per run. */
  cycles?: number;
}

/** A fleet worker's totals. `settledNanos` is exact (nano-dollars), so reports sum without drift. */
export interface FleetReport {
  pid: number;
  grants: number;
  refusals: number;
  settledNanos: number;
  maxGrantedUsd: number;
  /** What the process's opening reservation, made before `ready` while nothing else spends, was granted. */
  openingUsd: number;
}

const config = JSON.parse(process.argv[2] ?? '') as WorkerConfig;
const store = config.sqlite ? sqliteStore({ path: config.sqlite }) : redisStore({ url: config.url, timeoutMs: 10_000 });
const request = {
  key: config.key,
  maxUsd: config.maxUsd,
  minUsd: config.minUsd,
  limitUsd: config.limitUsd,
  windowMs: config.windowMs,
  ttlMs: config.ttlMs,
};

if (config.mode === 'hold') {
  const result = await store.reserve({ ...request, id: `hold-${process.pid}` });
  console.log(JSON.stringify(result));
  // Keep the process (and its unsettled reservation) alive until the test kills it.
  setInterval(() => undefined, 60_000);
} else {
  // Touch the store first so connecting is not part of the race, with one reservation (settled at
  // nothing) that shows this process reserves from the shared window whatever the race does later:
  // on a loaded machine one process may stall while the others spend the whole window.
  const opening = await store.reserve({ ...request, id: `opening-${process.pid}` });
  await store.settle({ key: config.key, id: `opening-${process.pid}`, actualUsd: 0, windowMs: config.windowMs });
  console.log('ready');
  // `go <epoch ms>`: every process starts spending at that instant, however late the line reached
  // it (on a loaded machine a pipe write can be delivered to one process well after the other).
  const startAt = await new Promise<number>((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.on('line', (line) => {
      const [word, at] = line.trim().split(' ');
      if (word === 'go') {
        lines.close();
        // An open stdin pipe would keep this process alive after its report.
        process.stdin.destroy();
        resolve(Number(at ?? 0));
      }
    });
  });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - Date.now())));

  const report: FleetReport = { pid: process.pid, grants: 0, refusals: 0, settledNanos: 0, maxGrantedUsd: 0, openingUsd: opening.grantedUsd };
  const run = async (runIndex: number): Promise<void> => {
    for (let cycle = 0; cycle < (config.cycles ?? 3); cycle++) {
      const id = `${process.pid}-${runIndex}-${cycle}`;
      const { grantedUsd } = await store.reserve({ ...request, id });
      if (grantedUsd === 0) {
        report.refusals++;
        return;
      }
      report.grants++;
      report.maxGrantedUsd = Math.max(report.maxGrantedUsd, grantedUsd);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
      const actualNanos = Math.floor(Math.random() * Math.round(grantedUsd * 1e9));
      await store.settle({ key: config.key, id, actualUsd: actualNanos / 1e9, windowMs: config.windowMs });
      report.settledNanos += actualNanos;
    }
  };
  await Promise.all(Array.from({ length: config.runs ?? 25 }, (_, i) => run(i)));
  console.log(JSON.stringify(report));
  await store.close();
}
