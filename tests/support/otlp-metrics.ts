/**
 * OTLP/JSON metrics (`ExportMetricsServiceRequest`, the field names of opentelemetry-proto's
 * `metrics/v1/metrics.proto` in their proto3 JSON spelling) decoded into plain data points, for the
 * metrics tests: the bodies the real receiver of otlp-receiver.ts got on `/v1/metrics`.
 */

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

/** The data points of OTLP/JSON `ExportMetricsServiceRequest` bodies, in order. */
export function decodeJsonMetrics(posts: readonly { contentType: string; body: Buffer }[]): MetricPoint[] {
  return posts.filter((post) => post.contentType.includes('json')).flatMap((post) => decodeRequest(post.body.toString('utf8')));
}

function decodeRequest(text: string): MetricPoint[] {
  const request = JSON.parse(text) as JsonRequest;
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
