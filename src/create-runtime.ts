/**
 * Making a runtime: the middleware chain is composed here, once per runtime, in this order
 * (outermost first): tracing's run, step, compression, tool, guardrail and conversation spans;
 * durable runs (the run's lease and checkpoints, its events logged in the store); the
 * conversation (load before the run, save after it); the hooks; the user's own middleware; the
 * budget; run events; the guardrails (inside run events, so `run-end` carries a guardrail's stop,
 * and inside the budget, so a guardrail's model call is reserved for like any other); tracing's
 * `chat` span and the model-call metrics; retries; and at the bottom the provider call.
 */
import { metrics, type MeterProvider, type Tracer } from '@opentelemetry/api';
import type { ContextWindowOverrides } from './budget/context-window.js';
import { budgetMiddleware } from './budget/middleware.js';
import type { PriceOverrides } from './pricing/price.js';
import { guardrailsMiddleware } from './runtime/guardrails.js';
import { hooksMiddleware, type Hooks } from './runtime/hooks.js';
import { composeChain, type Middleware } from './runtime/middleware.js';
import { modelCallCore } from './runtime/model-call.js';
import { DEFAULT_RETRY, retryMiddleware, type RetryPolicy } from './runtime/retry.js';
import { runtimeOver, type Runtime } from './runtime/runtime.js';
import { streamEvents } from './runtime/stream-events.js';
import { conversationMiddleware, conversationsOf } from './state/conversations.js';
import { durableRuns } from './state/durable.js';
import { memoryStore } from './state/memory.js';
import type { Store } from './state/store.js';
import { metricsMiddleware } from './tracing/metrics.js';
import { tracingMiddleware } from './tracing/middleware.js';

/** Options of a runtime, shared by all its runs. */
export interface RuntimeOptions {
  /** The tracer spans are made with; when absent, no span is made at all. */
  tracer?: Tracer;
  /**
   * Where the runtime's metrics go (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`,
   * `tracebound.cost.usage`, `tracebound.budget.decisions`): this provider, else the global one
   * (`metrics.setGlobalMeterProvider`), read once when the runtime is made. With neither, no
   * metric is recorded and none costs anything.
   */
  meterProvider?: MeterProvider;
  /** Record message content (prompts, answers, tool arguments and results) on spans. Default false. */
  captureContent?: boolean;
  /** Rewrites each content attribute before it is recorded (e.g. to mask emails). */
  redact?: (value: string, attribute: string) => string;
  /**
   * Also write Langfuse's `langfuse.*` keys (observation types, usage and cost details, the run's
   * input and output). Default false; `tracedRuntime()` turns it on with the `langfuse` exporter.
   */
  langfuseAttributes?: boolean;
  /** Code around model calls, tool calls and compression (sugar over {@link middleware}). */
  hooks?: Hooks;
  /**
   * Your own middleware around the run's calls, outermost first: inside tracing's spans, outside
   * the budget (so a cached answer spends nothing). See the README, "Middleware".
   */
  middleware?: readonly Middleware[];
  /** Retries of transient provider errors (429, 5xx, 529, connection failures). */
  retry?: Partial<RetryPolicy>;
  /** Per-model prices (USD per million tokens) that win over the bundled price table. */
  prices?: PriceOverrides;
  /** Default wall-time limit of each run, in ms. */
  timeoutMs?: number;
  /**
   * Where the runtime's state lives: spend windows (`budget.spend`), conversations, and run
   * checkpoints and events (`runtime.runs`, `resume`, `cancel`, `subscribe`). In memory
   * by default (this runtime's runs); `sqliteStore({ path })` for the processes of one machine,
   * `redisStore({ url })` for a fleet. The caller closes a store it made.
   */
  store?: Store;
  /** The name `store` had before it held conversations; `store` wins when both are set. */
  budgetStore?: Store;
  /**
   * Longest wait, in ms, of a run for another run of the same conversation before it fails with
   * `ConversationBusyError`. Default 30,000.
   */
  conversationWaitMs?: number;
  /**
   * A run's lease on its conversation without renewal, in ms (renewed every third of it while
   * the run lives): after a crash, the longest its conversation stays held. Default 15,000.
   */
  conversationLeaseMs?: number;
  /**
   * Retention: each conversation keeps at most this many messages, the oldest dropped when a turn
   * is saved (from a user message on; never fewer than the latest turn). Default: all.
   */
  conversationMaxMessages?: number;
  /** Retention: a conversation is forgotten this many ms after its last turn. Default: kept until deleted. */
  conversationTtlMs?: number;
  /** Context windows in tokens that win over the bundled model data, by model id or `provider:model`. */
  contextWindows?: ContextWindowOverrides;
  /**
   * A run's lease on its id without renewal, in ms (renewed every third of it while the run
   * lives): after a crash, how soon another process may resume the run. Default 15,000.
   */
  leaseMs?: number;
}

/**
 * Makes a runtime. `tracedRuntime()` is the one most users want: it also sets up exporters.
 * @throws {RangeError} when `leaseMs` is not a positive number of ms, or `conversationMaxMessages`
 *   not a positive integer.
 */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const tracing = options.tracer
    ? tracingMiddleware({
        tracer: options.tracer,
        recording: { enabled: options.captureContent ?? false, redact: options.redact, langfuse: options.langfuseAttributes ?? false },
        contextWindows: options.contextWindows,
      })
    : undefined;
  const metered = metricsMiddleware(options.meterProvider ?? metrics.getMeterProvider());
  const hooks = options.hooks ? hooksMiddleware(options.hooks) : undefined;
  const retryPolicy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const store = options.store ?? options.budgetStore ?? memoryStore();
  const conversations = conversationMiddleware({
    store,
    waitMs: options.conversationWaitMs,
    leaseMs: options.conversationLeaseMs,
    maxMessages: options.conversationMaxMessages,
    ttlMs: options.conversationTtlMs,
  });
  const budget = budgetMiddleware({ store, prices: options.prices ?? {}, retry: retryPolicy });
  const retry = retryMiddleware(retryPolicy);
  const core = modelCallCore(options.prices ?? {});
  const durable = durableRuns({ store, leaseMs: options.leaseMs });
  const chain = composeChain(
    [
      ...(tracing ? [tracing.outer] : []),
      durable.middleware,
      conversations,
      ...(hooks ? [hooks] : []),
      ...(options.middleware ?? []),
      budget,
      streamEvents,
      guardrailsMiddleware,
      ...(tracing ? [tracing.model] : []),
      ...(metered ? [metered] : []),
      retry,
    ],
    core,
  );
  return runtimeOver({ chain, conversations: conversationsOf(store), durable: durable.runs, timeoutMs: options.timeoutMs });
}
