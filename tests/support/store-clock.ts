/**
 * The clock a store's leases, times to live and spend windows run on, as a test moves it past
 * them. The memory store reads it through its `now` option and the SQLite store through
 * `Date.now()` (spied on here, restored by `vi.restoreAllMocks()`): there `pass` moves it forward
 * at once, so no test waits out a time to live in real time. Redis keeps time itself (PX expiries,
 * TIME), so there `pass` sleeps.
 *
 * On every store the clock also runs on its own, so a check that something is still held must
 * come within its time to live although a loaded machine stalls the calls before it (the 2-core CI
 * machine, running the suite, a browser and redis-servers, stalls for hundreds of ms): such times
 * to live leave a second or more ({@link HELD_MS}), and a test passes more than that to see them
 * lapse.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { vi } from 'vitest';

/** A time to live (ms) that outlasts the few store calls a test makes before it checks it still holds. */
export const HELD_MS = 1_500;

/** Moves the clock of one kind of store. */
export interface StoreClock {
  /** The store's time in ms since the epoch: what memoryStore({ now }) takes. */
  now(): number;
  /** Lets `ms` pass on the store's clock (at once, or for Redis by sleeping). */
  pass(ms: number): Promise<void>;
}

/**
 * The clock of a `memory`, `sqlite` or `redis` store; for `sqlite` it spies on `Date.now()`
 * until `vi.restoreAllMocks()`.
 */
export function storeClock(store: string): StoreClock {
  if (store === 'redis') return { now: () => Date.now(), pass: (ms) => sleep(ms) };
  const realNow = Date.now.bind(Date);
  let offset = 0;
  const now = () => realNow() + offset;
  if (store === 'sqlite') vi.spyOn(Date, 'now').mockImplementation(now);
  return {
    now,
    pass: async (ms) => {
      offset += ms;
    },
  };
}
