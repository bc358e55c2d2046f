/**
 * The budget as middleware around every model call: fit the prompt into `contextTokens`
 * (compressing it), reserve the call's worst case in every USD scope before it is sent (lowering
 * its max output tokens to what fits, or refusing it), then settle the reservation to the actual
 * cost. The prompt is reserved at a cheap upper bound of its tokens when the model gives one, and
 * counted only near a limit or for a shared spend window. Decisions other than a plain allow are
 * run events, which tracing records on the span where they happened. A run's spend and
 * reservations live in its state (one ledger).
 */
import { setTimeout as wait } from 'node:timers/promises';
import type { Agent } from '../agent.js';
import { emptyUsage } from '../messages.js';
import { pricerFor, type PriceOverrides } from '../pricing/price.js';
import type { Model, ModelRequest } from '../providers/model.js';
import type { RunEvent } from '../runtime/events.js';
import type { Middleware, ModelCallContext, RunContext, ToolCallContext } from '../runtime/middleware.js';
import type { ModelCallOutcome } from '../runtime/outcomes.js';
import { toolFailure, type ToolOutcome } from '../runtime/tools.js';
import type { Tool } from '../tool.js';
import { retryDelayMs, type RetryPolicy } from '../runtime/retry.js';
import { fitContext } from './fit-context.js';
import { BudgetGuard, hasUsdLimit, type GuardDecision, type OuterScope, type Rates, type SettleOutcome, type StoreOutage } from './guard.js';
import type { SpendStore } from '../state/store.js';
import { tokenCounterFor, type TokenCounter } from './tokens.js';

/** What the budget middleware needs from its runtime. */
export interface BudgetOptions {
  /** Where spend windows (`budget.spend`) live. */
  store: SpendStore;
  /** Price overrides (USD per million tokens), for the worst-case rates. */
  prices: PriceOverrides;
  /** How often, and after what backoff, a settle the store did not take is tried again. */
  retry: RetryPolicy;
}

/** The worst-case rates of a model (uncached input, output), from its pricer; none when unpriced. */
function ratesOf(model: Model, prices: PriceOverrides): Rates | undefined {
  const price = pricerFor(model.provider, model.modelId, prices);
  const input = price({ ...emptyUsage(), inputTokens: 1_000_000 });
  const output = price({ ...emptyUsage(), outputTokens: 1_000_000 });
  return input && output ? { inputUsdPerToken: input.usd / 1e6, outputUsdPerToken: output.usd / 1e6 } : undefined;
}

const NO_OUTER: readonly OuterScope[] = [];

/** The rest of the chain a model call goes on to. */
type ModelCallNext = (request: ModelRequest) => Promise<ModelCallOutcome>;

/** A guarded call's prompt: the request as counted, and its tokens once counted. */
interface Prompt {
  request: ModelRequest;
  tokens: number | undefined;
}

/** The `runCostUsd` limits of a sub-run's ancestors (`agent.asTool()`), nearest first; none for a top run. */
function outerScopesOf(run: RunContext): readonly OuterScope[] {
  if (!run.parentCall) return NO_OUTER;
  const scopes: OuterScope[] = [];
  for (let r: RunContext | undefined = run.parentCall.run; r; r = r.parentCall?.run) {
    const limit = r.agent.budget.runCostUsd;
    if (limit !== undefined) scopes.push({ limit, run: r.state });
  }
  return scopes;
}

