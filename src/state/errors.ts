/**
 * The errors of the state stores: typed, naming the store, and saying what to do about them.
 */
import { maskError, maskSecrets } from '../secrets.js';

/** Which part of the state an operation touched: spend windows (the budget), conversations or durable runs. */
export type StoreArea = 'spend' | 'conversations' | 'runs';

/**
 * A store could not be reached, timed out, is closed, or holds data it cannot read (a corrupt
 * SQLite file, a key of the wrong type). `store` names it (`memory`, `sqlite`, `redis`); the
 * message says what failed and what to do. The spend window's errors are the subclass
 * {@link BudgetStoreError}, so a guard can tell them apart.
 */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  /** `error.type` of the span it fails: `store_unavailable`. */
  readonly kind: string = 'store_unavailable';
  /** The store's name: `memory`, `sqlite`, `redis` or a custom store's. */
  readonly store: string;

  constructor(store: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.store = store;
  }
}

/**
 * A spend store (the budget's window) could not be reached or answered wrongly. The guard fails
 * closed by default (`onStoreError: 'closed'`).
 */
export class BudgetStoreError extends StoreError {
  override readonly name = 'BudgetStoreError';
  override readonly kind = 'budget_store_unavailable';
}

/**
 * Makes the error of a failed store operation: a {@link BudgetStoreError} for the spend window,
 * a {@link StoreError} otherwise. Known secrets are masked in its message and in its cause (a
 * driver's error may quote a command's arguments).
 */
export function storeError(area: StoreArea, store: string, message: string, cause?: unknown): StoreError {
  const options = cause === undefined ? undefined : { cause: maskError(cause) };
  const masked = maskSecrets(message);
  return area === 'spend' ? new BudgetStoreError(store, masked, options) : new StoreError(store, masked, options);
}

/**
 * Another run of the same conversation held it for longer than this run would wait
 * (`conversationWaitMs`): two runs of one conversation never interleave, so this one did not
 * start. Retry it later, or raise the wait.
 */
export class ConversationBusyError extends Error {
  override readonly name = 'ConversationBusyError';
  readonly kind = 'conversation_busy';
  readonly conversationId: string;

  constructor(conversationId: string, message: string) {
    super(message);
    this.conversationId = conversationId;
  }
}
