/**
 * Metrics as middleware: the GenAI client metrics of the OpenTelemetry semantic conventions
 * (token usage and operation duration of each model call), the USD the calls cost and the budget's
 * decisions, recorded through `@opentelemetry/api` on the runtime's meter provider.
 *
 * Sits next to tracing's `chat` span (inside the budget, around retries), so a call's duration is
 * the span's. Made only when a meter provider is set: with the API's no-op one (no provider
 * registered, none passed) the runtime gets no metrics middleware and does no metric work at all.
 */
import { createNoopMeter, type Attributes, type MeterProvider } from '@opentelemetry/api';
import { errorType } from '../errors.js';
import type { Model } from '../providers/model.js';
import type { Middleware } from '../runtime/middleware.js';
import { ATTR, METRIC, METRIC_ATTR, OPERATION, TOKEN_TYPE, TRACER_NAME } from './attributes.js';

/**
 * Bucket boundaries of `gen_ai.client.token.usage`, in tokens: the semconv's explicit bucket
 * boundaries (semantic-conventions `docs/gen-ai/gen-ai-metrics.md`, "Metric:
 * gen_ai.client.token.usage", commit 01d94504d2ec9a5653a5bde13908bc933d96ff29).
 */
export const TOKEN_USAGE_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

/**
 * Bucket boundaries of `gen_ai.client.operation.duration`, in seconds: the semconv's explicit
 * bucket boundaries (same document, "Metric: gen_ai.client.operation.duration").
 */
export const OPERATION_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** The attributes of one model's calls: of the call, of its input and output tokens, of its cost. */
interface CallAttributes {
  call: Attributes;
  input: Attributes;
  output: Attributes;
  cost: Attributes;
}

/**
 * The semconv attributes of a model's calls (`gen_ai.operation.name`, `gen_ai.provider.name`,
 * `gen_ai.request.model`, `gen_ai.response.model` when given, `server.*` when known), with the
 * token type for token usage and the agent for cost.
 */
function callAttributes(model: Model, agentName: string, responseModel: string | undefined): CallAttributes {
  const call: Attributes = {};
  call[ATTR.operationName] = OPERATION.chat;
  call[ATTR.providerName] = model.provider;
  call[ATTR.requestModel] = model.modelId;
  if (responseModel !== undefined) call[ATTR.responseModel] = responseModel;
  if (model.server) {
    call[ATTR.serverAddress] = model.server.address;
    if (model.server.port !== undefined) call[ATTR.serverPort] = model.server.port;
  }
  return {
    call,
    input: { ...call, [METRIC_ATTR.tokenType]: TOKEN_TYPE.input },
    output: { ...call, [METRIC_ATTR.tokenType]: TOKEN_TYPE.output },
    cost: { ...call, [ATTR.agentName]: agentName },
  };
}

/**
 * The metrics middleware of a runtime, or `undefined` when `meterProvider` is the API's no-op one
 * (checked once, here: the runtime then records nothing and computes no attribute).
 *
 * Records per model call: `gen_ai.client.token.usage` (one value per token type, input and output),
 * `gen_ai.client.operation.duration` (s; with `error.type` when the call failed) and, for a priced
 * call, `tracebound.cost.usage` (USD); per costed tool call (`tool({ costUsd })`),
 * `tracebound.cost.usage` with `gen_ai.operation.name` `execute_tool` and `gen_ai.tool.name`; per
 * budget check event (a scope of a model or costed tool call the budget lowered or refused),
 * `tracebound.budget.decisions` with its decision, scope and operation. Model-call attributes:
 * `gen_ai.operation.name` (`chat`), `gen_ai.provider.name`, `gen_ai.request.model`,
 * `gen_ai.response.model` when the provider names one, `server.address` / `server.port` when known;
 * cost and decisions carry `gen_ai.agent.name` too, so spend can be watched per agent.
 *
 * @param meterProvider the provider passed to the runtime, else the global one (`metrics.getMeterProvider()`)
 */