/** Makes the budget middleware of one runtime. */
export function budgetMiddleware({ store, prices, retry }: BudgetOptions): Middleware {
  const guards = new WeakMap<Agent, BudgetGuard>();
  // A `fallback()` agent reserves each call at the prices of the model it goes to: one guard per
  // model tried, sharing the agent's windows (see BudgetGuard.withRates).
  const modelGuards = new WeakMap<Agent, WeakMap<Model, BudgetGuard>>();
  const counters = new WeakMap<RunContext, Map<Model, TokenCounter>>();

  /**
   * The agent's guard, at its model's rates, made on its first call; for `model`, one of a
   * `fallback()`'s models, a guard at that model's rates.
   * @throws {BudgetConfigError} when the agent has a USD limit and the model no known price.
   */
  const guardOf = (agent: Agent, model: Model = agent.model): BudgetGuard => {
    let guard = guards.get(agent);
    if (!guard) {
      // Rates for an agent without a USD limit too: it may run as a sub-agent under one.
      guard = new BudgetGuard(agent.budget, agent.name, store, ratesOf(agent.model, prices));
      guards.set(agent, guard);
    }
    if (model === agent.model) return guard;
    let byModel = modelGuards.get(agent);
    if (!byModel) modelGuards.set(agent, (byModel = new WeakMap()));
    let tried = byModel.get(model);
    if (!tried) byModel.set(model, (tried = guard.withRates(ratesOf(model, prices))));
    return tried;
  };

  /**
   * The run's prompt counter for the model called (each model counts, and is corrected, on its
   * own tokenizer); a summarising or guardrail call gets its own, so it does not skew the run's
   * corrections.
   */
  const counterOf = (ctx: ModelCallContext): TokenCounter => {
    if (ctx.purpose !== 'step') return tokenCounterFor(ctx.model);
    let byModel = counters.get(ctx.run);
    if (!byModel) counters.set(ctx.run, (byModel = new Map()));
    let counter = byModel.get(ctx.model);
    if (!counter) {
      counter = tokenCounterFor(ctx.model);
      byModel.set(ctx.model, counter);
    }
    return counter;
  };

  /** Reserves a priced tool call's fixed price in every USD scope, runs it when it fits, and settles it. */
  async function reserveTool(ctx: ToolCallContext, next: () => Promise<ToolOutcome>, costUsd: NonNullable<Tool['costUsd']>, outer: readonly OuterScope[]): Promise<ToolOutcome> {
    const { run } = ctx;
    const guard = guardOf(run.agent);
    const fixed = typeof costUsd === 'number' ? costUsd : 0;
    const decision = await guard.reserveFixed(run.state, fixed, outer, run.signal);
    for (const check of decision.checks) {
      run.emit({ type: 'budget-check', step: ctx.step.index, maxOutputTokens: 0, toolCallId: ctx.call.id, ...check });
    }
    if (decision.storeError) reportOutage(ctx, decision.storeError);
    if (decision.decision === 'refuse') {
      return toolFailure(
        'budget_exceeded',
        `Error: the budget has no room for tool "${ctx.call.name}" (costs $${fixed}); it was not run. Answer without it.`,
      );
    }
    let actualUsd = 0;
    try {
      const outcome = await next();
      actualUsd = outcome.costUsd ?? 0;
      return outcome;
    } finally {
      await settle(ctx, guard, decision, actualUsd, true, retry, ctx.call.id);
    }
  }

  /** Fits a step's prompt into `contextTokens` (compressing it), then guards the call. */
  async function fitThenGuard(ctx: ModelCallContext, next: ModelCallNext, limit: number, outer: readonly OuterScope[]): Promise<ModelCallOutcome> {
    const { state } = ctx.run;
    let request = ctx.request;
    const fit = await fitContext(ctx, request, limit, counterOf(ctx));
    if (!fit.fits) return { kind: 'refused', stopReason: fit.stopReason };
    if (fit.messages !== request.messages) {
      state.messages.splice(0, state.messages.length, ...fit.messages);
      request = { ...request, messages: [...fit.messages] };
    }
    return guarded(ctx, next, request, fit.counted, outer);
  }

  /**
   * Reserves the call in every USD scope, sends it as the decision lets it go, and settles it.
   * The prompt is counted only where the count can change a decision: its upper bound is over
   * the context limit (`counted`: fitting counted it), or does not fit the USD limits whole (see
   * BudgetGuard.reserve). Continuations, not async frames, where nothing is waited for: this
   * runs on every model call.
   */
  function guarded(ctx: ModelCallContext, next: ModelCallNext, request: ModelRequest, counted: boolean, outer: readonly OuterScope[]): Promise<ModelCallOutcome> {
    const guard = guardOf(ctx.run.agent, ctx.model);
    const counter = counterOf(ctx);
    const prompt: Prompt = { request, tokens: undefined };
    const count = (): number => (prompt.tokens = counter.count(request));
    const maxOutputTokens = guard.maxOutputTokens(request.maxOutputTokens, outer.length > 0);
    if (maxOutputTokens !== undefined) {
      const bound = counted ? undefined : counter.upperBound(request);
      const reserved = guard.reserve(ctx.run.state, bound === undefined ? count() : { upperBound: bound, count }, maxOutputTokens, outer, ctx.run.signal);
      if (reserved instanceof Promise) return reserved.then((decision) => send(ctx, next, guard, counter, prompt, decision));
      return send(ctx, next, guard, counter, prompt, reserved);
    }
    if (counted) count();
    return send(ctx, next, guard, counter, prompt, undefined);
  }

  /** Sends a guarded call as `decision` lets it go (refuses it), and settles its hold after it. */
  function send(ctx: ModelCallContext, next: ModelCallNext, guard: BudgetGuard, counter: TokenCounter, prompt: Prompt, decision: GuardDecision | undefined): Promise<ModelCallOutcome> {
    const { state } = ctx.run;
    const promptTokens = prompt.tokens;
    if (promptTokens !== undefined) {
      ctx.promptTokens = promptTokens;
      if (promptTokens > state.budget.peakPromptTokens) state.budget.peakPromptTokens = promptTokens;
    }
    const lastCall = state.lastCall;
    let request = prompt.request;
    if (decision) {
      report(ctx, decision);
      if (decision.storeError) reportOutage(ctx, decision.storeError);
      if (decision.decision === 'refuse') return Promise.resolve({ kind: 'refused', stopReason: 'budget_exceeded' });
      request = lowered(ctx, request, decision, ctx.run.agent.budget.onLimit === 'finish');
    }
    const settled = (actualUsd: number): Promise<void> | undefined =>
      decision?.hold ? settle(ctx, guard, decision, actualUsd, decision.decision !== 'allow', retry) : undefined;
    let called: Promise<ModelCallOutcome>;
    try {
      called = next(request);
    } catch (error) {
      called = Promise.reject(error);
    }
    return called.then(
      (outcome) => {
        let actualUsd = 0;
        if (outcome.kind === 'response') {
          actualUsd = outcome.cost?.usd ?? 0;
          const reported = outcome.response.usage.inputTokens;
          if (promptTokens !== undefined) {
            counter.observe(promptTokens, reported);
          } else {
            counter.observeUncounted(prompt.request, reported);
            if (reported > state.budget.peakPromptTokens) state.budget.peakPromptTokens = reported;
          }
        }
        const settling = settled(actualUsd);
        return settling ? settling.then(() => outcome) : outcome;
      },
      (error: unknown) => {
        // A call that failed was no last call: the next model a fallback() tries gets its own decision.
        state.lastCall = lastCall;
        const settling = settled(0);
        if (!settling) throw error;
        return settling.then(() => {
          throw error;
        });
      },
    );
  }

  return {
    name: 'budget',
    wrapModelCall(ctx, next) {
      const policy = ctx.run.agent.budget;
      const outer = outerScopesOf(ctx.run);
      const usd = hasUsdLimit(policy) || outer.length > 0;
      if (!usd && policy.contextTokens === undefined) return next(ctx.request);
      if (ctx.purpose === 'step' && policy.contextTokens !== undefined) return fitThenGuard(ctx, next, policy.contextTokens, outer);
      try {
        return guarded(ctx, next, ctx.request, false, outer);
      } catch (error) {
        // A guard that cannot be made (an unpriced model under a USD limit) fails the call as an
        // async frame would: a rejection, never a throw.
        return Promise.reject(error);
      }
    },

    /**
     * A priced tool call (`costUsd`): its fixed price is reserved in every USD scope before it
     * runs, and a call that does not fit is answered with a budget error result instead of
     * running (the model sees it; the run goes on). Its actual price settles after it. Its
     * checks and settles are run events, each with the call's id.
     */
    wrapToolCall(ctx, next) {
      const { tool, run } = ctx;
      // An unpriced call (most are) goes through with no async frame here.
      if (tool?.costUsd === undefined || ctx.approval === 'denied') return next();
      const outer = outerScopesOf(run);
      if (outer.length === 0 && !hasUsdLimit(run.agent.budget)) return next();
      return reserveTool(ctx, next, tool.costUsd, outer);
    },
  };
}

