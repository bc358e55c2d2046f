/**
 * `serve()`: the long-running mode's core. Inputs hand messages to its dispatcher; each valid
 * message becomes one traced run (under a concurrency limit with a bounded backlog); every outcome
 * goes to every output; `stop()` drains.
 */
import { setMaxListeners } from 'node:events';
import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { z } from 'zod';
import type { Agent } from '../agent.js';
import { errorType, RunError } from '../errors.js';
import type { Message } from '../messages.js';
import { roundUsd } from '../pricing/price.js';
import type { RunEvent, RunResult } from '../runtime/events.js';
import type { Runtime, RunOptions } from '../runtime/runtime.js';
import { maskSecrets } from '../secrets.js';
import { ATTR, SPAN_NAME, TRACER_NAME } from '../tracing/attributes.js';
import { createTracerProvider } from '../telemetry/setup.js';
import { tracedRuntime } from '../telemetry/traced-runtime.js';
import { ServerBusyError, type Dispatcher, type InboundMessage, type Input, type Output, type RunOutcome } from './types.js';

/** A validated message payload: what one run takes. */
export interface ServeInput {
  /** The user's message, or a whole conversation to continue. */
  input: string | Message[];
  /** `gen_ai.conversation.id` of the run. */
  conversationId?: string;
}

/** The default payload schema: `{ input: string, conversationId?: string }`. */
export const defaultInputSchema: z.ZodType<ServeInput> = z.object({
  input: z.string().min(1, 'must be a non-empty string'),
  conversationId: z.string().optional(),
});

/** A runtime `serve` can flush: a `TracedRuntime`, or any runtime (flushing is then the caller's). */
export type ServeRuntime = Runtime & { forceFlush?(): Promise<void>; shutdown?(): Promise<void> };

/** What `serve()` takes. */
export interface ServeOptions {
  agent: Agent;
  /**
   * The runtime runs go through. Absent: `serve` makes a traced runtime writing the default trace
   * file, and shuts it down on `stop()`; given: `stop()` only calls its `forceFlush()`.
   */
  runtime?: ServeRuntime;
  /**
   * Tracer of `serve`'s own spans (rejected messages). Default: the owned runtime's provider, or
   * the global API's tracer when a runtime is given.
   */
  tracer?: Tracer;
  inputs: readonly Input[];
  outputs?: readonly Output[];
  /** Most runs at once. Default 16. */
  concurrency?: number;
  /** Most messages waiting for a slot; one more gets {@link ServerBusyError}. Default 256. */
  backlog?: number;
  /** Validates each payload; an agent with its own input shape passes its schema. */
  inputSchema?: z.ZodType<ServeInput>;
  /** How long `stop()` lets in-flight and waiting runs finish before aborting them, in ms. Default 30,000. */
  drainTimeoutMs?: number;
}

/**
 * A running (or not yet started) server. Its `dispatch` also throws {@link ServerBusyError} once
 * `stop()` was called, so a queue input leaves the message to another worker.
 */
export interface Server extends Dispatcher {
  /** Starts every input. Idempotent. */
  start(): Promise<void>;
  /**
   * Stops taking input, waits for in-flight and waiting runs (aborting them at the drain
   * deadline), waits for deliveries, stops outputs and flushes spans. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * The fields of a result every output and the HTTP response carry (the conversation is left out);
 * `costUsd` without float noise ({@link roundUsd}).
 */
export function resultJson(result: RunResult) {
  const { output, stopReason, usage, costUsd, steps, toolCalls, traceId } = result;
  return { output, stopReason, usage, costUsd: costUsd === undefined ? undefined : roundUsd(costUsd), steps, toolCalls, traceId };
}

/** An outcome as one JSON document, as stdout and webhooks send it. */
export function outcomeJson(outcome: RunOutcome) {
  const { id, source } = outcome.message;
  return outcome.ok ? { id, source, ok: true, result: resultJson(outcome.result) } : { id, source, ok: false, error: outcome.error };
}

/** First zod issue as the field path (`input`, `messages.0.role`) and its message. */
function firstIssue(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)';
  return { field, message: issue?.message ?? 'is invalid' };
}

