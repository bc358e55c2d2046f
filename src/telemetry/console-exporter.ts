/**
 * The `console` exporter: one readable line per span, in the span tree's format, instead of the
 * SDK's `ConsoleSpanExporter` (a ~60-line object dump per span).
 */
import type { ExportResult } from '@opentelemetry/core';
import { otelCore } from './sdk.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { spanRecordOf } from '../traces/span-record.js';
import { renderSpanLine } from '../tracing/tree.js';

/**
 * Writes each exported span as `[<trace id, first 8 hex>] <span line>` (see `renderSpanLine`):
 * name, duration, tokens, cost, error, and its budget, retry and price events. Spans arrive as
 * they end, children before their parents, so the lines carry no tree; the trace id groups them.
 */
export class SpanLineExporter implements SpanExporter {
  /**
   * @param write where the lines go; stderr by default, so a command's own output on stdout (the
   *   CLI's tree and answer) stays clean
   */
  constructor(private readonly write: (text: string) => void = (text) => void process.stderr.write(text)) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const text = spans.map((span) => {
      const record = spanRecordOf(span);
      return `[${record.traceId.slice(0, 8)}] ${renderSpanLine(record, { color: false })}\n`;
    });
    this.write(text.join(''));
    resultCallback({ code: otelCore().ExportResultCode.SUCCESS });
  }

  async shutdown(): Promise<void> {}

  async forceFlush(): Promise<void> {}
}