/**
 * Settles a call's hold to its actual cost; emits the settles when asked (a model call reports
 * them after a decision other than a plain allow, a tool call always). Returns a promise only
 * when the hold had a spend window to settle in the store.
 */
function settle(
  ctx: ModelCallContext | ToolCallContext,
  guard: BudgetGuard,
  decision: GuardDecision,
  actualUsd: number,
  emit: boolean,
  retry: RetryPolicy,
  toolCallId?: string,
): Promise<void> | undefined {
  if (!decision.hold) return undefined;
  const outcome = guard.settle(ctx.run.state, decision.hold, actualUsd);
  if (outcome instanceof Promise) return outcome.then((settled) => reportSettles(ctx, guard, settled, emit, retry, toolCallId));
  reportSettles(ctx, guard, outcome, emit, retry, toolCallId);
  return undefined;
}

/** Emits a call's settles when asked, and reports (and retries later) a settle the store did not take. */
function reportSettles(
  ctx: ModelCallContext | ToolCallContext,
  guard: BudgetGuard,
  { settles, storeError }: SettleOutcome,
  emit: boolean,
  retry: RetryPolicy,
  toolCallId: string | undefined,
): void {
  const { state } = ctx.run;
  if (emit) {
    for (const s of settles) ctx.run.emit({ type: 'budget-settle', step: ctx.step.index, ...s, ...(toolCallId ? { toolCallId } : {}) });
  }
  if (storeError) {
    // The call was paid for and stands; the window learns of it once the store is back.
    state.budget.unsettledUsd += storeError.unsettledUsd ?? 0;
    reportOutage(ctx, storeError);
    settleLater(guard, retry);
  }
}

