/**
 * The one W3C Trace Context codec of `serve/`: OpenTelemetry's `W3CTraceContextPropagator` (from
 * `@opentelemetry/core`), used by the HTTP input (an incoming request's `traceparent`), the queue
 * input (a job's carried context) and the webhook output (the delivery's outgoing `traceparent`).
 * It is called directly, not through the API's global propagator, so `serve` neither needs nor
 * changes the process's global OpenTelemetry setup.
 */
import { defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

const propagator = new W3CTraceContextPropagator();

/**
 * Carrier of W3C headers: `traceparent` and optionally `tracestate`, as plain strings (a queue
 * job's fields) or as Node's incoming header values.
 */
export type TraceCarrier = Record<string, string | string[] | undefined>;

/**
 * The remote context a carrier's `traceparent` (and `tracestate`) names.
 * @returns undefined when the carrier has no `traceparent`, or an invalid one (spec:
 *   https://www.w3.org/TR/trace-context/#traceparent-header): the run then starts its own trace.
 */
export function extractTraceContext(carrier: TraceCarrier): Context | undefined {
  if (carrier.traceparent === undefined || carrier.traceparent === '') return undefined;
  const context = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  return trace.getSpanContext(context) ? context : undefined;
}

/**
 * The `traceparent` (and `tracestate` when set) of a context's span, as headers or job fields.
 * @returns an empty object when the context holds no valid span context.
 */
export function injectTraceContext(context: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(context, carrier, defaultTextMapSetter);
  return carrier;
}
