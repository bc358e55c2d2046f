/**
 * OpenTelemetry SDK setup: the one module that builds a TracerProvider, its span processors and
 * exporters. The runtime itself only uses `@opentelemetry/api`.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OtlpJsonFileExporter } from './file-exporter.js';

/** Where spans go. `file` is the embedded default; `none` exports nothing. */
export type ExporterName = 'file' | 'otlp' | 'console' | 'none';

/** The default trace file, relative to the working directory. */
export const DEFAULT_TRACE_FILE = '.tracebound/traces.jsonl';

/** What `createTracerProvider` takes. */
export interface TracingSetupOptions {
  /** One exporter or several at once (e.g. `['file', 'otlp']`). Default `file`. */
  exporter?: ExporterName | readonly ExporterName[];
  /** The `file` exporter's path. Default {@link DEFAULT_TRACE_FILE}. */
  traceFile?: string;
  /** More span processors, added after the exporters' (e.g. an in-memory one in tests). */
  spanProcessors?: readonly SpanProcessor[];
  /** `service.name` when `OTEL_SERVICE_NAME` (or `OTEL_RESOURCE_ATTRIBUTES`) does not set one. Default `tracebound`. */
  serviceName?: string;
}

/** Exporter names as a list, validated. */
export function exporterNames(exporter: TracingSetupOptions['exporter']): ExporterName[] {
  const names = exporter === undefined ? ['file'] : typeof exporter === 'string' ? [exporter] : [...exporter];
  for (const name of names) {
    if (!['file', 'otlp', 'console', 'none'].includes(name)) {
      throw new TypeError(`unknown exporter "${name}": use one of file, otlp, console, none`);
    }
  }
  return names as ExporterName[];
}

/** Whether every exporter keeps spans on this machine (content capture is then on by default). */
export function exportsLocallyOnly(names: readonly ExporterName[]): boolean {
  return names.every((n) => n !== 'otlp');
}

function exporterFor(name: ExporterName, traceFile: string): SpanExporter | undefined {
  switch (name) {
    case 'file':
      return new OtlpJsonFileExporter(traceFile);
    case 'otlp':
      // Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
      return new OTLPTraceExporter();
    case 'console':
      return new ConsoleSpanExporter();
    case 'none':
      return undefined;
  }
}

/**
 * Builds a TracerProvider exporting to the named exporters through BatchSpanProcessors (queue
 * sized so a burst of concurrent runs is not dropped). Registers an AsyncLocalStorage context
 * manager when none is registered, so spans the user's tools make nest under tracebound's; it
 * registers no global tracer provider.
 * @throws {TypeError} on an unknown exporter name.
 */
export function createTracerProvider(options: TracingSetupOptions = {}): BasicTracerProvider {
  const traceFile = options.traceFile ?? DEFAULT_TRACE_FILE;
  const processors: SpanProcessor[] = exporterNames(options.exporter)
    .map((name) => exporterFor(name, traceFile))
    .filter((e): e is SpanExporter => e !== undefined)
    .map((e) => new BatchSpanProcessor(e, { maxQueueSize: 16_384, maxExportBatchSize: 1_024, scheduledDelayMillis: 500 }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  return new BasicTracerProvider({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the default name.
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'tracebound' }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    spanProcessors: [...processors, ...(options.spanProcessors ?? [])],
  });
}
