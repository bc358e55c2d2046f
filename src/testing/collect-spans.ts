import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/** An in-memory span sink for tests: pass `tracerProvider` to `tracedRuntime()`. */
export interface SpanCollector {
  readonly tracerProvider: BasicTracerProvider;
  /** Every span ended so far, in end order. */
  spans(): ReadableSpan[];
  /** Forgets the spans collected so far. */
  reset(): void;
}

/** Collects ended spans in memory through the real OpenTelemetry SDK (SimpleSpanProcessor). */
export function collectSpans(): SpanCollector {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return {
    tracerProvider,
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
  };
}
