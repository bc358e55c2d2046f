/** One model call: budget check and reservation, the traced call with retries, settlement. */
import { SpanKind, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { abortable } from '../abort.js';
import { setTimeout as wait } from 'node:timers/promises';
import type { BudgetCheck, BudgetGuard, BudgetSettle, StoreOutage } from '../budget/guard.js';
import type { CallCost } from '../pricing/price.js';
import { ModelCallError } from '../providers/errors.js';
import type { Model, ModelRequest, ModelResponse } from '../providers/model.js';
import { ATTR, EVENT, EVENT_ATTR, SPAN_NAME } from '../tracing/attributes.js';
import { chatRequestAttributes, chatResponseAttributes, firstChunkAttributes } from '../tracing/instrumentation.js';
import { setAttributes, withSpan } from '../tracing/span.js';
import { retryDelayMs, shouldRetry, sleep, type RetryPolicy } from './retry.js';
import { addCall, type RunScope } from './scope.js';

/** A call the budget refused, with the decisions that refused it. */
export interface Refused {
  refused: true;
  checks: BudgetCheck[];
}

/** A call made: the response, its cost, and whether the budget made it the last one (sent without tools). */
export interface Answered {
  refused: false;
  response: ModelResponse;
  cost: CallCost | undefined;
  /** The budget lowered max output tokens and `finishOnLower` made this a final, tool-less call. */
  finished: boolean;
}

/** Records budget decisions as `tracebound.budget.check` events. */
export function recordChecks(span: Span, checks: readonly BudgetCheck[], maxOutputTokens: number): void {
  if (!span.isRecording()) return;
  for (const c of checks) {
    span.addEvent(EVENT.budgetCheck, {
      [EVENT_ATTR.scope]: c.scope,
      [EVENT_ATTR.limit]: c.limit,
      [EVENT_ATTR.spent]: c.spent,
      [EVENT_ATTR.reserved]: c.reserved,
      [EVENT_ATTR.remaining]: c.remaining,
      [EVENT_ATTR.decision]: c.decision,
      [EVENT_ATTR.requestedUsd]: c.requestedUsd,
      [EVENT_ATTR.grantedUsd]: c.grantedUsd,
      [EVENT_ATTR.maxOutputTokens]: maxOutputTokens,
    });
  }
}

function recordSettles(span: Span, settles: readonly BudgetSettle[]): void {
  if (!span.isRecording()) return;
  for (const s of settles) {
    span.addEvent(EVENT.budgetSettle, { [EVENT_ATTR.scope]: s.scope, [EVENT_ATTR.reserved]: s.reserved, [EVENT_ATTR.actual]: s.actual });
  }
}

/** Records a store outage the guard rode out as a `tracebound.budget.store_error` event. */
function recordStoreError(span: Span, outage: StoreOutage): void {
  if (!span.isRecording()) return;
  const attrs: Attributes = { [EVENT_ATTR.errorType]: outage.error.kind, [EVENT_ATTR.policy]: outage.policy };
  if (outage.unsettledUsd !== undefined) attrs[EVENT_ATTR.unsettledUsd] = outage.unsettledUsd;
  span.addEvent(EVENT.budgetStoreError, attrs);
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

/**
 * Counts the prompt, reserves the worst case in every USD scope (lowering max output tokens when
 * only part fits), makes the call, then settles to the actual cost: what the provider reported,
 * or zero for a call that failed. Budget events go on `current` (the step or compression span).
 * @param finishOnLower when the budget lowers max output tokens, send the call without tools
 *   (`toolChoice: 'none'`) so the model gives its final answer (`onLimit: 'finish'`).
 * @returns `{ refused: true }` when the budget does not fit even `minOutputTokens`.
 *   A store outage at settle keeps the answer: a `tracebound.budget.store_error` event with the
 *   unrecorded USD, the settle retried in the background, and the window's next reservation
 *   failing closed until the store records it.
 * @throws {ModelCallError} after retries, {@link BudgetStoreError} when the store is down at
 *   reserve time (fail closed).
 */
export async function guardedCall(
  model: Model,
  request: ModelRequest,
  stepIndex: number,
  current: { span: Span; context: Context },
  scope: RunScope,
  finishOnLower = false,
): Promise<Refused | Answered> {
  const promptTokens = scope.counter?.count(request);
  if (promptTokens !== undefined) scope.totals.peakPromptTokens = Math.max(scope.totals.peakPromptTokens, promptTokens);
  const maxOutputTokens = scope.guard.maxOutputTokens(request.maxOutputTokens);
  const decision =
    maxOutputTokens === undefined
      ? undefined
      : await scope.guard.reserve(promptTokens ?? 0, maxOutputTokens);
  if (decision) recordChecks(current.span, decision.checks, decision.maxOutputTokens);
  if (decision?.storeError) recordStoreError(current.span, decision.storeError);
  if (decision?.decision === 'refuse') return { refused: true, checks: decision.checks };
  // Near the budget's end the model answers instead of asking for tool calls it cannot afford.
  const finished = finishOnLower && decision?.decision === 'lower' && request.toolChoice !== 'none';
  let sent = request;
  if (decision) {
    sent = { ...request, maxOutputTokens: decision.maxOutputTokens };
    if (finished) sent.toolChoice = 'none';
  }
  let actualUsd = 0;
  try {
    const { response, cost } = await callModel(model, sent, stepIndex, current.context, scope, promptTokens);
    actualUsd = cost?.usd ?? 0;
    if (promptTokens !== undefined) scope.counter?.observe(promptTokens, response.usage.inputTokens);
    return { refused: false, response, cost, finished };
  } finally {
    if (decision?.hold) {
      const { settles, storeError } = await scope.guard.settle(decision.hold, actualUsd);
      recordSettles(current.span, settles);
      if (storeError) {
        // The answer was paid for and stands; the window learns of it once the store is back.
        recordStoreError(current.span, storeError);
        settleLater(scope.guard, scope.retry);
      }
    }
  }
}

/**
 * The traced model call (`chat {model}`, CLIENT), retried on transient errors with every attempt
 * recorded; adds the call's usage and cost to the run's totals.
 * @throws {ModelCallError} when the call fails for good.
 */
export async function callModel(
  model: Model,
  request: ModelRequest,
  stepIndex: number,
  parent: Context,
  scope: RunScope,
  promptTokens?: number,
): Promise<{ response: ModelResponse; cost: CallCost | undefined }> {
  return withSpan(
    scope.tracer,
    {
      name: SPAN_NAME.chat(model.modelId),
      kind: SpanKind.CLIENT,
      parent,
      attributes: () => {
        const attrs = chatRequestAttributes(model, request, scope.owner, scope.streaming, scope.capture);
        if (promptTokens !== undefined) {
          attrs[ATTR.contextPromptTokens] = promptTokens;
          if (scope.contextWindow) attrs[ATTR.contextUtilization] = promptTokens / scope.contextWindow;
        }
        return attrs;
      },
      capture: scope.capture,
    },
    async ({ span }) => {
      const started = performance.now();
      for (let attempt = 1; ; attempt++) {
        let delivered = false;
        try {
          // Raced against the run's signal, not trusted to honour it: a model that ignores its
          // signal must not hold the run past its deadline, and a late response is dropped.
          const response = await abortable(
            scope.streaming
              ? consumeStream(model, request, stepIndex, scope, () => {
                  if (!delivered) setAttributes(span, () => firstChunkAttributes((performance.now() - started) / 1000, Date.now()));
                  delivered = true;
                })
              : model.generate(request),
            scope.signal,
          );
          const cost: CallCost | undefined =
            response.providerCostUsd !== undefined
              ? { usd: response.providerCostUsd, inputUsd: 0, outputUsd: response.providerCostUsd, source: 'provider', priceTableVersion: 'provider' }
              : scope.price(response.usage, response.model);
          addCall(scope.totals, response.usage, cost);
          if (!cost && span.isRecording()) {
            span.addEvent(EVENT.priceUnknown, { [EVENT_ATTR.provider]: model.provider, [EVENT_ATTR.model]: model.modelId });
          }
          setAttributes(span, () => {
            const attrs = chatResponseAttributes(response, cost, attempt - 1, scope.capture);
            if (promptTokens === undefined && scope.contextWindow) {
              attrs[ATTR.contextUtilization] = response.usage.inputTokens / scope.contextWindow;
            }
            return attrs;
          });
          scope.emit({ type: 'usage', step: stepIndex, usage: response.usage, costUsd: cost?.usd });
          return { response, cost };
        } catch (error) {
          if (delivered || scope.signal.aborted || !shouldRetry(error, attempt, scope.retry)) {
            if (span.isRecording()) span.setAttribute(ATTR.retryAttempts, attempt - 1);
            throw error;
          }
          const delayMs = retryDelayMs(attempt, scope.retry, error);
          if (span.isRecording()) {
            span.addEvent(EVENT.retry, {
              [EVENT_ATTR.attempt]: attempt,
              [EVENT_ATTR.errorType]: error.kind,
              [EVENT_ATTR.errorMessage]: error.message,
              [EVENT_ATTR.delayMs]: delayMs,
            });
          }
          scope.emit({ type: 'retry', step: stepIndex, attempt, delayMs, error });
          await sleep(delayMs, scope.signal);
        }
      }
    },
  );
}

async function consumeStream(
  model: Model,
  request: ModelRequest,
  stepIndex: number,
  scope: RunScope,
  onChunk: () => void,
): Promise<ModelResponse> {
  for await (const chunk of model.stream(request)) {
    // Chunks of a stream abandoned on abort arrive after its span ended: they go nowhere.
    scope.signal.throwIfAborted();
    onChunk();
    if (chunk.type === 'response') return chunk.response;
    if (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta') {
      scope.emit({ type: chunk.type, step: stepIndex, text: chunk.text });
    }
  }
  throw new ModelCallError('the stream ended without a final response', { kind: 'stream_error', provider: model.provider });
}
