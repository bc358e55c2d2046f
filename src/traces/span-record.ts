/** An attribute value as OpenTelemetry allows it. */
export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

/**
 * One finished span as plain data: what the trace file reader returns and what the CLI's tree
 * printer takes, whether the span came from this process or from a file.
 */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** Absent for a root span. */
  parentSpanId?: string;
  name: string;
  /** OpenTelemetry span kind name: `INTERNAL`, `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`. */
  kind: string;
  /** Start and end as Unix epoch nanoseconds (bigint keeps full precision). */
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Record<string, AttributeValue>;
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
  events: { name: string; timeUnixNano: bigint; attributes: Record<string, AttributeValue> }[];
  /** Resource attributes of the process that recorded the span (`service.name`, ...). */
  resource: Record<string, AttributeValue>;
  /**
   * Where the span was read from (1-based line of its `ExportTraceServiceRequest`), when the
   * reader was asked for it, so replay errors can name the line.
   */
  source?: { file: string; line: number };
}

const KIND_NAMES = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
const STATUS_NAMES = ['UNSET', 'OK', 'ERROR'] as const;

function nanos([seconds, nanoseconds]: readonly [number, number]): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);
}

function plain(attributes: Readonly<Record<string, unknown>>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value as AttributeValue;
  return out;
}

/**
 * A span ended in this process (the SDK's `ReadableSpan`, structurally) as a {@link SpanRecord},
 * so the CLI prints live spans and spans read from a file with the same code.
 */
export function spanRecordOf(span: {
  name: string;
  kind: number;
  spanContext(): { traceId: string; spanId: string };
  parentSpanContext?: { spanId: string };
  startTime: readonly [number, number];
  endTime: readonly [number, number];
  attributes: Readonly<Record<string, unknown>>;
  status: { code: number; message?: string };
  events: readonly { name: string; time: readonly [number, number]; attributes?: Readonly<Record<string, unknown>> }[];
  resource: { attributes: Readonly<Record<string, unknown>> };
}): SpanRecord {
  const { traceId, spanId } = span.spanContext();
  return {
    traceId,
    spanId,
    ...(span.parentSpanContext ? { parentSpanId: span.parentSpanContext.spanId } : {}),
    name: span.name,
    kind: KIND_NAMES[span.kind] ?? 'INTERNAL',
    startTimeUnixNano: nanos(span.startTime),
    endTimeUnixNano: nanos(span.endTime),
    attributes: plain(span.attributes),
    status: { code: STATUS_NAMES[span.status.code] ?? 'UNSET', ...(span.status.message ? { message: span.status.message } : {}) },
    events: span.events.map((e) => ({ name: e.name, timeUnixNano: nanos(e.time), attributes: plain(e.attributes ?? {}) })),
    resource: plain(span.resource.attributes),
  };
}

/** A span's attribute `key` when it is a string; undefined when absent or of another type. */
export function stringAttribute(span: SpanRecord, key: string): string | undefined {
  const value = span.attributes[key];
  return typeof value === 'string' ? value : undefined;
}

/** A span's attribute `key` when it is a number; undefined when absent or of another type. */
export function numberAttribute(span: SpanRecord, key: string): number | undefined {
  const value = span.attributes[key];
  return typeof value === 'number' ? value : undefined;
}
