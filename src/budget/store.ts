/**
 * Where per-agent spend lives: the rolling USD window shared by every run of an agent (and, with
 * Redis, by every process). Reserve and settle are each one atomic operation.
 */

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

/** A spend store: in memory (one process) or Redis (a fleet). */
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

/** The store could not be reached or answered wrongly. The guard fails closed by default. */
export class BudgetStoreError extends Error {
  override readonly name = 'BudgetStoreError';
  readonly kind = 'budget_store_unavailable';
}

/** The key of an agent's spend window: `tracebound:spend:<agent name>`. */
export function spendKey(agentName: string, prefix = 'tracebound'): string {
  return `${prefix}:spend:${agentName}`;
}
