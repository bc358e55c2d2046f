import type { Context } from '@opentelemetry/api';
import { otelTraceBase } from '../telemetry/sdk.js';
import type { BasicTracerProvider, ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** An in-memory span sink for tests: pass `tracerProvider` to `tracedRuntime()`. */
export interface SpanCollector {
  readonly tracerProvider: BasicTracerProvider;
  /** Every span ended so far, in end order. */
  spans(): ReadableSpan[];
  /**
   * Every span started but not yet ended, in start order: after a run has settled, anything here
   * is a span the runtime leaked (see the `toHaveNoOpenSpans()` matcher).
   */
  open(): ReadableSpan[];
  /** Forgets the ended spans collected so far (spans still open stay tracked until they end). */
  reset(): void;
}

/**
 * Tracks started spans until they end. The exporter only ever sees ended spans, so this is the
 * one place a span that was never ended can be seen.
 */
class OpenSpanTracker implements SpanProcessor {
  readonly started = new Set<Span>();

  onStart(span: Span, _parentContext: Context): void {
    this.started.add(span);
  }

  onEnd(span: ReadableSpan): void {
    this.started.delete(span as Span);
  }

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}

/**
 * Collects ended spans in memory through the real OpenTelemetry SDK (SimpleSpanProcessor), and
 * tracks the spans still open.
 */
export function collectSpans(): SpanCollector {
  // Loaded here, not with tracebound/testing: an agent module importing the testing kit for its
  // offline setup must not load the SDK (the CLI imports such modules through tsx's hooks).
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = otelTraceBase();
  const exporter = new InMemorySpanExporter();
  const tracker = new OpenSpanTracker();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [tracker, new SimpleSpanProcessor(exporter)] });
  return {
    tracerProvider,
    spans: () => exporter.getFinishedSpans(),
    open: () => [...tracker.started],
    reset: () => exporter.reset(),
  };
}
