/**
 * The webhook output: POSTs each outcome as JSON, signed with a shared secret, retrying with
 * exponential backoff (or the receiver's `retry-after`). Every attempt is a `deliver webhook` span.
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { ATTR, SPAN_NAME, TRACER_NAME } from '../../tracing/attributes.js';
import { outcomeJson } from '../serve.js';
import type { Output, RunOutcome } from '../types.js';

/** What `webhookOutput()` takes. */
export interface WebhookOutputOptions {
  url: string;
  /** Shared secret: each body is signed `x-tracebound-signature: sha256=<hex HMAC-SHA256 of the body>`. */
  secret: string;
  /** Attempts per outcome, the first included. Default 5. */
  maxAttempts?: number;
  /** Delay before the first retry, in ms; doubled for each next one. Default 500. */
  backoffMs?: number;
  /** Longest wait between attempts (backoff or `retry-after`), in ms. Default 30,000. */
  maxDelayMs?: number;
  /** Time limit of one attempt, in ms. Default 10,000. */
  timeoutMs?: number;
  /** Tracer of the delivery spans. Default: the global API's `tracebound` tracer. */
  tracer?: Tracer;
  /** Told when an outcome could not be delivered (attempts used up, or a 4xx answer). Default: a line on stderr. */
  onGiveUp?: (error: Error, outcome: RunOutcome) => void;
}

/** The signature header's value for a body: `sha256=` and the hex HMAC-SHA256 with the secret. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** One attempt's verdict: delivered, worth retrying (after `delayMs` when the receiver said), or not. */
type Attempt = { done: true } | { done: false; retry: boolean; error: Error; delayMs?: number };

const RETRYABLE = new Set([408, 425, 429]);

/** `retry-after` as ms: delta-seconds or an HTTP date. */
function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function logGiveUp(error: Error, outcome: RunOutcome): void {
  process.stderr.write(`tracebound serve: webhook delivery of ${outcome.message.id} failed: ${error.message}\n`);
}

/**
 * Makes the webhook output. Network errors, timeouts, 408, 425, 429 and 5xx answers are retried;
 * other non-2xx answers are not. Failures are recorded (span status, `onGiveUp`), never thrown.
 */
export function webhookOutput(options: WebhookOutputOptions): Output {
  const tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
  const maxAttempts = options.maxAttempts ?? 5;
  const maxDelayMs = options.maxDelayMs ?? 30_000;

  const post = async (body: string, span: Span): Promise<Attempt> => {
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tracebound-signature': webhookSignature(options.secret, body) },
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer();
      span.setAttribute(ATTR.httpResponseStatusCode, response.status);
      if (response.ok) return { done: true };
      const error = new Error(`${options.url} answered ${response.status}`);
      span.setAttribute(ATTR.errorType, String(response.status));
      const retry = RETRYABLE.has(response.status) || response.status >= 500;
      return { done: false, retry, error, delayMs: retryAfterMs(response.headers.get('retry-after')) };
    } catch (error) {
      span.setAttribute(ATTR.errorType, (error as Error).name);
      return { done: false, retry: true, error: error as Error };
    }
  };

  const attempt = (body: string, outcome: RunOutcome, n: number): Promise<Attempt> =>
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
        const result = await post(body, span);
        if (!result.done) span.setStatus({ code: SpanStatusCode.ERROR, message: result.error.message });
        span.end();
        return result;
      },
    );

  return {
    name: 'webhook',
    async deliver(outcome) {
      const body = JSON.stringify(outcomeJson(outcome));
      for (let n = 1; ; n++) {
        const result = await attempt(body, outcome, n);
        if (result.done) return;
        if (!result.retry || n >= maxAttempts) return (options.onGiveUp ?? logGiveUp)(result.error, outcome);
        await sleep(Math.min(result.delayMs ?? (options.backoffMs ?? 500) * 2 ** (n - 1), maxDelayMs));
      }
    },
  };
}
