/**
 * A model that falls back to the next one when a model is down.
 *
 * Design: a fallback is not a wrapper that calls its models inside one model call. Each model
 * it tries must be its own call, with its own `chat` span (the failed one ends in error with no
 * cost; the next is priced on its own model), its own budget reservation at its own prices, and
 * its own retries before the next model is tried. So {@link fallback} only describes the models
 * and the kinds of error that move on; the runtime's chain (`throughFallback` in
 * runtime/middleware.ts) sees that the agent's model is a fallback
 * and sends the call through the whole middleware chain once per model, each pass with that model
 * as `ModelCallContext.model`. Called outside a runtime (its own `generate` or `stream`), a
 * fallback tries its models in order with the same rule, without spans or retries.
 */
import { ModelCallError, RETRYABLE_KINDS, type ModelErrorKind } from './errors.js';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk } from './model.js';

/** Options of {@link fallback}. */
export interface FallbackOptions {
  /**
   * The error kinds that move on to the next model, once a model's retries are spent: by default
   * the transient and outage kinds (`rate_limit`, `overloaded` (529), `server_error` (500, 503 and
   * other 5xx), `connection`, `timeout`); never an aborted run. Not by default: `invalid_request`
   * (400), `authentication` (401) and the rest, which the next model would most likely fail too,
   * or which are the caller's to fix.
   */
  on?: readonly ModelErrorKind[];
}

/** What the runtime needs of a fallback: its models in order and the kinds that move on. */
export interface FallbackPlan {
  readonly models: readonly Model[];
  readonly on: ReadonlySet<ModelErrorKind>;
}

const plans = new WeakMap<Model, FallbackPlan>();

/** The plan of a model made by {@link fallback}; `undefined` for any other model. */
export function fallbackPlan(model: Model): FallbackPlan | undefined {
  return plans.get(model);
}

/**
 * Whether `error`, thrown by a model of `plan` that is not the last, moves on to the next one: a
 * {@link ModelCallError} of one of the plan's kinds.
 */
export function movesOn(plan: FallbackPlan, error: unknown): error is ModelCallError {
  return error instanceof ModelCallError && plan.on.has(error.kind);
}

/**
 * A {@link Model} that is `models[0]`, then `models[1]` when the first fails with a transient
 * error or an outage after its retries, and so on. Give it to `agent({ model })`. Its
 * `provider` and `modelId` (the run span's `gen_ai.provider.name` and `gen_ai.request.model`) are
 * the first model's; each call's `chat` span names the model it went to. A fallback inside
 * `models` is flattened into the list.
 * @throws {TypeError} when `models` is empty.
 */
export function fallback(models: readonly Model[], opts: FallbackOptions = {}): Model {
  const flat = models.flatMap((m) => fallbackPlan(m)?.models ?? [m]);
  const first = flat[0];
  if (!first) throw new TypeError('fallback() needs at least one model, e.g. fallback([anthropic("claude-sonnet-4-5"), openai("gpt-4.1")])');
  const plan: FallbackPlan = { models: flat, on: new Set(opts.on ?? RETRYABLE_KINDS) };
  const model: Model = {
    provider: first.provider,
    modelId: first.modelId,
    // Native structured output only when every model has it: the schema goes in the prompt otherwise.
    structuredOutput: flat.every((m) => m.structuredOutput === true),
    async generate(request: ModelRequest): Promise<ModelResponse> {
      for (let i = 0; ; i++) {
        try {
          return await (flat[i] as Model).generate(request);
        } catch (error) {
          if (i === flat.length - 1 || request.signal?.aborted || !movesOn(plan, error)) throw error;
        }
      }
    },
    async *stream(request: ModelRequest): AsyncIterable<ModelStreamChunk> {
      for (let i = 0; ; i++) {
        let delivered = false;
        try {
          for await (const chunk of (flat[i] as Model).stream(request)) {
            delivered = true;
            yield chunk;
          }
          return;
        } catch (error) {
          // A stream that already delivered a chunk is not taken over: its text reached the reader.
          if (delivered || i === flat.length - 1 || request.signal?.aborted || !movesOn(plan, error)) throw error;
        }
      }
    },
  };
  if (first.server) Object.assign(model, { server: first.server });
  plans.set(model, plan);
  return model;
}
