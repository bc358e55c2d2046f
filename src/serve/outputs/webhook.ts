/**
 * The webhook output: POSTs each outcome as JSON, signed the Standard Webhooks way
 * (https://www.standardwebhooks.com: `webhook-id`, `webhook-timestamp`, `webhook-signature`, so a
 * receiver can verify with any Standard Webhooks library and reject a replayed capture), retried
 * with p-retry. Every attempt is a `deliver webhook` span whose context goes out as `traceparent`.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import pRetry, { AbortError } from 'p-retry';
import { Webhook } from 'standardwebhooks';
import { retryAfterMs } from '../../providers/errors.js';
import { ATTR, SPAN_NAME, TRACER_NAME } from '../../tracing/attributes.js';
import { outcomeJson } from '../serve.js';
import { injectTraceContext } from '../trace-context.js';
import type { Output, RunOutcome } from '../types.js';

/** What `webhookOutput()` takes. */
export interface WebhookOutputOptions {
  url: string;
  /**
   * The endpoint's Standard Webhooks signing secret: `whsec_` and the base64 of the key (the
   * receiver verifies with the same string). Each attempt is signed
   * `webhook-signature: v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`.
   */
  secret: string;
  /** Attempts per outcome, the first included. Default 5. */
  maxAttempts?: number;
  /** Delay before the first retry, in ms; doubled for each next one. Default 500. */
  backoffMs?: number;
  /** Longest backoff, and longest `retry-after` honoured, in ms. Default 30,000. */
  maxDelayMs?: number;
  /** Time limit of one attempt, in ms. Default 10,000. */
  timeoutMs?: number;
  /** Tracer of the delivery spans. Default: the global API's `tracebound` tracer. */
  tracer?: Tracer;
  /** Told when an outcome could not be delivered (attempts used up, or a 4xx answer). Default: a line on stderr. */
  onGiveUp?: (error: Error, outcome: RunOutcome) => void;
}

/** An attempt that failed in a way worth retrying, with the receiver's `retry-after` when it gave one. */
class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** 408, 425 and 429 ask to come back later; other 4xx answers will not change. */
const RETRYABLE = new Set([408, 425, 429]);

function logGiveUp(error: Error, outcome: RunOutcome): void {
  process.stderr.write(`tracebound serve: webhook delivery of ${outcome.message.id} failed: ${error.message}\n`);
}

/**
 * Makes the webhook output. Network errors, timeouts, 408, 425, 429 and 5xx answers are retried
 * with exponential backoff, after first waiting what the receiver's `retry-after` asks (at most
 * `maxDelayMs`); other non-2xx answers are not. All attempts of one outcome share its
 * `webhook-id` (receivers deduplicate on it); each is signed with its own timestamp. Failures are
 * recorded (span status, `onGiveUp`), never thrown.
 * @throws {Error} (from standardwebhooks) when `secret` is empty or not base64 after `whsec_`.
 */
export function webhookOutput(options: WebhookOutputOptions): Output {
  const tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
  const signer = new Webhook(options.secret);
  const maxAttempts = options.maxAttempts ?? 5;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`webhookOutput: maxAttempts must be a positive integer, got ${maxAttempts}`);

  /** One signed POST inside its span. @throws {DeliveryError} to retry, {AbortError} to give up. */
  const attempt = (id: string, body: string, outcome: RunOutcome, n: number): Promise<void> =>
    tracer.startActiveSpan(
      SPAN_NAME.deliver('webhook'),
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.deliveryOutput]: 'webhook',
          [ATTR.deliveryAttempt]: n,
          [ATTR.httpRequestMethod]: 'POST',
          [ATTR.urlFull]: options.url,
          [ATTR.serveMessageId]: outcome.message.id,
        },
      },
      // The caller's trace, when the message came with one: the delivery shows next to its run.
      outcome.message.parentContext ?? ROOT_CONTEXT,
      async (span) => {
        try {
          const now = new Date();
          let response: Response;
          try {
            response = await fetch(options.url, {
              method: 'POST',
              headers: {
                'content-type': 'application/json',
                'webhook-id': id,
                'webhook-timestamp': String(Math.floor(now.getTime() / 1_000)),
                'webhook-signature': signer.sign(id, now, body),
                ...injectTraceContext(trace.setSpan(ROOT_CONTEXT, span)),
              },
              body,
              signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
            });
            await response.arrayBuffer();
          } catch (error) {
            span.setAttribute(ATTR.errorType, (error as Error).name);
            throw new DeliveryError(`POST ${options.url} failed: ${(error as Error).message}`);
          }
          span.setAttribute(ATTR.httpResponseStatusCode, response.status);
          if (response.ok) return;
          span.setAttribute(ATTR.errorType, String(response.status));
          const failed = new DeliveryError(`${options.url} answered ${response.status}`, retryAfterMs(response.headers));
          throw RETRYABLE.has(response.status) || response.status >= 500 ? failed : new AbortError(failed);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
          throw error;
        } finally {
          span.end();
        }
      },
    );

  return {
    name: 'webhook',
    async deliver(outcome) {
      const body = JSON.stringify(outcomeJson(outcome));
      const id = `msg_${randomUUID()}`;
      try {
        await pRetry((n) => attempt(id, body, outcome, n), {
          retries: maxAttempts - 1,
          minTimeout: options.backoffMs ?? 500,
          factor: 2,
          maxTimeout: maxDelayMs,
          onFailedAttempt: async ({ error, retriesLeft }) => {
            const asked = error instanceof DeliveryError ? error.retryAfterMs : undefined;
            if (asked !== undefined && retriesLeft > 0) await sleep(Math.min(asked, maxDelayMs));
          },
        });
      } catch (error) {
        (options.onGiveUp ?? logGiveUp)(error as Error, outcome);
      }
    },
  };
}
