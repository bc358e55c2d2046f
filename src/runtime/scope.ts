import type { Attributes, Context, Tracer } from '@opentelemetry/api';
import type { BudgetGuard } from '../budget/guard.js';
import type { TokenCounter } from '../budget/tokens.js';
import type { RunProgress } from '../errors.js';
import { addUsage, type Usage } from '../messages.js';
import type { CallCost, PriceOverrides, ServedPricer } from '../pricing/price.js';
import type { ContentCapture, SpanOwner } from '../tracing/instrumentation.js';
import type { SpendStore } from '../budget/store.js';
import type { RunEvent } from './events.js';
import type { Hooks } from './hooks.js';
import type { RetryPolicy } from './retry.js';

/** Everything one run needs besides the agent and its input. */
export interface LoopContext {
  tracer: Tracer;
  capture: ContentCapture;
  hooks: Hooks;
  retry: RetryPolicy;
  prices: PriceOverrides;
  /** Context windows (tokens) that win over the bundled data, by model id or `provider:model`. */
  contextWindows: Readonly<Record<string, number>>;
  /** Where per-agent spend windows live. */
  store: SpendStore;
  /** Use `model.stream()` (and emit deltas) instead of `model.generate()`. */
  streaming: boolean;
  emit: (event: RunEvent) => void;
  /** The caller's signal. */
  signal?: AbortSignal;
  /** Most wall time for the whole run, in ms. */
  timeoutMs?: number;
  /** Parent of the run span; the active context when absent. */
  parent?: Context;
  conversationId?: string;
  /** More attributes for the run span. */
  runAttributes?: Attributes;
}

/** Running totals of one run. */
export interface Totals {
  usage: Usage;
  usd: number;
  /** False once a call had no known price: the total is then unknown, not a lower bound. */
  priced: boolean;
  steps: number;
  toolCalls: number;
  /** The largest counted prompt of the run, in tokens. */
  peakPromptTokens: number;
}

/** What every call of one run shares. */
export interface RunScope extends LoopContext {
  signal: AbortSignal;
  /** Prices each call on the model that served it. */
  price: ServedPricer;
  owner: SpanOwner;
  guard: BudgetGuard;
  /** Counts prompts before calls; absent when nothing needs the count. */
  counter?: TokenCounter;
  /** The model's context window in tokens, when known. */
  contextWindow?: number;
  totals: Totals;
}

/** Fresh totals. */
export function newTotals(): Totals {
  return { usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 }, usd: 0, priced: true, steps: 0, toolCalls: 0, peakPromptTokens: 0 };
}

/** Adds one call's usage and cost to the run's totals. */
export function addCall(totals: Totals, usage: Usage, cost: CallCost | undefined): void {
  totals.usage = addUsage(totals.usage, usage);
  if (!cost) {
    totals.priced = false;
    return;
  }
  totals.usd += cost.usd;
}

/** What a run had done, for a run error. */
export function progress(totals: Totals, traceId: string): RunProgress {
  return {
    usage: totals.usage,
    costUsd: totals.priced ? totals.usd : undefined,
    steps: totals.steps,
    toolCalls: totals.toolCalls,
    traceId,
  };
}
