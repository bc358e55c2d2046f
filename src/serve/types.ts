/**
 * The long-running mode's contracts: inputs deliver messages, the server runs each as one traced
 * run, outputs receive every result. Inputs and outputs are small objects with start/stop, so a
 * user can bring their own.
 */
import type { Context } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import type { RunEvent, RunResult } from '../runtime/events.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Approvals } from '../runtime/runs.js';

/** One message to run: the user input, and where it came from. */
export interface InboundMessage {
  /** A stable id (the queue entry id, an HTTP request id, the schedule tick). */
  id: string;
  /** The raw payload as received; validated by the server (zod) before it runs. */
  payload: unknown;
  /** The input's name (`http`, `schedule`, `queue`, ...), recorded on the run span. */
  source: string;
  /** Trace context to continue (from an incoming W3C `traceparent`), when the sender gave one. */
  parentContext?: Context;
  /** The name of the agent to run (`POST /v1/agents/{name}/runs`); the server's default agent when absent. */
  agent?: string;
  /**
   * The run's tenant and user from outside the payload (HTTP: the `x-tracebound-tenant` and
   * `x-tracebound-user` headers, which a gateway that authenticated the caller can set); they win
   * over the payload's `tenant` and `user`.
   */
  tenant?: string;
  user?: string;
}

/** How one message runs besides its payload. */
export interface DispatchOptions {
  /** Receives the run's events as they happen (for SSE). */
  onEvent?: (event: RunEvent) => void;
  /** Aborts this run (an HTTP client that disconnected): it fails with `RunAbortedError`. */
  signal?: AbortSignal;
}

/** What the server answers for one message. */
export type RunOutcome =
  | { ok: true; message: InboundMessage; result: RunResult }
  | { ok: false; message: InboundMessage; error: { type: string; message: string; stopReason?: string; field?: string; runId?: string } };

/** How an input hands a message to the server and learns its outcome. */
export interface Dispatcher {
  /**
   * Runs a message (waiting for a concurrency slot). Resolves with the outcome, a failed run
   * included (`ok: false`; an unknown `message.agent` is `agent_not_found`).
   * @throws {ServerBusyError} when the backlog is full (an HTTP input answers 429) or the server stops.
   */
  dispatch(message: InboundMessage, options?: DispatchOptions): Promise<RunOutcome>;
  /**
   * Resumes a recorded run (with decisions on its interrupted tool calls) as one more message:
   * through a concurrency slot, drained like a run, its outcome delivered to the outputs. The
   * agent is the one named by the run's record. `RunNotFoundError` and `RunInProgressError` are
   * `ok: false` outcomes of those types.
   * @throws {ServerBusyError} like {@link dispatch}.
   */
  resume?(message: InboundMessage, runId: string, options?: DispatchOptions & { approvals?: Approvals }): Promise<RunOutcome>;
  /** The served agent of that name, or the default agent when no name is given. */
  agent?(name?: string): Agent | undefined;
  /** The runtime the runs go through: its conversations and runs, which an HTTP input serves. */
  readonly runtime?: Pick<Runtime, 'conversations' | 'runs' | 'cancel' | 'subscribe'>;
  /** Most runs at once: an input that pulls work (a queue) takes no more than this. */
  readonly concurrency?: number;
}

/** A source of messages: HTTP, a schedule, a queue, or the user's own. */
export interface Input {
  readonly name: string;
  /** Starts taking messages and handing them to `dispatcher`. */
  start(dispatcher: Dispatcher): Promise<void>;
  /**
   * Stops taking new messages (in-flight ones finish; the server waits for them).
   * @param deadline aborted when the server's drain deadline passes: close whatever is left
   *   (stalled requests, idle connections) and resolve.
   */
  stop(deadline?: AbortSignal): Promise<void>;
}

/** A destination for outcomes: a webhook, stdout, a Redis stream, or the user's own. */
export interface Output {
  readonly name: string;
  /** Delivers one outcome; failures are retried by the output itself and recorded, never thrown at the run. */
  deliver(outcome: RunOutcome): Promise<void>;
  stop?(): Promise<void>;
}

/** The backlog is full: try again later (HTTP 429 with `retry-after`). */
export class ServerBusyError extends Error {
  override readonly name = 'ServerBusyError';
  constructor(readonly retryAfterSeconds: number) {
    super(`the server is busy: retry after ${retryAfterSeconds} s`);
  }
}
