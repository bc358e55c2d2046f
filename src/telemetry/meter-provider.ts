/**
 * The metrics pipeline of the `otlp` exporters: a MeterProvider whose periodic reader pushes the
 * runtime's metrics over OTLP/HTTP to the endpoint the spans go to (`/v1/metrics`). Built only
 * with `otlp` or `otlp-proto`; the SDK packages load when it is first built.
 *
 * The exporter is assembled from the OTLP packages tracebound's span exporter already uses
 * (`@opentelemetry/otlp-exporter-base` and `otlp-transformer` 0.223.1), as
 * `@opentelemetry/exporter-metrics-otlp-http` assembles its own: that package has no 0.223.1
 * release, and its 0.223.0 would bring a second copy of the SDK packages (2.12.0) beside 2.12.1.
 */
import type * as ExporterBase from '@opentelemetry/otlp-exporter-base';
import type * as ExporterBaseHttp from '@opentelemetry/otlp-exporter-base/node-http';
import type * as Transformer from '@opentelemetry/otlp-transformer';
import type { MeterProvider, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { createRequire } from 'node:module';
import { otelSdkMetrics } from './sdk.js';
import { otlpProtocol, serviceResource, TracingConfigError, type ExporterName } from './setup.js';

const require = createRequire(import.meta.url);

/** Default push interval and export timeout, ms: the OpenTelemetry SDK environment spec's defaults. */
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * A duration in ms from the environment (`OTEL_METRIC_EXPORT_INTERVAL`, `OTEL_METRIC_EXPORT_TIMEOUT`).
 * @throws {TracingConfigError} when set to anything but a positive integer
 */
function envMs(env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const value = env[variable]?.trim();
  if (!value) return fallback;
  if (!/^\d+$/.test(value) || Number(value) === 0) {
    throw new TracingConfigError('otlp', [variable], `${variable}=${value} is not a duration: set it to a positive number of milliseconds`);
  }
  return Number(value);
}

/**
 * An OTLP/HTTP metric exporter (endpoint, headers, timeout from `OTEL_EXPORTER_OTLP_*` and
 * `OTEL_EXPORTER_OTLP_METRICS_*`), with the SDK's default cumulative temporality.
 */
function otlpHttpMetricExporter(encoding: 'json' | 'protobuf'): PushMetricExporter {
  const { OTLPExporterBase } = require('@opentelemetry/otlp-exporter-base') as typeof ExporterBase;
  const { convertLegacyHttpOptions, createOtlpHttpExportDelegate } = require('@opentelemetry/otlp-exporter-base/node-http') as typeof ExporterBaseHttp;
  const { JsonMetricsSerializer, MetricsExporterMetricsHelper, ProtobufMetricsSerializer } = require('@opentelemetry/otlp-transformer') as typeof Transformer;
  return new OTLPExporterBase<ResourceMetrics>(
    createOtlpHttpExportDelegate(
      convertLegacyHttpOptions({}, 'METRICS', 'v1/metrics', { 'Content-Type': encoding === 'json' ? 'application/json' : 'application/x-protobuf' }),
      encoding === 'json' ? JsonMetricsSerializer : ProtobufMetricsSerializer,
      'otlp_http_metric_exporter',
      MetricsExporterMetricsHelper,
      undefined,
    ),
  );
}

/**
 * The MeterProvider of tracebound's `otlp` / `otlp-proto` exporters, or `undefined` when neither
 * is among `names` (then metrics go only to a provider the caller sets). Metrics are pushed every
 * `OTEL_METRIC_EXPORT_INTERVAL` ms (default 60,000) and on `forceFlush` / `shutdown`, over the
 * protocol `otlp` uses for metrics (`OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`; `otlp-proto` always protobuf). Registers nothing global.
 *
 * @param serviceName `service.name` when the environment does not set one (as for spans)
 * @throws {TracingConfigError} on an unsupported protocol or a bad interval or timeout
 */
export function createMeterProvider(names: readonly ExporterName[], serviceName?: string): MeterProvider | undefined {
  const encoding = names.includes('otlp-proto') ? 'protobuf' : names.includes('otlp') ? (otlpProtocol(process.env, 'METRICS') === 'http/protobuf' ? 'protobuf' : 'json') : undefined;
  if (encoding === undefined) return undefined;
  const { MeterProvider, PeriodicExportingMetricReader } = otelSdkMetrics();
  const interval = envMs(process.env, 'OTEL_METRIC_EXPORT_INTERVAL', DEFAULT_INTERVAL_MS);
  const reader = new PeriodicExportingMetricReader({
    exporter: otlpHttpMetricExporter(encoding),
    exportIntervalMillis: interval,
    // The reader refuses a timeout longer than its interval.
    exportTimeoutMillis: Math.min(interval, envMs(process.env, 'OTEL_METRIC_EXPORT_TIMEOUT', DEFAULT_TIMEOUT_MS)),
  });
  return new MeterProvider({ resource: serviceResource(serviceName), readers: [reader] });
}
