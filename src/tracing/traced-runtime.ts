import type { TracerProvider } from '@opentelemetry/api';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createRuntime, type Runtime, type RuntimeOptions } from '../runtime/runtime.js';
import { TRACER_NAME } from './attributes.js';
import {
  createTracerProvider,
  DEFAULT_TRACE_FILE,
  exporterNames,
  exportsLocallyOnly,
  type ExporterName,
} from './setup.js';

/** What `tracedRuntime()` takes (DESIGN.md, Public API). */
export interface TracedRuntimeOptions extends Omit<RuntimeOptions, 'tracer'> {
  /** Where spans go: `file` (default), `otlp`, `console`, `none`, or several. */
  exporter?: ExporterName | readonly ExporterName[];
  /** The trace file of the `file` exporter. Default `.tracebound/traces.jsonl`. */
  traceFile?: string;
  /**
   * The caller's own TracerProvider: tracebound then adds no exporter and registers nothing
   * global; flushing and shutting it down stay the caller's.
   */
  tracerProvider?: TracerProvider;
  /** More span processors for the provider tracebound builds. */
  spanProcessors?: readonly SpanProcessor[];
  /** `service.name` when the environment does not set one. */
  serviceName?: string;
}

/** A runtime whose runs are traced. */
export interface TracedRuntime extends Runtime {
  /** Exports every ended span now, without closing anything. */
  forceFlush(): Promise<void>;
  /** Flushes every exporter and closes them; call it before the process exits. */
  shutdown(): Promise<void>;
}

/**
 * Makes a runtime whose every run, step, model call and tool call is an OpenTelemetry span,
 * exported to the local trace file by default. Message content is captured by default only when
 * every exporter is local (the trace file needs it for replay); set `captureContent` to choose.
 * @throws {TypeError} on an unknown exporter name.
 */
export function tracedRuntime(options: TracedRuntimeOptions = {}): TracedRuntime {
  if (options.tracerProvider) {
    return {
      ...createRuntime({ ...options, tracer: options.tracerProvider.getTracer(TRACER_NAME) }),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
  }
  const names = exporterNames(options.exporter);
  const provider = createTracerProvider({
    exporter: names,
    traceFile: options.traceFile ?? DEFAULT_TRACE_FILE,
    spanProcessors: options.spanProcessors,
    serviceName: options.serviceName,
  });
  return {
    ...createRuntime({
      ...options,
      captureContent: options.captureContent ?? exportsLocallyOnly(names),
      tracer: provider.getTracer(TRACER_NAME),
    }),
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