export function metricsMiddleware(meterProvider: MeterProvider): Middleware | undefined {
  const meter = meterProvider.getMeter(TRACER_NAME);
  if (meter === createNoopMeter()) return undefined;
  const tokenUsage = meter.createHistogram(METRIC.tokenUsage, {
    unit: '{token}',
    description: 'Number of input and output tokens used.',
    advice: { explicitBucketBoundaries: [...TOKEN_USAGE_BUCKETS] },
  });
  const duration = meter.createHistogram(METRIC.operationDuration, {
    unit: 's',
    description: 'GenAI operation duration.',
    advice: { explicitBucketBoundaries: [...OPERATION_DURATION_BUCKETS] },
  });
  const cost = meter.createCounter(METRIC.costUsage, { unit: 'USD', description: 'USD spent on model calls, as priced on their spans.' });
  const decisions = meter.createCounter(METRIC.budgetDecisions, {
    unit: '{decision}',
    description: 'Budget checks that lowered or refused a call, by decision and scope.',
  });

  /** The attribute sets of a model's calls, made once per model and response model (never mutated: the SDK keeps them). */
  const sets = new WeakMap<Model, Map<string | undefined, CallAttributes>>();
  const attributesOf = (model: Model, agentName: string, responseModel: string | undefined): CallAttributes => {
    let byResponse = sets.get(model);
    if (byResponse === undefined) sets.set(model, (byResponse = new Map()));
    const key = responseModel === undefined ? agentName : `${agentName}\u0000${responseModel}`;
    let set = byResponse.get(key);
    if (set === undefined) byResponse.set(key, (set = callAttributes(model, agentName, responseModel)));
    return set;
  };

  return {
    name: 'metrics',
    async wrapModelCall(ctx, next) {
      const started = performance.now();
      // The model the call goes to (a fallback's model being tried, a guardrail's own), not the agent's.
      const { model } = ctx;
      const { name } = ctx.run.agent;
      try {
        const outcome = await next(ctx.request);
        const seconds = (performance.now() - started) / 1000;
        if (outcome.kind !== 'response') {
          duration.record(seconds, attributesOf(model, name, undefined).call);
          return outcome;
        }
        const { response } = outcome;
        const set = attributesOf(model, name, response.model || undefined);
        tokenUsage.record(response.usage.inputTokens, set.input);
        tokenUsage.record(response.usage.outputTokens, set.output);
        if (outcome.cost) cost.add(outcome.cost.usd, set.cost);
        duration.record(seconds, set.call);
        return outcome;
      } catch (error) {
        const attrs = { ...attributesOf(model, name, undefined).call };
        attrs[ATTR.errorType] = errorType(error);
        duration.record((performance.now() - started) / 1000, attrs);
        throw error;
      }
    },
    wrapToolCall(ctx, next) {
      // Only a costed tool (`tool({ costUsd })`) has a cost to count; other calls pass straight through.
      if (ctx.tool?.costUsd === undefined) return next();
      return next().then((outcome) => {
        if (outcome.costUsd !== undefined) {
          const attrs: Attributes = {};
          attrs[ATTR.operationName] = OPERATION.executeTool;
          attrs[ATTR.toolName] = ctx.call.name;
          attrs[ATTR.agentName] = ctx.run.agent.name;
          cost.add(outcome.costUsd, attrs);
        }
        return outcome;
      });
    },
    onEvent(run, event) {
      if (event.type !== 'budget-check') return;
      const attrs: Attributes = {};
      attrs[METRIC_ATTR.budgetDecision] = event.decision;
      attrs[METRIC_ATTR.budgetScope] = event.scope;
      attrs[ATTR.operationName] = event.toolCallId === undefined ? OPERATION.chat : OPERATION.executeTool;
      attrs[ATTR.agentName] = run.agent.name;
      decisions.add(1, attrs);
    },
  };
}
