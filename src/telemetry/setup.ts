/**
 * OpenTelemetry SDK setup: the one module that builds a TracerProvider, its span processors and
 * exporters. The runtime itself only uses `@opentelemetry/api`.
 */
import { context } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { BasicTracerProvider, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SpanLineExporter } from './console-exporter.js';
import { CountingExporter, ExportGuard, GuardedSpanProcessor } from './export-guard.js';
import { OtlpJsonFileExporter } from './file-exporter.js';
import { LANGFUSE_QUEUE_SIZE, langfuseExporter, langfuseProcessor, readLangfuseSettings, type LangfuseSettings } from './langfuse.js';
import { registerEnvironmentSecrets } from '../secrets.js';
import { RESOURCE_ATTR } from '../tracing/attributes.js';
import { otlpHttpTraceExporter } from './otlp-doubles.js';
import { otelContextAsyncHooks, otelResources, otelTraceBase } from './sdk.js';
import { SecretMaskingProcessor } from './secret-masking.js';

/**
 * Where spans go. `file` is the embedded default; `otlp` is OTLP/HTTP with the protocol of
 * `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`/`OTEL_EXPORTER_OTLP_PROTOCOL` (`http/json` when unset),
 * `otlp-proto` is OTLP/HTTP protobuf whatever they say; `langfuse` is Langfuse's OTLP endpoint;
 * `console` prints one line per span on stderr; `none` exports nothing.
 */
export type ExporterName = 'file' | 'otlp' | 'otlp-proto' | 'langfuse' | 'console' | 'none';

const EXPORTER_NAMES: readonly ExporterName[] = ['file', 'otlp', 'otlp-proto', 'langfuse', 'console', 'none'];

/** Exporters that keep spans on this machine; with only these, content capture is on by default. */
const LOCAL_EXPORTERS: readonly ExporterName[] = ['file', 'console', 'none'];

/** The default trace file, relative to the working directory. */
export const DEFAULT_TRACE_FILE = '.tracebound/traces.jsonl';

/**
 * Queue bound of tracebound's own batch processors, in spans: a burst of 100 concurrent runs of
 * 10 steps with 3 tool calls each (5,000 spans) fits three times over, while a backend that is
 * down holds at most this many spans (a few MB) in memory.
 */
export const EXPORT_QUEUE_SIZE = 16_384;

/**
 * An exporter's settings in the environment are missing or wrong. Thrown when the runtime is
 * made (`tracedRuntime()`), not at the first export, so a misconfigured process fails at start.
 */
export class TracingConfigError extends Error {
  override readonly name = 'TracingConfigError';

  /**
   * @param exporter the exporter that cannot be built
   * @param variables the environment variables to set or fix
   */
  constructor(
    readonly exporter: ExporterName,
    readonly variables: readonly string[],
    message: string,
  ) {
    super(message);
  }
}

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
  /** Counts and reports the spans each exporter loses. Default: a new one warning on stderr. */
  guard?: ExportGuard;
}

/** Exporter names as a list, validated. */
export function exporterNames(exporter: TracingSetupOptions['exporter']): ExporterName[] {
  const names = exporter === undefined ? ['file'] : typeof exporter === 'string' ? [exporter] : [...exporter];
  for (const name of names) {
    if (!(EXPORTER_NAMES as readonly string[]).includes(name)) {
      throw new TypeError(`unknown exporter "${name}": use one of ${EXPORTER_NAMES.join(', ')}`);
    }
  }
  return names as ExporterName[];
}

/** Whether every exporter keeps spans on this machine (content capture is then on by default). */
export function exportsLocallyOnly(names: readonly ExporterName[]): boolean {
  return names.every((n) => LOCAL_EXPORTERS.includes(n));
}

/**
 * The OTLP/HTTP encoding `otlp` uses for a signal: the spec's `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`
 * (`..._METRICS_PROTOCOL` for metrics), else `OTEL_EXPORTER_OTLP_PROTOCOL`; `http/json` when
 * neither is set (tracebound's default, readable in any HTTP log; the spec's default,
 * `http/protobuf`, is one variable away).
 * @throws {TracingConfigError} on `grpc` or an unknown value
 */
export function otlpProtocol(env: NodeJS.ProcessEnv, signal: 'TRACES' | 'METRICS' = 'TRACES'): 'http/json' | 'http/protobuf' {
  const specific = `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`;
  const variable = env[specific] ? specific : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const value = env[variable]?.trim();
  if (!value || value === 'http/json') return 'http/json';
  if (value === 'http/protobuf') return 'http/protobuf';
  throw new TracingConfigError(
    'otlp',
    [variable],
    `${variable}=${value} is not supported: use http/protobuf or http/json (OTLP/HTTP, port 4318 of a Collector)`,
  );
}

