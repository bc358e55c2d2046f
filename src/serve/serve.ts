/**
 * `serve()`: the long-running mode's core. Inputs hand messages to its dispatcher; each valid
 * message becomes one traced run (under a concurrency limit with a bounded backlog); every outcome
 * goes to every output; `stop()` drains.
 */
import { setMaxListeners } from 'node:events';
import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { z } from 'zod';
import type { Agent } from '../agent.js';
import { DefinitionError, errorType, RunError, RunNotFoundError } from '../errors.js';
import type { Message } from '../messages.js';
import { roundUsd } from '../pricing/price.js';
import type { RunEvent, RunResult } from '../runtime/events.js';
import type { Runtime, RunOptions } from '../runtime/runtime.js';
import type { Approvals } from '../runtime/runs.js';
import { maskSecrets } from '../secrets.js';
import { ATTR, SPAN_NAME, TRACER_NAME } from '../tracing/attributes.js';
import { createTracerProvider } from '../telemetry/setup.js';
import { tracedRuntime } from '../telemetry/traced-runtime.js';
import { ServerBusyError, type DispatchOptions, type Dispatcher, type InboundMessage, type Input, type Output, type RunOutcome } from './types.js';

/** A validated message payload: what one run takes. */
export interface ServeInput {
  /** The user's message, or a whole conversation to continue. */
  input: string | Message[];
  /** `gen_ai.conversation.id` of the run. */
  conversationId?: string;
  /** The run's id (`tracebound.run.id`, the key of its status, events and approvals); a random UUID when absent. */
  runId?: string;
  /** The run's tenant and user (run options `tenant`, `user`); a message's own (HTTP headers) win. */
  tenant?: string;
  user?: string;
}

/** The default payload schema: `{ input: string, conversationId?: string, runId?: string, tenant?: string, user?: string }`. */
export const defaultInputSchema: z.ZodType<ServeInput> = z.object({
  input: z.string().min(1, 'must be a non-empty string'),
  conversationId: z.string().optional(),
  runId: z.string().min(1, 'must be a non-empty string').optional(),
  tenant: z.string().min(1, 'must be a non-empty string').optional(),
  user: z.string().min(1, 'must be a non-empty string').optional(),
});

/** A runtime `serve` can flush: a `TracedRuntime`, or any runtime (flushing is then the caller's). */
export type ServeRuntime = Runtime & { forceFlush?(): Promise<void>; shutdown?(): Promise<void> };

/** What `serve()` takes. */
export interface ServeOptions {
  /** The agent messages run (the default one when `agents` is given too). */
  agent?: Agent;
  /**
   * Several agents, served by name (a message's `agent`, `POST /v1/agents/{name}/runs`); the
   * default agent is `agent`, else the first of these.
   */
  agents?: readonly Agent[];
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
   * deadline, when inputs also close what they still hold), waits for deliveries, stops outputs
   * and flushes spans. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * The fields of a result every output and the HTTP response carry (the conversation is left out;
 * `guardrail` names the check that stopped a run with `stopReason: 'guardrail'`);
 * `costUsd` without float noise ({@link roundUsd}).
 */
