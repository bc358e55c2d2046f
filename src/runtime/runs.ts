/**
 * Durable runs as a runtime shows them (`runtime.runs`, `runtime.resume`, `runtime.cancel`,
 * `runtime.subscribe`): plain data, the same whichever store holds them. The stores (state/)
 * write and read these shapes. The README's "Durable runs and approvals" shows them in use.
 */
import type { Interruption, RunEvent, RunResult } from './events.js';
import type { RunState } from './run-state.js';

/**
 * Where a run is: `running` (a process holds its lease, or held it until it died: see
 * {@link RunInfo.leaseExpired}), `interrupted` (waiting for tool approvals), `completed` (it has
 * a result), `failed` (it was aborted, timed out or failed: see {@link RunInfo.error}).
 */
export type RunStatus = 'running' | 'interrupted' | 'completed' | 'failed';

/** A decision on one tool call: `true` runs it; `{ approved: false, reason }` answers the model with an error result. */
export type ApprovalDecision = true | { approved: true } | { approved: false; reason?: string };

/** Decisions by tool call id. */
export type Approvals = Readonly<Record<string, ApprovalDecision>>;

/** A run as `runtime.runs` shows it. */
export interface RunInfo {
  runId: string;
  /** The agent's name. */
  agent: string;
  status: RunStatus;
  /** The last step checkpointed (1-based; 0 before the first step ended). */
  step: number;
  conversationId?: string;
  /** The tool calls an `interrupted` run waits on. */
  interruptions?: Interruption[];
  /** A `completed` run's result. */
  result?: RunResult;
  /** A `failed` run's error: its type (`error.type`), a message with secrets masked, its stop reason. */
  error?: { type: string; message: string; stopReason: 'aborted' | 'timeout' | 'error' };
  /**
   * A `running` run whose lease lapsed: the process running it died (or stalled past its lease),
   * so `resume` may take it over.
   */
  leaseExpired?: boolean;
  /** When the run started, ISO 8601 (UTC). */
  createdAt: string;
  /** When its last checkpoint was written, ISO 8601 (UTC). */
  updatedAt: string;
}

/** What {@link Runs.list} lists. */
export interface RunQuery {
  agent?: string;
  status?: RunStatus;
  /** At most this many (default 100), most recently updated first. */
  limit?: number;
}

/** A runtime's recorded runs. Each call may reject with a `StoreError`. */
export interface Runs {
  /** The run, or `undefined` when the store has none with that id. */
  get(runId: string): Promise<RunInfo | undefined>;
  /** Runs, most recently updated first. */
  list(query?: RunQuery): Promise<RunInfo[]>;
}

/** What `runtime.resume()` takes besides the agent and run id. */
export interface ResumeOptions {
  /** Decisions on the interrupted run's tool calls, by tool call id; calls left out stay pending. */
  approvals?: Approvals;
  signal?: AbortSignal;
  /** Wall-time limit of the resumed part, in ms. */
  timeoutMs?: number;
}

/** One run event as `subscribe` delivers it: the event, and its id in the run's event log. */
export interface RunEventEntry {
  /**
   * The event's position in the run's log, increasing within a run: pass it back as `after` (the
   * SSE `Last-Event-ID`) to get only later events.
   */
  id: string;
  /**
   * The event as JSON carries it across processes: errors become `{ type, message }` (masked);
   * everything else is as `stream()` yields it.
   */
  event: RunEvent;
}

/** What `runtime.subscribe()` takes. */
export interface SubscribeOptions {
  /** Deliver the logged events after this id first (a reconnecting SSE client's `Last-Event-ID`). */
  after?: string;
}

/**
 * What a runtime needs of its store's durable runs: made by the durable runs middleware
 * (state/runs.ts), which checkpoints every run; `runtime.runs`, `resume`, `cancel` and
 * `subscribe` call it.
 */
export interface DurableRuns {
  readonly runs: Runs;
  /**
   * Takes a run over to resume it: reads its record and claims its lease.
   * @param prepare readies the checkpointed state (decisions, budget ledger) before the run goes
   *   on; what it throws rejects `take`, and the run's lease is given back.
   * @returns a completed run's result, or the checkpointed state to continue: this process then
   *   holds the run's lease, and the next run of that id on this runtime (`runAgent` with
   *   `resumed`) keeps it.
   * @throws {RunNotFoundError} when the store has no such run.
   * @throws {RunInProgressError} when another process holds its live lease.
   */
  take(runId: string, prepare: (state: RunState) => void): Promise<{ result: RunResult } | { state: RunState }>;
  /** Aborts the run here at once when this process runs it, and asks every other process sharing the store. */
  cancel(runId: string): Promise<boolean>;
  /** The run's logged events after `after`, then each new one. @returns the unsubscribe function. */
  subscribe(runId: string, listener: (entry: RunEventEntry) => void, after?: string): () => void;
}
