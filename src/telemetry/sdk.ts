/**
 * The OpenTelemetry SDK packages tracebound builds its tracer provider and exporters from, loaded
 * when `tracedRuntime()` first builds a provider rather than with tracebound (~90 modules that a
 * process tracing into its own provider, or not at all, never needs). They are CommonJS only, so
 * requiring them keeps `tracedRuntime()` synchronous and yields the very modules an `import` of
 * them gives, e.g. the span processors a caller passes in.
 */
import type * as ContextAsyncHooks from '@opentelemetry/context-async-hooks';
import type * as Core from '@opentelemetry/core';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkMetrics from '@opentelemetry/sdk-metrics';
import type * as TraceBase from '@opentelemetry/sdk-trace-base';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `@opentelemetry/core` (ExportResultCode, ...). */
export const otelCore = (): typeof Core => require('@opentelemetry/core') as typeof Core;

/** `@opentelemetry/sdk-trace-base` (BasicTracerProvider, BatchSpanProcessor, ...). */
export const otelTraceBase = (): typeof TraceBase => require('@opentelemetry/sdk-trace-base') as typeof TraceBase;

/** `@opentelemetry/sdk-metrics` (MeterProvider, PeriodicExportingMetricReader, ...), for the `otlp` exporters' metrics. */
export const otelSdkMetrics = (): typeof SdkMetrics => require('@opentelemetry/sdk-metrics') as typeof SdkMetrics;

/** `@opentelemetry/resources`. */
export const otelResources = (): typeof Resources => require('@opentelemetry/resources') as typeof Resources;

/** `@opentelemetry/context-async-hooks`. */
export const otelContextAsyncHooks = (): typeof ContextAsyncHooks =>
  require('@opentelemetry/context-async-hooks') as typeof ContextAsyncHooks;
