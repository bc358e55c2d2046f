/**
 * OTLP metrics (`ExportMetricsServiceRequest`) decoded into plain data points, for the metrics
 * tests: the bodies the real receiver of otlp-receiver.ts got on `/v1/metrics`. OTLP/JSON is read
 * by the proto3 JSON names of opentelemetry-proto's `metrics/v1/metrics.proto`; protobuf is first
 * turned into that JSON from the wire format, with that file's field numbers, independently of the
 * exporter's encoder.
 */
import { fields, keyValues, type Field } from './otlp-receiver.js';

type Attributes = Record<string, string | number | boolean>;

/** One data point of a metric, with the metric it belongs to. */
export interface MetricPoint {
  name: string;
  unit: string;
  /** `histogram` or `sum`, the field the metric's data sits in. */
  type: 'histogram' | 'sum' | 'other';
  /** For a sum: whether it only grows (a counter). */
  monotonic?: boolean;
  attributes: Attributes;
  /** Histogram: number of values, their sum, bucket bounds and counts. */
  count?: number;
  sum?: number;
  explicitBounds?: number[];
  bucketCounts?: number[];
  /** Sum: the value. */
  value?: number;
  resource: Attributes;
}

interface JsonKeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
}

function attributesOf(list: JsonKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const { key, value } of list ?? []) {
    const plain = value.stringValue ?? value.boolValue ?? value.doubleValue ?? (value.intValue === undefined ? undefined : Number(value.intValue));
    if (plain !== undefined) out[key] = plain;
  }
  return out;
}

interface JsonPoint {
  attributes?: JsonKeyValue[];
  count?: string | number;
  sum?: number;
  explicitBounds?: number[];
  bucketCounts?: (string | number)[];
  asDouble?: number;
  asInt?: string | number;
}

interface JsonMetric {
  name: string;
  unit?: string;
  histogram?: { dataPoints: JsonPoint[] };
  sum?: { dataPoints: JsonPoint[]; isMonotonic?: boolean };
}

interface JsonRequest {
  resourceMetrics?: { resource?: { attributes?: JsonKeyValue[] }; scopeMetrics?: { metrics?: JsonMetric[] }[] }[];
}

/** The data points of `ExportMetricsServiceRequest` bodies (OTLP/JSON or protobuf, by content type), in order. */
export function decodeMetrics(posts: readonly { contentType: string; body: Buffer }[]): MetricPoint[] {
  return posts.flatMap((post) =>
    decodeRequest(post.contentType.includes('protobuf') ? protobufMetricsToJson(post.body) : (JSON.parse(post.body.toString('utf8')) as JsonRequest)),
  );
}

function decodeRequest(request: JsonRequest): MetricPoint[] {
  return (request.resourceMetrics ?? []).flatMap((rm) => {
    const resource = attributesOf(rm.resource?.attributes);
    return (rm.scopeMetrics ?? []).flatMap((sm) =>
      (sm.metrics ?? []).flatMap((metric): MetricPoint[] => {
        const base = { name: metric.name, unit: metric.unit ?? '', resource };
        if (metric.histogram) {
          return metric.histogram.dataPoints.map((p) => ({
            ...base,
            type: 'histogram',
            attributes: attributesOf(p.attributes),
            count: Number(p.count ?? 0),
            sum: p.sum ?? 0,
            explicitBounds: p.explicitBounds ?? [],
            bucketCounts: (p.bucketCounts ?? []).map(Number),
          }));
        }
        if (metric.sum) {
          const monotonic = metric.sum.isMonotonic ?? false;
          return metric.sum.dataPoints.map((p) => ({
            ...base,
            type: 'sum',
            monotonic,
            attributes: attributesOf(p.attributes),
            value: p.asDouble ?? Number(p.asInt ?? 0),
          }));
        }
        return [{ ...base, type: 'other', attributes: {} }];
      }),
    );
  });
}

// --- protobuf wire format (metrics.proto field numbers) -------------------------------------------

const text = (f: Field | undefined) => (f ? f.bytes!.toString('utf8') : undefined);
const double = (f: Field) => f.fixed!.readDoubleLE(0);

/** A repeated fixed64 or double field: packed (one length-delimited field) or one field per value. */
function repeated(all: Field[], number: number, read: (buf: Buffer, offset: number) => number): number[] {
  return all
    .filter((f) => f.number === number)
    .flatMap((f) => {
      const buf = f.bytes ?? f.fixed!;
      return Array.from({ length: buf.length / 8 }, (_, i) => read(buf, i * 8));
    });
}

/** HistogramDataPoint: attributes 9, count 4, sum 5, bucket_counts 6, explicit_bounds 7. */
function histogramPoint(buf: Buffer): JsonPoint {
  const fs = fields(buf);
  const sum = fs.find((f) => f.number === 5);
  return {
    attributes: keyValues(buf, 9) as JsonKeyValue[],
    count: Number(fs.find((f) => f.number === 4)?.fixed?.readBigUInt64LE(0) ?? 0n),
    ...(sum ? { sum: double(sum) } : {}),
    bucketCounts: repeated(fs, 6, (b, o) => Number(b.readBigUInt64LE(o))),
    explicitBounds: repeated(fs, 7, (b, o) => b.readDoubleLE(o)),
  };
}

/** NumberDataPoint: attributes 7, as_double 4, as_int 6. */
function numberPoint(buf: Buffer): JsonPoint {
  const fs = fields(buf);
  const asDouble = fs.find((f) => f.number === 4);
  const asInt = fs.find((f) => f.number === 6);
  return {
    attributes: keyValues(buf, 7) as JsonKeyValue[],
    ...(asDouble ? { asDouble: double(asDouble) } : {}),
    ...(asInt ? { asInt: asInt.fixed!.readBigInt64LE(0).toString() } : {}),
  };
}

/** Metric: name 1, unit 3, sum 7 (data_points 1, is_monotonic 3), histogram 9 (data_points 1). */
function metric(buf: Buffer): JsonMetric {
  const fs = fields(buf);
  const sum = fs.find((f) => f.number === 7);
  const histogram = fs.find((f) => f.number === 9);
  const points = (f: Field) => fields(f.bytes!).filter((p) => p.number === 1);
  return {
    name: text(fs.find((f) => f.number === 1)) ?? '',
    unit: text(fs.find((f) => f.number === 3)) ?? '',
    ...(histogram ? { histogram: { dataPoints: points(histogram).map((p) => histogramPoint(p.bytes!)) } } : {}),
    ...(sum
      ? {
          sum: {
            dataPoints: points(sum).map((p) => numberPoint(p.bytes!)),
            isMonotonic: fields(sum.bytes!).some((f) => f.number === 3 && f.varint === 1n),
          },
        }
      : {}),
  };
}

/** ExportMetricsServiceRequest: resource_metrics 1 (resource 1, scope_metrics 2 (metrics 2)). */
function protobufMetricsToJson(buf: Buffer): JsonRequest {
  return {
    resourceMetrics: fields(buf)
      .filter((f) => f.number === 1)
      .map((rm) => {
        const rmf = fields(rm.bytes!);
        const resource = rmf.find((f) => f.number === 1);
        return {
          resource: { attributes: resource ? (keyValues(resource.bytes!, 1) as JsonKeyValue[]) : [] },
          scopeMetrics: rmf
            .filter((f) => f.number === 2)
            .map((sm) => ({ metrics: fields(sm.bytes!).filter((f) => f.number === 2).map((m) => metric(m.bytes!)) })),
        };
      }),
  };
}