/** Langfuse's settings from the environment, or a {@link TracingConfigError} naming what is missing. */
function langfuseSettings(): LangfuseSettings {
  const read = readLangfuseSettings(process.env);
  if ('settings' in read) return read.settings;
  throw new TracingConfigError(
    'langfuse',
    read.missing,
    `the langfuse exporter needs ${read.missing.join(' and ')}: set them to the project's API keys ` +
      '(Langfuse > Settings > API Keys), and LANGFUSE_BASE_URL for a self-hosted Langfuse',
  );
}

/**
 * The resource of tracebound's providers (spans and metrics): `service.name` is `serviceName`
 * (default `tracebound`) unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` set one, which win.
 */
export function serviceResource(serviceName = 'tracebound'): Resource {
  const { detectResources, envDetector, resourceFromAttributes } = otelResources();
  return resourceFromAttributes({ [RESOURCE_ATTR.SERVICE_NAME]: serviceName }).merge(detectResources({ detectors: [envDetector] }));
}

/** A batch processor over `exporter`, bounded and counted by `guard`. */
function guardedBatch(name: ExporterName, exporter: SpanExporter, guard: ExportGuard): SpanProcessor {
  const counting = new CountingExporter(name, exporter, guard);
  const batch = new (otelTraceBase().BatchSpanProcessor)(counting, { maxQueueSize: EXPORT_QUEUE_SIZE, maxExportBatchSize: 1_024, scheduledDelayMillis: 500 });
  return new GuardedSpanProcessor(name, batch, counting, EXPORT_QUEUE_SIZE, guard);
}

function processorFor(name: ExporterName, traceFile: string, guard: ExportGuard): SpanProcessor | undefined {
  switch (name) {
    case 'file':
      return guardedBatch(name, new OtlpJsonFileExporter(traceFile), guard);
    case 'otlp':
      // Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
      return guardedBatch(name, otlpHttpTraceExporter({}, otlpProtocol(process.env) === 'http/protobuf' ? 'protobuf' : 'json'), guard);
    case 'otlp-proto':
      return guardedBatch(name, otlpHttpTraceExporter({}, 'protobuf'), guard);
    case 'langfuse': {
      const settings = langfuseSettings();
      const counting = new CountingExporter(name, langfuseExporter(settings), guard);
      return new GuardedSpanProcessor(name, langfuseProcessor(settings, counting), counting, LANGFUSE_QUEUE_SIZE, guard);
    }
    case 'console':
      return guardedBatch(name, new SpanLineExporter(), guard);
    case 'none':
      return undefined;
  }
}

/**
 * Builds a TracerProvider exporting to the named exporters through batch processors, each
 * bounded ({@link EXPORT_QUEUE_SIZE}) so a backend that is down or slow never blocks a run or
 * grows memory, and counted, so each span it loses is reported (export-guard.ts). Registers an
 * AsyncLocalStorage context manager when none is registered, so spans the user's tools make nest
 * under tracebound's; it registers no global tracer provider. Known API keys are masked in every
 * span before any exporter sees it (secret-masking.ts).
 * @throws {TypeError} on an unknown exporter name.
 * @throws {TracingConfigError} when an exporter's environment is incomplete (Langfuse keys) or
 *   unsupported (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`).
 */
export function createTracerProvider(options: TracingSetupOptions = {}): BasicTracerProvider {
  const traceFile = options.traceFile ?? DEFAULT_TRACE_FILE;
  const guard = options.guard ?? new ExportGuard();
  // Exporters read their headers (and keys) now: those values stay masked whatever the env becomes.
  registerEnvironmentSecrets();
  const processors: SpanProcessor[] = exporterNames(options.exporter)
    .map((name) => processorFor(name, traceFile, guard))
    .filter((p): p is SpanProcessor => p !== undefined);
  context.setGlobalContextManager(new (otelContextAsyncHooks().AsyncLocalStorageContextManager)().enable());
  return new (otelTraceBase().BasicTracerProvider)({
    resource: serviceResource(options.serviceName),
    // Masking first: every exporter and added processor then sees spans without known secrets.
    spanProcessors: [new SecretMaskingProcessor(), ...processors, ...(options.spanProcessors ?? [])],
  });
}
