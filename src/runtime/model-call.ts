/**
 * The model call itself, at the bottom of the chain: the provider's `generate` (or its stream,
 * with deltas sent as run events), given way to the run's signal, priced, and added to the run's
 * totals.
 */
import { abortable } from '../abort.js';
import { addUsage } from '../messages.js';
import { reportedCost, servedPricer, type CallCost, type PriceOverrides, type ServedPricer } from '../pricing/price.js';
import { ModelCallError } from '../providers/errors.js';
import type { Model, ModelRequest, ModelResponse } from '../providers/model.js';
import type { ModelCallContext, RunContext } from './middleware.js';
import type { ModelCallOutcome } from './outcomes.js';
import type { RunTotals } from './run-state.js';

/**
 * Makes the core of a runtime's model calls. Each call is priced on the model that served it
 * (`gen_ai.response.model`, as the provider names it) when the provider says, else on the model
 * requested; a provider-reported cost wins over both.
 * @param prices the runtime's price overrides (USD per million tokens).
 */
export function modelCallCore(prices: PriceOverrides): (ctx: ModelCallContext, request: ModelRequest) => Promise<ModelCallOutcome> {
  const pricers = new WeakMap<Model, ServedPricer>();
  const priceOf = (model: Model): ServedPricer => {
    let pricer = pricers.get(model);
    if (!pricer) {
      pricer = servedPricer(model.provider, model.modelId, prices);
      pricers.set(model, pricer);
    }
    return pricer;
  };
  return async (ctx, request) => {
    const { run } = ctx;
    const model = ctx.model;
    ctx.firstChunkAt = undefined;
    // A guardrail's call is not part of the answer a stream reader follows.
    const streamed = run.streaming && ctx.purpose !== 'guardrail';
    const response = await abortable(streamed ? consumeStream(ctx, model, request) : model.generate(request), run.signal);
    const cost: CallCost | undefined =
      response.providerCostUsd !== undefined ? reportedCost(response.providerCostUsd) : priceOf(model)(response.usage, response.model);
    // A sub-run's spend is its ancestors' too: their run budgets and results count it as it happens.
    for (let r: RunContext | undefined = run; r; r = r.parentCall?.run) addCall(r.state.totals, response, cost);
    return { kind: 'response', response, cost };
  };
}

/** Adds one call's usage and cost to a run's totals. */
function addCall(totals: RunTotals, response: ModelResponse, cost: CallCost | undefined): void {
  totals.usage = addUsage(totals.usage, response.usage);
  if (cost) totals.costUsd += cost.usd;
  else totals.priced = false;
}

async function consumeStream(ctx: ModelCallContext, model: Model, request: ModelRequest): Promise<ModelResponse> {
  const step = ctx.step.index;
  const partial = request.output && ctx.purpose === 'step' ? await partialAnswer() : undefined;
  for await (const chunk of model.stream(request)) {
    // Chunks of a stream abandoned on abort arrive after its span ended: they go nowhere.
    ctx.run.signal?.throwIfAborted();
    ctx.firstChunkAt ??= performance.now();
    if (chunk.type === 'response') return chunk.response;
    if (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta') ctx.run.emit({ type: chunk.type, step, text: chunk.text });
    if (chunk.type === 'text-delta' && partial) {
      const changed = partial(chunk.text);
      if (changed !== undefined) ctx.run.emit({ type: 'output-partial', step, partial: changed.value });
    }
  }
  throw new ModelCallError('the stream ended without a final response', { kind: 'stream_error', provider: model.provider });
}

/**
 * Follows a typed answer's JSON as its text streams in: each delta gives the whole value so far,
 * parsed leniently by `partial-json` (unfinished strings, numbers, arrays and objects closed),
 * when it differs from the last one; undefined while nothing new parses. Loaded on the first
 * streamed typed call.
 */
async function partialAnswer(): Promise<(delta: string) => { value: unknown } | undefined> {
  const { parse } = await import('partial-json');
  let text = '';
  let last: string | undefined;
  return (delta) => {
    text += delta;
    let value: unknown;
    try {
      value = parse(text);
    } catch {
      // Not JSON yet (empty, or prose before it): wait for more.
      return undefined;
    }
    const key = JSON.stringify(value);
    if (key === last) return undefined;
    last = key;
    return { value };
  };
}
