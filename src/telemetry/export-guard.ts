/**
 * Export that never loses a span silently: each exporter's pipeline is bounded (a full queue drops
 * the newest span instead of growing or blocking the run), and every span that does not reach its
 * backend, dropped at the queue or in a failed export, is counted and reported as a warning line
 * on stderr. The OTLP exporters retry by themselves (429, 502, 503, 504, refused connections,
 * timeouts, within `OTEL_EXPORTER_OTLP_TIMEOUT`); a span counted here is one they gave up on.
 */
import { TraceFlags, type Context } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import { otelCore } from './sdk.js';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** The name of the dropped-span counter, in warnings and in {@link ExportStats}. */
export const EXPORT_DROPPED = 'tracebound.export.dropped';

/** Spans lost by one exporter, or by all of them. */
export interface ExportCounts {
  /** Spans that did not reach the backend (queue full, or export failed after the exporter's retries). */
  dropped: number;
  /** Export calls that failed (each loses its whole batch). */
  failedExports: number;
}

/** What {@link ExportGuard.stats} returns: the totals (`tracebound.export.dropped`) and each exporter's. */
export interface ExportStats extends ExportCounts {
  byExporter: Record<string, ExportCounts>;
}

/** Shortest time between two warning lines of one exporter; drops in between are summed. */
const WARN_INTERVAL_MS = 5_000;

/**
 * Counts what every exporter of one provider lost and reports it: the first loss of an exporter at
 * once, later ones summed at most every {@link WARN_INTERVAL_MS}, and whatever is still unreported
 * on flush and shutdown.
 */
export class ExportGuard {
  private readonly counts = new Map<string, ExportCounts>();
  private readonly unreported = new Map<string, { spans: number; reason: string }>();
  private readonly lastWarned = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  /** @param warn where warning lines go (one line each, no newline); `console.warn` by default. */
  constructor(private readonly warn: (line: string) => void = (line) => console.warn(line)) {}

  /** Counts `spans` lost by `exporter` and reports them (see the class comment). */
  drop(exporter: string, spans: number, reason: string, failedExport: boolean): void {
    const counts = this.countsOf(exporter);
    counts.dropped += spans;
    if (failedExport) counts.failedExports += 1;
    const pending = this.unreported.get(exporter);
    this.unreported.set(exporter, { spans: (pending?.spans ?? 0) + spans, reason });
    const since = Date.now() - (this.lastWarned.get(exporter) ?? -Infinity);
    if (since >= WARN_INTERVAL_MS) this.report(exporter);
    else this.timer ??= setTimeout(() => this.reportAll(), WARN_INTERVAL_MS - since).unref();
  }

  /** The counts so far. */
  stats(): ExportStats {
    const byExporter: Record<string, ExportCounts> = {};
    let dropped = 0;
    let failedExports = 0;
    for (const [name, counts] of this.counts) {
      byExporter[name] = { ...counts };
      dropped += counts.dropped;
      failedExports += counts.failedExports;
    }
    return { dropped, failedExports, byExporter };
  }

  /** Writes the warning lines of losses not reported yet. */
  reportAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const exporter of [...this.unreported.keys()]) this.report(exporter);
  }

  private report(exporter: string): void {
    const pending = this.unreported.get(exporter);
    if (!pending) return;
    this.unreported.delete(exporter);
    this.lastWarned.set(exporter, Date.now());
    const total = this.stats().dropped;
    this.warn(
      `tracebound: ${pending.spans} span${pending.spans === 1 ? '' : 's'} not exported to ${exporter} (${pending.reason}); ` +
        `${EXPORT_DROPPED}=${total}`,
    );
  }

  private countsOf(exporter: string): ExportCounts {
    let counts = this.counts.get(exporter);
    if (!counts) this.counts.set(exporter, (counts = { dropped: 0, failedExports: 0 }));
    return counts;
  }
}

/** Wraps an exporter: counts the spans handed to it and reports those of failed exports. */
export class CountingExporter implements SpanExporter {
  /** Spans handed to the wrapped exporter so far (the batch processor's queue has let them go). */
  handed = 0;

  constructor(
    private readonly name: string,
    private readonly inner: SpanExporter,
    private readonly guard: ExportGuard,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.handed += spans.length;
    const done = (result: ExportResult) => {
      if (result.code !== otelCore().ExportResultCode.SUCCESS) {
        this.guard.drop(this.name, spans.length, result.error?.message ?? 'export failed', true);
      }
      resultCallback(result);
    };
    try {
      this.inner.export(spans, done);
    } catch (error) {
      done({ code: otelCore().ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/**
 * Bounds a batching processor whose exporter is a {@link CountingExporter}: a span that ends
 * while `maxQueued` spans wait for export is dropped and counted here, so the inner processor's
 * own queue (which would drop with at most a debug log) never fills. Flush and shutdown also
 * write any unreported losses.
 */
export class GuardedSpanProcessor implements SpanProcessor {
  private accepted = 0;

  constructor(
    private readonly name: string,
    private readonly inner: SpanProcessor,
    private readonly exporter: CountingExporter,
    private readonly maxQueued: number,
    private readonly guard: ExportGuard,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    // Unsampled spans are never exported, so they take no room in the queue.
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.accepted - this.exporter.handed >= this.maxQueued) {
      this.guard.drop(this.name, 1, `export queue full: ${this.maxQueued} spans waiting`, false);
      return;
    }
    this.accepted += 1;
    this.inner.onEnd(span);
  }

  // A batch processor's flush rejects when an export fails; those spans are counted and reported
  // by the CountingExporter already, so the rejection must not make `shutdown()` throw in the
  // caller (a backend that is down may not crash the process that traces).
  async forceFlush(): Promise<void> {
    await this.inner.forceFlush().catch(() => {});
    this.guard.reportAll();
  }

  async shutdown(): Promise<void> {
    await this.inner.shutdown().catch(() => {});
    this.guard.reportAll();
  }
}