/** Emits a store outage the guard rode out. */
function reportOutage(ctx: ModelCallContext | ToolCallContext, outage: StoreOutage): void {
  const event: RunEvent = { type: 'budget-store-error', step: ctx.step.index, errorType: outage.error.kind, policy: outage.policy };
  if (outage.unsettledUsd !== undefined) event.unsettledUsd = outage.unsettledUsd;
  ctx.run.emit(event);
}

/**
 * Tries a guard's unrecorded settles again in the background, with the model calls' backoff, up
 * to `maxRetries + 1` times; the next reservation of the window tries first anyway. The timers
 * never keep the process alive.
 */
function settleLater(guard: BudgetGuard, retry: RetryPolicy): void {
  void (async () => {
    for (let attempt = 1; attempt <= retry.maxRetries + 1; attempt++) {
      await wait(retryDelayMs(attempt, retry), undefined, { ref: false });
      if (await guard.settleUnsettled().then(() => true, () => false)) return;
    }
  })();
}

/** Emits a decision's checks when it was not a plain allow. */
function report(ctx: ModelCallContext, decision: GuardDecision): void {
  if (decision.decision === 'allow') return;
  for (const check of decision.checks) {
    ctx.run.emit({ type: 'budget-check', step: ctx.step.index, maxOutputTokens: decision.maxOutputTokens, ...check });
  }
}

/**
 * The request as the budget lets it go: max output tokens as granted and, near the budget's end
 * with `onLimit: 'finish'`, without tools, so the model answers instead of asking for tool calls
 * it cannot afford (the run's next stop is then `graceful_limit`).
 */
function lowered(ctx: ModelCallContext, request: ModelRequest, decision: GuardDecision, finish: boolean): ModelRequest {
  if (decision.decision === 'allow' && request.maxOutputTokens === decision.maxOutputTokens) return request;
  // Built field by field: a spread of the request is a slow path on Node 20, on every call.
  const sent: ModelRequest = { messages: request.messages, tools: request.tools, maxOutputTokens: decision.maxOutputTokens };
  if (request.system !== undefined) sent.system = request.system;
  if (request.temperature !== undefined) sent.temperature = request.temperature;
  if (request.toolChoice !== undefined) sent.toolChoice = request.toolChoice;
  if (request.signal !== undefined) sent.signal = request.signal;
  if (finish && ctx.purpose === 'step' && decision.decision === 'lower' && request.toolChoice !== 'none') {
    sent.toolChoice = 'none';
    ctx.run.state.lastCall = 'budget';
  }
  return sent;
}
