import {
  context as otelContext,
  INVALID_TRACEID,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { errorType } from '../errors.js';
import { ATTR } from './attributes.js';

/** What a span is: its name, kind, parent and (lazily computed) start attributes. */
export interface SpanSpec {
  name: string;
  kind?: SpanKind;
  /** The parent context; the active context when absent. */
  parent?: Context;
  /** Computed only when the span is recording. */
  attributes?: () => Attributes;
}

/** A started span and the context that makes it the parent of what runs inside it. */
export interface OpenSpan {
  span: Span;
  context: Context;
}

/**
 * Whether a span takes part in a trace (recording, or sampled out but with a real trace id that
 * children must share). A no-op tracer's spans do not, so their context need not be made active.
 */
export function isTraced(span: Span): boolean {
  return span.isRecording() || span.spanContext().traceId !== INVALID_TRACEID;
}

/** Starts a span as a child of `spec.parent` (or the active context). */
export function openSpan(tracer: Tracer, spec: SpanSpec): OpenSpan {
  const parent = spec.parent ?? otelContext.active();
  // The SDK's default start time has millisecond precision, which leaves parallel tool calls
  // unordered in a trace; the performance clock gives sub-millisecond starts.
  const startTime = performance.timeOrigin + performance.now();
  const span = tracer.startSpan(spec.name, { kind: spec.kind ?? SpanKind.INTERNAL, startTime }, parent);
  if (spec.attributes && span.isRecording()) span.setAttributes(spec.attributes());
  // A no-op tracer's span carries nothing children need: skip making a context for it.
  return { span, context: isTraced(span) ? trace.setSpan(parent, span) : parent };
}

/** Marks a span failed: status ERROR, `error.type`, and the exception as an event. */
export function recordError(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  const type = errorType(error);
  span.setAttribute(ATTR.errorType, type);
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

/** Sets attributes computed only when the span is recording. */
export function setAttributes(span: Span, attributes: () => Attributes): void {
  if (span.isRecording()) span.setAttributes(attributes());
}

/**
 * Runs `fn` inside a new span (active for everything `fn` awaits), records a thrown error on it,
 * and always ends it.
 */
export async function withSpan<T>(tracer: Tracer, spec: SpanSpec, fn: (open: OpenSpan) => Promise<T>): Promise<T> {
  const open = openSpan(tracer, spec);
  try {
    return await (isTraced(open.span) ? otelContext.with(open.context, () => fn(open)) : fn(open));
  } catch (error) {
    recordError(open.span, error);
    throw error;
  } finally {
    open.span.end();
  }
}
