import { trace, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import type { Message } from '../messages.js';
import type { SpendStore } from '../budget/store.js';
import { memoryStore } from '../budget/stores/memory.js';
import type { PriceOverrides } from '../pricing/price.js';
import type { RunEvent, RunResult } from './events.js';
import type { Hooks } from './hooks.js';
import { runLoop, type LoopContext } from './loop.js';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.js';

/** Options of a runtime, shared by all its runs. */
export interface RuntimeOptions {
  /** The tracer spans are made with; a no-op tracer (nothing recorded) when absent. */
  tracer?: Tracer;
  /** Record message content (prompts, answers, tool arguments and results) on spans. Default false. */
  captureContent?: boolean;
  /** Rewrites each content attribute before it is recorded (e.g. to mask emails). */
  redact?: (value: string, attribute: string) => string;
  hooks?: Hooks;
  /** Retries of transient provider errors (429, 5xx, 529, connection failures). */
  retry?: Partial<RetryPolicy>;
  /** Per-model prices (USD per million tokens) that win over the bundled price table. */
  prices?: PriceOverrides;
  /** Default wall-time limit of each run, in ms. */
  timeoutMs?: number;
  /**
   * Where per-agent spend windows (`budget.spend`) live: in memory by default (this runtime's
   * runs), `redisStore()` for a fleet of processes.
   */
  budgetStore?: SpendStore;
  /** Context windows in tokens that win over the bundled model data, by model id or `provider:model`. */
  contextWindows?: Readonly<Record<string, number>>;
}

/** Options of one run. */
export interface RunOptions {
  /** Aborts the run: in-flight model and tool calls get the signal, and `run()` rejects. */
  signal?: AbortSignal;
  /** Wall-time limit of this run, in ms; overrides the runtime's. */
  timeoutMs?: number;
  /** `gen_ai.conversation.id` (and Langfuse's session id) of the run. */
  conversationId?: string;
  /** Parent context of the run span; the active context when absent. */
  context?: Context;
  /** More attributes for the run span (e.g. `tracebound.replay.source` on a replayed run). */
  attributes?: Attributes;
}

/** Runs agents. */
export interface Runtime {
  /**
   * Runs an agent to its end.
   * @param input the user's message, or a whole conversation to continue.
   * @throws {RunError} (`RunAbortedError`, `RunTimeoutError`) for the stops `aborted`,
   *   `timeout` and `error`, with the partial usage and cost.
   */
  run(agent: Agent, input: string | Message[], options?: RunOptions): Promise<RunResult>;
  /**
   * Runs an agent with a streaming model call per step, yielding typed events as they happen.
   * Breaking out of the loop aborts the run.
   * @throws {RunError} from the iteration, as `run()` rejects.
   */
  stream(agent: Agent, input: string | Message[], options?: RunOptions): AsyncIterable<RunEvent>;
}

const ignore = () => {};

/** Makes a runtime. `tracedRuntime()` is the one most users want: it also sets up exporters. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const store = options.budgetStore ?? memoryStore();
  const base = (streaming: boolean, run: RunOptions, emit: (event: RunEvent) => void): LoopContext => ({
    tracer: options.tracer ?? trace.getTracer('tracebound-noop'),
    capture: { enabled: options.captureContent ?? false, redact: options.redact },
    hooks: options.hooks ?? {},
    retry: { ...DEFAULT_RETRY, ...options.retry },
    prices: options.prices ?? {},
    contextWindows: options.contextWindows ?? {},
    store,
    streaming,
    emit,
    signal: run.signal,
    timeoutMs: run.timeoutMs ?? options.timeoutMs,
    parent: run.context,
    conversationId: run.conversationId,
    runAttributes: run.attributes,
  });

  return {
    run: (agent, input, run = {}) => runLoop(agent, input, base(false, run, ignore)),
    stream: (agent, input, run = {}) => streamRun(agent, input, run, (r, emit) => base(true, r, emit)),
  };
}

async function* streamRun(
  agent: Agent,
  input: string | Message[],
  run: RunOptions,
  context: (run: RunOptions, emit: (event: RunEvent) => void) => LoopContext,
): AsyncGenerator<RunEvent> {
  const queue: RunEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const stop = new AbortController();
  const signal = run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal;
  const emit = (event: RunEvent) => {
    queue.push(event);
    wake?.();
  };
  const done = runLoop(agent, input, context({ ...run, signal }, emit)).then(
    () => {
      finished = true;
      wake?.();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake?.();
    },
  );
  try {
    for (;;) {
      while (queue.length) yield queue.shift() as RunEvent;
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failure) throw failure.error;
  } finally {
    if (!finished) {
      stop.abort(new Error('the stream consumer stopped reading'));
      await done;
    }
  }
}