export function resultJson(result: RunResult) {
  const { runId, output, stopReason, usage, costUsd, steps, toolCalls, traceId, interruptions, guardrail } = result;
  return { runId, output, stopReason, usage, costUsd: costUsd === undefined ? undefined : roundUsd(costUsd), steps, toolCalls, traceId, interruptions, guardrail };
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
 * masked in the message, which every output carries (the HTTP input answers a safe message of
 * its own instead).
 */
function failure(message: InboundMessage, error: unknown, runId: string): RunOutcome {
  const text = maskSecrets(error instanceof Error ? error.message : String(error));
  if (error instanceof RunError) {
    return { ok: false, message, error: { type: error.name, message: text, stopReason: error.stopReason, runId } };
  }
  return { ok: false, message, error: { type: errorType(error), message: text, stopReason: 'error', runId } };
}

/**
 * The agents by name, and the default one: how `serve` picks a message's `agent` and
 * `tracebound run --agent` its agent. The same agent object given twice is served once.
 * @throws {DefinitionError} when there is no agent (field `agent`), or two agents share a name
 *   (field `agents[i].name`, naming the other one): requests pick an agent by name.
 */
export function agentsByName(options: Pick<ServeOptions, 'agent' | 'agents'>): { byName: Map<string, Agent>; fallback: Agent } {
  const all = [...(options.agent ? [options.agent] : []), ...(options.agents ?? [])];
  const fallback = all[0];
  if (!fallback) throw new DefinitionError('serve()', 'agent', 'is missing: give `agent` or `agents` (at least one agent)');
  const field = (i: number) => (options.agent ? (i === 0 ? 'agent' : `agents[${i - 1}]`) : `agents[${i}]`);
  const clash = nameClash(all);
  if (clash) {
    const [first, second] = clash;
    throw new DefinitionError(
      'serve()',
      `${field(second)}.name`,
      `repeats "${(all[second] as Agent).name}", the name of ${field(first)}: requests pick an agent by name, so give each agent its own name in agent({ name })`,
    );
  }
  return { byName: new Map(all.map((agent) => [agent.name, agent])), fallback };
}

/**
 * The indexes of the first two different agents of `agents` that share a name (the later one
 * second), or undefined when every name is unique; the same agent object twice is no clash.
 */
export function nameClash(agents: readonly Agent[]): [number, number] | undefined {
  const seen = new Map<string, number>();
  for (const [i, agent] of agents.entries()) {
    const first = seen.get(agent.name);
    if (first !== undefined && agents[first] !== agent) return [first, i];
    if (first === undefined) seen.set(agent.name, i);
  }
  return undefined;
}

/** A run id, as the runtime makes them (a UUID v4). */
const newRunId = (): string => globalThis.crypto.randomUUID();

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

/** Counts tasks and resolves waiters when none is left (the queue input counts its jobs with it too). */
export class Tracker {
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
 * {@link RunError} is `ok: false` with its `stopReason`. A message's `agent` picks one of `agents`
 * by name.
 * @throws {RangeError} when `concurrency` is not a positive integer or `backlog` a non-negative one.
 * @throws {DefinitionError} when no agent is given, or two share a name (naming both and what to do).
 */
export function serve(options: ServeOptions): Server {
  const concurrency = options.concurrency ?? 16;
  const backlog = options.backlog ?? 256;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`serve: concurrency must be a positive integer, got ${concurrency}`);
  if (!Number.isInteger(backlog) || backlog < 0) throw new RangeError(`serve: backlog must be a non-negative integer, got ${backlog}`);
  const { byName, fallback } = agentsByName(options);
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

  const agentNamed = (name?: string): Agent | undefined => (name === undefined ? fallback : byName.get(name));

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

  /**
   * Runs `start` in a concurrency slot (waiting messages count as in flight too: the drain runs
   * them, or aborts them at its deadline), under the drain signal and the caller's, and delivers
   * the outcome.
   */
  const inSlot = (message: InboundMessage, runId: string, signal: AbortSignal | undefined, start: (signal: AbortSignal) => Promise<RunResult>): Promise<RunOutcome> => {
    const run = async (): Promise<RunOutcome> => {
      await slots.acquire();
      const began = performance.now();
      try {
        return { ok: true, message, result: await start(signal ? AbortSignal.any([drain.signal, signal]) : drain.signal) };
      } catch (error) {
        return failure(message, error, runId);
      } finally {
        slots.release(performance.now() - began);
      }
    };
    // Delivery starts inside the tracked task, so a drain that sees no run left sees its deliveries.
    return runs.track(run().then(deliver));
  };

  const streamed = async (agent: Agent, input: ServeInput, run: RunOptions, onEvent: (event: RunEvent) => void): Promise<RunResult> => {
    let result: RunResult | undefined;
    for await (const event of runtime.stream(agent, input.input, run)) {
      if (event.type === 'run-end') result = event.result;
      onEvent(event);
    }
    if (!result) throw new Error('the run stream ended without a run-end event');
    return result;
  };

  const dispatch = async (message: InboundMessage, options: DispatchOptions = {}): Promise<RunOutcome> => {
    if (stopped) throw new ServerBusyError(1);
    const agent = agentNamed(message.agent);
    if (!agent) return deliver({ ok: false, message, error: { type: 'agent_not_found', message: `no agent named ${JSON.stringify(message.agent)} is served` } });
    const parsed = schema.safeParse(message.payload);
    if (!parsed.success) return deliver(reject(message, parsed.error));
    const input = parsed.data;
    const runId = input.runId ?? newRunId();
    const { onEvent } = options;
    const run: RunOptions = {
      runId,
      context: message.parentContext,
      conversationId: input.conversationId,
      tenant: message.tenant ?? input.tenant,
      user: message.user ?? input.user,
      attributes: { [ATTR.serveSource]: message.source, [ATTR.serveMessageId]: message.id },
    };
    return inSlot(message, runId, options.signal, (signal) =>
      onEvent ? streamed(agent, input, { ...run, signal }, onEvent) : runtime.run(agent, input.input, { ...run, signal }),
    );
  };

  const resume = async (message: InboundMessage, runId: string, options: DispatchOptions & { approvals?: Approvals } = {}): Promise<RunOutcome> => {
    if (stopped) throw new ServerBusyError(1);
    return inSlot(message, runId, options.signal, async (signal) => {
      const info = await runtime.runs.get(runId);
      if (!info) throw new RunNotFoundError(runId);
      const agent = byName.get(info.agent);
      if (!agent) throw new AgentNotServedError(info.agent, runId);
      return runtime.resume(agent, runId, { approvals: options.approvals, signal });
    });
  };

  /**
   * Stops the inputs and drains the runs, both bounded by the drain deadline: past it, runs are
   * aborted and inputs told to close what is left (stalled requests, idle connections).
   */
  const drainAll = async (): Promise<void> => {
    const deadline = setTimeout(() => drain.abort(new Error('serve: the drain deadline passed')), options.drainTimeoutMs ?? 30_000);
    try {
      await Promise.all([runs.whenIdle(), ...options.inputs.map((input) => input.stop(drain.signal))]);
    } finally {
      clearTimeout(deadline);
    }
  };

  const shutdown = async (): Promise<void> => {
    await drainAll();
    await deliveries.whenIdle();
    await Promise.all(outputs.map((output) => output.stop?.()));
    await (owned ? runtime.shutdown?.() : runtime.forceFlush?.());
  };

  const server: Server = {
    dispatch,
    resume,
    agent: agentNamed,
    runtime,
    concurrency,
    start: () => (started ??= Promise.all(options.inputs.map((input) => input.start(server))).then(() => {})),
    stop: () => (stopped ??= (started ?? Promise.resolve()).catch(() => {}).then(shutdown)),
  };
  return server;
}

/** A run's record names an agent this server does not serve (`agent_not_found`). */
class AgentNotServedError extends Error {
  override readonly name = 'AgentNotServedError';
  readonly kind = 'agent_not_found';
  constructor(agent: string, runId: string) {
    super(`run ${JSON.stringify(runId)} belongs to agent ${JSON.stringify(agent)}, which this server does not serve`);
  }
}
