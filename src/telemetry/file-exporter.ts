import type { ExportResult } from '@opentelemetry/core';
import { otelCore } from './sdk.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { JsonDoubleTraceSerializer } from './otlp-doubles.js';

/**
 * Writes spans as OTLP/JSON lines: each export appends one `ExportTraceServiceRequest` line, the
 * format of the OpenTelemetry Collector's file exporter, so `tracebound show` and `replay` read
 * the files either writes. Double-typed attributes are written as `doubleValue` even when whole
 * (otlp-doubles.ts). Writes are serialised, and `forceFlush`/`shutdown` wait for them.
 */
export class OtlpJsonFileExporter implements SpanExporter {
  private pending: Promise<void> = Promise.resolve();
  private stopped = false;

  /** @param path the trace file; its directory is created on the first write. */
  constructor(readonly path: string) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.stopped) {
      resultCallback({ code: otelCore().ExportResultCode.FAILED, error: new Error('the trace file exporter is shut down') });
      return;
    }
    const body = JsonDoubleTraceSerializer.serializeRequest(spans);
    if (!body) {
      resultCallback({ code: otelCore().ExportResultCode.FAILED, error: new Error('spans could not be serialised as OTLP/JSON') });
      return;
    }
    const line = Buffer.concat([Buffer.from(body), Buffer.from('\n')]);
    this.pending = this.pending
      .then(() => mkdir(dirname(this.path), { recursive: true }))
      .then(() => appendFile(this.path, line))
      .then(
        () => resultCallback({ code: otelCore().ExportResultCode.SUCCESS }),
        (error: Error) => resultCallback({ code: otelCore().ExportResultCode.FAILED, error }),
      );
  }

  forceFlush(): Promise<void> {
    return this.pending;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.pending;
  }
}
