import type { TracerProvider } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createRuntime, type RuntimeOptions } from '../create-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { TRACER_NAME } from '../tracing/attributes.js';
import { ExportGuard, type ExportStats } from './export-guard.js';
import { createMeterProvider } from './meter-provider.js';
import {
  createTracerProvider,
  DEFAULT_TRACE_FILE,
  exporterNames,
  exportsLocallyOnly,
  type ExporterName,
} from './setup.js';

/** What `tracedRuntime()` takes: the runtime's options plus where its spans go. */
export interface TracedRuntimeOptions extends Omit<RuntimeOptions, 'tracer'> {
  /**
   * Where spans go: `file` (default), `otlp` (OTLP/HTTP, `OTEL_EXPORTER_OTLP_*`), `otlp-proto`,
   * `langfuse` (`LANGFUSE_PUBLIC_KEY`, `LANGFUSE_SECRET_KEY`, `LANGFUSE_BASE_URL`), `console`,
   * `none`, or several. Message content is captured by default only when all are local (`file`,
   * `console`, `none`).
   */
  exporter?: ExporterName | readonly ExporterName[];
  /** The trace file of the `file` exporter. Default `.tracebound/traces.jsonl`. */
  traceFile?: string;
  /**
   * The caller's own TracerProvider: tracebound then adds no exporter (nor a meter provider) and
   * registers nothing global; flushing and shutting it down stay the caller's.
   */
  tracerProvider?: TracerProvider;
  /** More span processors for the provider tracebound builds. */
  spanProcessors?: readonly SpanProcessor[];
  /** `service.name` when the environment does not set one. */
  serviceName?: string;
}

/** A runtime whose runs are traced. */
export interface TracedRuntime extends Runtime {
  /** Exports every ended span (and, with `otlp`, the metrics so far) now, without closing anything. */
  forceFlush(): Promise<void>;
  /** Flushes every exporter (spans and metrics) and closes them; call it before the process exits. Idempotent. */
  shutdown(): Promise<void>;
  /**
   * Spans lost so far (`tracebound.export.dropped`), in total and per exporter: dropped because
   * an exporter's queue was full, or in exports that failed after the exporter's retries. Each
   * loss is also reported as a warning line on stderr. All zeros with the caller's own provider,
   * whose exporters tracebound does not see.
   */
  exportStats(): ExportStats;
}

/**
 * Makes a runtime whose every run, step, model call and tool call is an OpenTelemetry span,
 * exported to the local trace file by default. With `otlp` or `otlp-proto` its metrics go over
 * OTLP too (to `/v1/metrics` of the same endpoint), unless `meterProvider` is given. Message content is captured by default only when
 * every exporter is local (the trace file needs it for replay); set `captureContent` to choose.
 * Exporters never block or fail a run: a backend that is down costs the spans it misses, each
 * counted in {@link TracedRuntime.exportStats} and reported on stderr.
 * @throws {TypeError} on an unknown exporter name.
 * @throws {TracingConfigError} when an exporter's environment is incomplete, e.g. `langfuse`
 *   without `LANGFUSE_PUBLIC_KEY`/`LANGFUSE_SECRET_KEY` (the error names the variables).
 */
export function tracedRuntime(options: TracedRuntimeOptions = {}): TracedRuntime {
  if (options.tracerProvider) return withoutExport(createRuntime({ ...options, tracer: options.tracerProvider.getTracer(TRACER_NAME) }));
  const names = exporterNames(options.exporter);
  // Nothing would see a span: make none at all (the loop's no-op path), rather than record them.
  if (names.every((n) => n === 'none') && !options.spanProcessors?.length) return withoutExport(createRuntime({ ...options, tracer: undefined }));
  const guard = new ExportGuard();
  const meterProvider = options.meterProvider ? undefined : createMeterProvider(names, options.serviceName);
  const provider = createTracerProvider({
    exporter: names,
    traceFile: options.traceFile ?? DEFAULT_TRACE_FILE,
    spanProcessors: options.spanProcessors,
    serviceName: options.serviceName,
    guard,
  });
  // Shut down once: the CLI calls it in its finally and again from `beforeExit`/signal handlers.
  let closing: Promise<void> | undefined;
  return {
    ...createRuntime({
      ...options,
      captureContent: options.captureContent ?? exportsLocallyOnly(names),
      langfuseAttributes: options.langfuseAttributes ?? names.includes('langfuse'),
      tracer: provider.getTracer(TRACER_NAME),
      meterProvider: options.meterProvider ?? meterProvider,
    }),
    forceFlush: async () => {
      await Promise.all([provider.forceFlush(), meterProvider?.forceFlush()]);
    },
    shutdown: () => (closing ??= Promise.all([provider.shutdown(), meterProvider?.shutdown()]).then(() => undefined)),
    exportStats: () => guard.stats(),
  };
}

/** A traced runtime whose exporters are not tracebound's: nothing to flush, nothing counted. */
function withoutExport(runtime: Runtime): TracedRuntime {
  const none = new ExportGuard();
  return { ...runtime, forceFlush: async () => {}, shutdown: async () => {}, exportStats: () => none.stats() };
}
