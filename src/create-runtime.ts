/**
 * Making a runtime: the middleware chain is composed here, once per runtime, in this order
 * (outermost first): tracing's run, step, compression and tool spans; the hooks; the user's own
 * middleware; the budget; stream events (only for `stream()`); tracing's `chat` span; retries;
 * and at the bottom the provider call.
 */
import type { Tracer } from '@opentelemetry/api';
import type { ContextWindowOverrides } from './budget/context-window.js';
import { budgetMiddleware } from './budget/middleware.js';
import type { SpendStore } from './budget/store.js';
import { memoryStore } from './budget/stores/memory.js';
import type { PriceOverrides } from './pricing/price.js';
import { hooksMiddleware, type Hooks } from './runtime/hooks.js';
import { composeChain, type Middleware } from './runtime/middleware.js';
import { modelCallCore } from './runtime/model-call.js';
import { DEFAULT_RETRY, retryMiddleware, type RetryPolicy } from './runtime/retry.js';
import { runtimeOver, type Runtime } from './runtime/runtime.js';
import { streamEvents } from './runtime/stream-events.js';
import { tracingMiddleware } from './tracing/middleware.js';

/** Options of a runtime, shared by all its runs. */
export interface RuntimeOptions {
  /** The tracer spans are made with; when absent, no span is made at all. */
  tracer?: Tracer;
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
   * Where per-agent spend windows (`budget.spend`) live: in memory by default (this runtime's
   * runs), `redisStore()` for a fleet of processes.
   */
  budgetStore?: SpendStore;
  /** Context windows in tokens that win over the bundled model data, by model id or `provider:model`. */
  contextWindows?: ContextWindowOverrides;
}

/** Makes a runtime. `tracedRuntime()` is the one most users want: it also sets up exporters. */
export function createRuntime(options: RuntimeOptions = {}): Runtime {
  const tracing = options.tracer
    ? tracingMiddleware({
        tracer: options.tracer,
        recording: { enabled: options.captureContent ?? false, redact: options.redact, langfuse: options.langfuseAttributes ?? false },
        contextWindows: options.contextWindows,
      })
    : undefined;
  const hooks = options.hooks ? hooksMiddleware(options.hooks) : undefined;
  const retryPolicy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const budget = budgetMiddleware({ store: options.budgetStore ?? memoryStore(), prices: options.prices ?? {}, retry: retryPolicy });
  const retry = retryMiddleware(retryPolicy);
  const core = modelCallCore(options.prices ?? {});
  const chain = (events: boolean) =>
    composeChain(
      [
        ...(tracing ? [tracing.outer] : []),
        ...(hooks ? [hooks] : []),
        ...(options.middleware ?? []),
        budget,
        ...(events ? [streamEvents] : []),
        ...(tracing ? [tracing.model] : []),
        retry,
      ],
      core,
    );
  return runtimeOver({ run: chain(false), stream: chain(true) }, options.timeoutMs);
}