/**
 * The outcome of a run that threw: a {@link RunError} keeps its stop reason. Known API keys are
 * masked in the message, which every output and the HTTP reply carry.
 */
function failure(message: InboundMessage, error: unknown): RunOutcome {
  const text = maskSecrets(error instanceof Error ? error.message : String(error));
  if (error instanceof RunError) {
    return { ok: false, message, error: { type: error.name, message: text, stopReason: error.stopReason } };
  }
  return { ok: false, message, error: { type: errorType(error), message: text, stopReason: 'error' } };
}

/** Waiting room for concurrency slots, bounded; estimates `retry-after` from recent run times. */
class Slots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private avgRunMs = 1_000;

  constructor(
    private readonly concurrency: number,
    private readonly backlog: number,
  ) {}

  /** @throws {ServerBusyError} when every slot is taken and the backlog is full. */
  async acquire(): Promise<void> {
    if (this.running < this.concurrency) {
      this.running++;
      return;
    }
    if (this.waiting.length >= this.backlog) throw new ServerBusyError(this.retryAfterSeconds());
    // The releasing run hands its slot over, so `running` stays as it is.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(runMs: number): void {
    // An exponential moving average: recent runs say best how long the backlog takes to clear.
    this.avgRunMs = this.avgRunMs * 0.9 + runMs * 0.1;
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }

  private retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(((this.waiting.length / this.concurrency) * this.avgRunMs) / 1_000));
  }
}

/** Counts tasks and resolves waiters when none is left. */
class Tracker {
  private count = 0;
  private idle: (() => void)[] = [];

