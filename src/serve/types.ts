/**
 * The long-running mode's contracts: inputs deliver messages, the server runs each as one traced
 * run, outputs receive every result. Inputs and outputs are small objects with start/stop, so a
 * user can bring their own.
 */
import type { Context } from '@opentelemetry/api';
import type { Conversations } from '../runtime/conversations.js';
import type { RunEvent, RunResult } from '../runtime/events.js';
import type { Runs } from '../runtime/runs.js';

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
  /** The run's id (`tracebound.run.id`), e.g. a queue job's id. Default: a random UUID. */
  runId?: string;
  /**
   * Continue run `runId` from its last checkpoint (`runtime.resume`) instead of starting it: a
   * queue job whose worker died mid-run. The payload is still validated; its input is not used.
   */
  resume?: boolean;
}

/** What the server answers for one message. */
export type RunOutcome =
  | { ok: true; message: InboundMessage; result: RunResult }
  | { ok: false; message: InboundMessage; error: { type: string; message: string; stopReason?: string; field?: string } };

/** How an input hands a message to the server and learns its outcome. */
export interface Dispatcher {
  /**
   * Runs a message (waiting for a concurrency slot). Resolves with the outcome; `onEvent`
   * receives the run's events as they happen (for SSE).
   * @throws {ServerBusyError} when the backlog is full (an HTTP input answers 429).
   */
  dispatch(message: InboundMessage, onEvent?: (event: RunEvent) => void): Promise<RunOutcome>;
  /** The conversations of the runtime the runs go through (an HTTP input serves them). */
  readonly conversations?: Conversations;
  /** The runs of the runtime the runs go through (a queue input checks for a checkpoint to resume). */
  readonly runs?: Runs;
  /** Most runs at once: an input that pulls work (a queue) takes no more than this. */
  readonly concurrency?: number;
}

/** A source of messages: HTTP, a schedule, a queue, or the user's own. */
export interface Input {
  readonly name: string;
  /** Starts taking messages and handing them to `dispatcher`. */
  start(dispatcher: Dispatcher): Promise<void>;
  /** Stops taking new messages (in-flight ones finish; the server waits for them). */
  stop(): Promise<void>;
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
