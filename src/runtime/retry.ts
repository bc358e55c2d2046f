import { ModelCallError } from '../providers/errors.js';
import type { ModelRequest } from '../providers/model.js';
import type { Middleware, ModelCallContext } from './middleware.js';
import type { ModelCallOutcome } from './outcomes.js';

/** How transient provider errors are retried. Delays in ms. */
export interface RetryPolicy {
  /** Retries after the first attempt (0 turns retrying off). */
  maxRetries: number;
  /** Delay before the first retry, doubled for each next one (with jitter). */
  initialDelayMs: number;
  /** Cap on any delay, the provider's `retry-after` included. */
  maxDelayMs: number;
}

/** Two retries, from 500 ms, capped at 20 s: the official SDKs' defaults, give or take. */
export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 2, initialDelayMs: 500, maxDelayMs: 20_000 };

/** Whether a failed attempt (1-based) should be tried again. */
export function shouldRetry(error: unknown, attempt: number, policy: RetryPolicy): error is ModelCallError {
  return error instanceof ModelCallError && error.retryable && attempt <= policy.maxRetries;
}

/**
 * The delay before retry number `attempt` (1-based), in ms: the provider's `retry-after` when it
 * gave one, else exponential backoff with jitter in [50%, 100%]; never above `maxDelayMs`.
 * @param error the failure retried, when it may carry a `retry-after`.
 */
export function retryDelayMs(attempt: number, policy: RetryPolicy, error?: Pick<ModelCallError, 'retryAfterMs'>, random = Math.random): number {
  if (error?.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, policy.maxDelayMs);
  const base = policy.initialDelayMs * 2 ** (attempt - 1);
  return Math.min(Math.round(base * (0.5 + random() / 2)), policy.maxDelayMs);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Retries a model call that failed with a transient provider error (429, 5xx, 529, connection),
 * after the provider's `retry-after` or a jittered backoff; each retry is a `retry` run event.
 * A stream that already delivered a chunk is not retried (its text reached the reader), nor is a
 * run that was aborted.
 */
export function retryMiddleware(policy: RetryPolicy): Middleware {
  return {
    name: 'retry',
    wrapModelCall(ctx, next) {
      const request = ctx.request;
      ctx.attempts = 1;
      // Most calls succeed at once: the first attempt costs no async frame of its own.
      return next(request).catch((error: unknown) => retryAfter(ctx, next, request, error, policy));
    },
  };
}

/** The attempts after a failed first one, while the failure is retryable and retries are left. */
async function retryAfter(
  ctx: ModelCallContext,
  next: (request: ModelRequest) => Promise<ModelCallOutcome>,
  request: ModelRequest,
  failure: unknown,
  policy: RetryPolicy,
): Promise<ModelCallOutcome> {
  let error = failure;
  for (let attempt = 1; ; attempt++) {
    if (ctx.firstChunkAt !== undefined || ctx.run.signal?.aborted || !shouldRetry(error, attempt, policy)) throw error;
    const delayMs = retryDelayMs(attempt, policy, error);
    ctx.run.emit({ type: 'retry', step: ctx.step.index, attempt, delayMs, error });
    await sleep(delayMs, ctx.run.signal);
    ctx.attempts = attempt + 1;
    try {
      return await next(request);
    } catch (again) {
      error = again;
    }
  }
}
