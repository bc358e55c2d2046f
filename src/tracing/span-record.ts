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
}