  track<T>(task: Promise<T>): Promise<T> {
    this.count++;
    return task.finally(() => {
      if (--this.count === 0) for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  whenIdle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }
}

function ownedRuntime(): { runtime: ServeRuntime; tracer: Tracer } {
  const provider = createTracerProvider();
  const runtime = tracedRuntime({ tracerProvider: provider, captureContent: true });
  return {
    runtime: { ...runtime, forceFlush: () => provider.forceFlush(), shutdown: () => provider.shutdown() },
    tracer: provider.getTracer(TRACER_NAME),
  };
}

/**
 * Makes a server: creating it starts nothing. Each message's payload is validated with zod (an
 * invalid one is answered `{ ok: false, error: { type: 'invalid_input', field, message } }`,
 * recorded as an `invalid_input <source>` span, delivered to the outputs, and not run); a valid one
 * runs with the sender's trace context as parent and `tracebound.serve.source` /
 * `tracebound.serve.message_id` on the run span. Budget stops are `ok: true` results; a
 * {@link RunError} is `ok: false` with its `stopReason`.
 * @throws {RangeError} when `concurrency` is not a positive integer or `backlog` a non-negative one.
 */
export function serve(options: ServeOptions): Server {
  const concurrency = options.concurrency ?? 16;
  const backlog = options.backlog ?? 256;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`serve: concurrency must be a positive integer, got ${concurrency}`);
  if (!Number.isInteger(backlog) || backlog < 0) throw new RangeError(`serve: backlog must be a non-negative integer, got ${backlog}`);
  const owned = options.runtime ? undefined : ownedRuntime();
  const runtime = options.runtime ?? owned!.runtime;
  const tracer = options.tracer ?? owned?.tracer ?? trace.getTracer(TRACER_NAME);
  const schema = options.inputSchema ?? defaultInputSchema;
  const outputs = options.outputs ?? [];
  const slots = new Slots(concurrency, backlog);
  const runs = new Tracker();
  const deliveries = new Tracker();
  const drain = new AbortController();
  // Every in-flight run listens to the drain signal: as many listeners as runs is expected.
  setMaxListeners(0, drain.signal);
  let started: Promise<void> | undefined;
  let stopped: Promise<void> | undefined;

  /** Hands the outcome to every output in the background (stop() waits for them); returns it. */
  const deliver = (outcome: RunOutcome): RunOutcome => {
    for (const output of outputs) void deliveries.track(output.deliver(outcome).catch(() => {}));
    return outcome;
  };

  const reject = (message: InboundMessage, error: z.ZodError): RunOutcome => {
    const { field, message: text } = firstIssue(error);
    const span = tracer.startSpan(SPAN_NAME.invalidInput(message.source), {
      attributes: {
        [ATTR.serveSource]: message.source,
        [ATTR.serveMessageId]: message.id,
        [ATTR.serveInvalidField]: field,
        [ATTR.errorType]: 'invalid_input',
      },
    }, message.parentContext);
    span.setStatus({ code: SpanStatusCode.ERROR, message: `${field}: ${text}` });
    span.end();
    return { ok: false, message, error: { type: 'invalid_input', field, message: text } };
  };

  const execute = async (message: InboundMessage, input: ServeInput, onEvent?: (event: RunEvent) => void): Promise<RunOutcome> => {
    const run: RunOptions = {
      signal: drain.signal,
      context: message.parentContext,
      conversationId: input.conversationId,
      runId: message.runId,
      attributes: { [ATTR.serveSource]: message.source, [ATTR.serveMessageId]: message.id },
    };
    try {
      // A resumed run continues its original trace; its events are not streamed (a queue asks no events).
      if (message.resume && message.runId) return { ok: true, message, result: await runtime.resume(options.agent, message.runId, { signal: drain.signal }) };
      if (!onEvent) return { ok: true, message, result: await runtime.run(options.agent, input.input, run) };
      let result: RunResult | undefined;
      for await (const event of runtime.stream(options.agent, input.input, run)) {
        if (event.type === 'run-end') result = event.result;
        onEvent(event);
      }
      if (!result) throw new Error('the run stream ended without a run-end event');
      return { ok: true, message, result };
    } catch (error) {
      return failure(message, error);
    }
  };

  // Waiting messages count as in flight too: the drain runs them (or aborts them at its deadline).
  const inSlot = async (message: InboundMessage, input: ServeInput, onEvent?: (event: RunEvent) => void): Promise<RunOutcome> => {
    await slots.acquire();
    const began = performance.now();
    try {
      return await execute(message, input, onEvent);
    } finally {
      slots.release(performance.now() - began);
    }
  };

  const dispatch = async (message: InboundMessage, onEvent?: (event: RunEvent) => void): Promise<RunOutcome> => {
    if (stopped) throw new ServerBusyError(1);
    const parsed = schema.safeParse(message.payload);
    if (!parsed.success) return deliver(reject(message, parsed.error));
    // Delivery starts inside the tracked task, so a drain that sees no run left sees its deliveries.
    return runs.track(inSlot(message, parsed.data, onEvent).then(deliver));
  };

  const drainRuns = async (): Promise<void> => {
    const deadline = setTimeout(() => drain.abort(new Error('serve: the drain deadline passed')), options.drainTimeoutMs ?? 30_000);
    try {
      await runs.whenIdle();
    } finally {
      clearTimeout(deadline);
    }
  };

  const shutdown = async (): Promise<void> => {
    // Inputs stop alongside the drain: an HTTP input answers its in-flight requests as runs end.
    const inputsStopped = Promise.all(options.inputs.map((input) => input.stop()));
    await drainRuns();
    await inputsStopped;
    await deliveries.whenIdle();
    await Promise.all(outputs.map((output) => output.stop?.()));
    await (owned ? runtime.shutdown?.() : runtime.forceFlush?.());
  };

  const server: Server = {
    dispatch,
    conversations: runtime.conversations,
    runs: runtime.runs,
    concurrency,
    start: () => (started ??= Promise.all(options.inputs.map((input) => input.start(server))).then(() => {})),
    stop: () => (stopped ??= (started ?? Promise.resolve()).catch(() => {}).then(shutdown)),
  };
  return server;
}
