import {
  context as otelContext,
  INVALID_TRACEID,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  createContextKey,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { ConversationBusyError, StoreError } from '../state/errors.js';
import { errorType } from '../errors.js';
import { ModelCallError } from '../providers/errors.js';
import { maskSecrets } from '../secrets.js';
import { ATTR } from './attributes.js';
import type { ContentCapture } from './instrumentation.js';

const RUNTIME_TRACER = createContextKey('tracebound.runtime-tracer');

/**
 * The context a tool runs in carries the runtime's tracer, so that spans a tool library makes
 * (MCP's `tools/call`) go where the runtime's go: `tracedRuntime()` registers no global tracer
 * provider, and the global one a library would fall back to is then a no-op.
 */
export function withRuntimeTracer(ctx: Context, tracer: Tracer): Context {
  return ctx.setValue(RUNTIME_TRACER, tracer);
}

/** The runtime's tracer in the active context (inside a traced run, its tool calls included), if any. */
export function activeRuntimeTracer(): Tracer | undefined {
  return otelContext.active().getValue(RUNTIME_TRACER) as Tracer | undefined;
}

/** What a span is: its name, kind, parent and (lazily computed) start attributes. */
export interface SpanSpec {
  name: string;
  kind?: SpanKind;
  /** The parent context; the active context when absent. */
  parent?: Context;
  /** Computed only when the span is recording. */
  attributes?: () => Attributes;
  /** Spans this one is causally related to besides its parent (a resumed run's earlier part). */
  links?: Link[];
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
  const span = tracer.startSpan(spec.name, { kind: spec.kind ?? SpanKind.INTERNAL, startTime, links: spec.links }, parent);
  if (spec.attributes && span.isRecording()) span.setAttributes(spec.attributes());
  // A no-op tracer's span carries nothing children need: skip making a context for it.
  return { span, context: isTraced(span) ? trace.setSpan(parent, span) : parent };
}

/**
 * Whether an error's message was written by tracebound from operational facts (a provider's error
 * kind, status and text; a store outage, a busy conversation), not from what a tool, hook or user sent.
 */
function hasOwnMessage(error: unknown): boolean {
  return error instanceof ModelCallError || error instanceof StoreError || error instanceof ConversationBusyError;
}

/** Where a V8 stack's frames start: after the `Name: message` header, which may span lines. */
const FRAMES = /\n\s+at /;

/**
 * Marks a span failed: status ERROR, `error.type`, and the exception as an event
 * (`exception.type`, `exception.message`, `exception.stacktrace`). Known API keys are masked in
 * the message and stack (secrets.ts). Any other error's message is content (a tool may throw
 * "card 4111 ..."), so with `capture` given:
 * - capture off: the message is not recorded; the event and status say
 *   `<ErrorName> (message not recorded: content capture is off)` and the stack keeps its frames;
 * - capture on with `redact`: the message and stack go through it, as `exception.message` and
 *   `exception.stacktrace` (the status message is the redacted message).
 *
 * Messages tracebound writes itself from operational facts (a `ModelCallError`, a
 * `StoreError`) are not content: `redact` still applies, capture off keeps them.
 */
export function recordError(span: Span, error: unknown, capture?: ContentCapture): void {
  if (!span.isRecording()) return;
  const type = errorType(error);
  span.setAttribute(ATTR.errorType, type);
  const name = error instanceof Error ? error.name : type;
  let message = maskSecrets(error instanceof Error ? error.message : String(error));
  let stack = error instanceof Error && error.stack !== undefined ? maskSecrets(error.stack) : undefined;
  if (capture && !capture.enabled && !hasOwnMessage(error)) {
    message = `${name} (message not recorded: content capture is off)`;
    const frames = stack?.search(FRAMES) ?? -1;
    stack = frames === -1 ? `${name}: ${message}` : `${name}: ${message}${stack!.slice(frames)}`;
  } else if (capture?.redact) {
    message = capture.redact(message, ATTR.exceptionMessage);
    if (stack !== undefined) stack = capture.redact(stack, ATTR.exceptionStacktrace);
  }
  span.recordException({ name, message, stack });
  span.setStatus({ code: SpanStatusCode.ERROR, message });
}

/** Sets attributes computed only when the span is recording. */
export function setAttributes(span: Span, attributes: () => Attributes): void {
  if (span.isRecording()) span.setAttributes(attributes());
}
