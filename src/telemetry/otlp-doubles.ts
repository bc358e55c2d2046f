/**
 * OTLP serializers that send double-typed attributes as doubles. OpenTelemetry's serializers
 * (`@opentelemetry/otlp-transformer` 0.223: `toAnyValue` for JSON, `writeAnyValue` for protobuf)
 * type a JS number by its value: a whole number becomes `intValue`, so a temperature of 1 or a cost
 * of 0 would reach a backend as an integer where the conventions type it double. These wrap the
 * SDK's serializers and retype the attributes of {@link DOUBLE_ATTRIBUTES} (and the USD amounts of
 * budget events, {@link DOUBLE_EVENT_ATTRIBUTES}) in what they produce; a batch without such a
 * whole number is passed through untouched.
 */
import type { Attributes } from '@opentelemetry/api';
import type * as ExporterBase from '@opentelemetry/otlp-exporter-base';
import type { OTLPExporterNodeConfigBase } from '@opentelemetry/otlp-exporter-base';
import type * as ExporterBaseHttp from '@opentelemetry/otlp-exporter-base/node-http';
import type * as Transformer from '@opentelemetry/otlp-transformer';
import type { IExportTraceServiceResponse, ISerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createRequire } from 'node:module';
import { DOUBLE_ATTRIBUTES, DOUBLE_EVENT_ATTRIBUTES } from '../tracing/attributes.js';

/** A trace serializer, as the OTLP exporters take it. */
export type TraceSerializer = ISerializer<ReadableSpan[], IExportTraceServiceResponse>;

/*
 * The OTLP packages (with @opentelemetry/sdk-metrics under them, ~200 modules) load when first
 * needed, not with tracebound: the serializers on the first batch they serialize, the exporter
 * when an `otlp` or `langfuse` exporter is made. They are CommonJS only, so requiring them keeps
 * both synchronous and yields the same modules an `import` of them does.
 */
const require = createRequire(import.meta.url);
const transformer = (): typeof Transformer => require('@opentelemetry/otlp-transformer') as typeof Transformer;

const NO_KEYS: ReadonlySet<string> = new Set();

/** The double-typed keys of an event's attributes. */
const eventDoubles = (name: string): ReadonlySet<string> => DOUBLE_EVENT_ATTRIBUTES.get(name) ?? NO_KEYS;

function hasWholeDouble(attributes: Attributes, keys: ReadonlySet<string>): boolean {
  for (const key of keys) if (Number.isInteger(attributes[key])) return true;
  return false;
}

/** Whether a span of the batch has a double attribute with a whole-number value (most have none). */
function needsRetyping(spans: readonly ReadableSpan[]): boolean {
  return spans.some((s) => hasWholeDouble(s.attributes, DOUBLE_ATTRIBUTES) || s.events.some((e) => e.attributes && hasWholeDouble(e.attributes, eventDoubles(e.name))));
}

// ---- OTLP/JSON ----

interface JsonKeyValue {
  key: string;
  value: { intValue?: number | string; doubleValue?: number };
}
interface JsonSpan {
  attributes?: JsonKeyValue[];
  events?: { name: string; attributes?: JsonKeyValue[] }[];
}
interface JsonRequest {
  resourceSpans?: { scopeSpans?: { spans?: JsonSpan[] }[] }[];
}

function retypeJson(attributes: JsonKeyValue[] | undefined, keys: ReadonlySet<string>): void {
  for (const kv of attributes ?? []) {
    if (keys.has(kv.key) && kv.value.intValue !== undefined) kv.value = { doubleValue: Number(kv.value.intValue) };
  }
}

/** OTLP/JSON (the SDK's JsonTraceSerializer), double-typed attributes as `doubleValue`. */
export const JsonDoubleTraceSerializer: TraceSerializer = {
  serializeRequest(spans) {
    const body = transformer().JsonTraceSerializer.serializeRequest(spans);
    if (!body || !needsRetyping(spans)) return body;
    const request = JSON.parse(new TextDecoder().decode(body)) as JsonRequest;
    for (const span of (request.resourceSpans ?? []).flatMap((r) => (r.scopeSpans ?? []).flatMap((s) => s.spans ?? []))) {
      retypeJson(span.attributes, DOUBLE_ATTRIBUTES);
      for (const event of span.events ?? []) retypeJson(event.attributes, eventDoubles(event.name));
    }
    return new TextEncoder().encode(JSON.stringify(request));
  },
  deserializeResponse: (data) => transformer().JsonTraceSerializer.deserializeResponse(data),
};

// ---- OTLP protobuf ----
// Field numbers of opentelemetry-proto: trace_service.proto ExportTraceServiceRequest
// (resource_spans 1), trace.proto ResourceSpans (scope_spans 2), ScopeSpans (spans 2), Span
// (attributes 9, events 11), Span.Event (name 2, attributes 3); common.proto KeyValue (key 1,
// value 2), AnyValue (int_value 3 varint, double_value 4 fixed64).

const LENGTH_DELIMITED = 2;

interface Field {
  number: number;
  wire: number;
  /** The whole field, tag included. */
  start: number;
  end: number;
  /** Where a length-delimited field's payload starts. */
  payload: number;
}

function readVarint(buf: Uint8Array, pos: number): { value: bigint; next: number } {
  let value = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error('truncated varint in an OTLP protobuf body');
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value, next: pos };
  }
}

function fieldsOf(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  for (let pos = 0; pos < buf.length; ) {
    const start = pos;
    const tag = readVarint(buf, pos);
    const number = Number(tag.value >> 3n);
    const wire = Number(tag.value & 7n);
    pos = tag.next;
    let payload = pos;
    if (wire === 0) pos = readVarint(buf, pos).next;
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === LENGTH_DELIMITED) {
      const length = readVarint(buf, pos);
      payload = length.next;
      pos = payload + Number(length.value);
    } else throw new Error(`unexpected protobuf wire type ${wire} in an OTLP body`);
    fields.push({ number, wire, start, end: pos, payload });
  }
  return fields;
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return bytes;
}

/**
 * Rewrites the length-delimited fields of a message that `rewrite` maps by field number, keeping
 * every other byte; returns `buf` itself when nothing changed.
 */
function rewriteMessage(buf: Uint8Array, rewrite: (field: Field, payload: Uint8Array) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let changed = false;
  for (const field of fieldsOf(buf)) {
    const whole = buf.subarray(field.start, field.end);
    if (field.wire !== LENGTH_DELIMITED) {
      parts.push(whole);
      continue;
    }
    const payload = buf.subarray(field.payload, field.end);
    const rewritten = rewrite(field, payload);
    if (rewritten === payload) {
      parts.push(whole);
      continue;
    }
    changed = true;
    parts.push(Uint8Array.from([...varint((field.number << 3) | LENGTH_DELIMITED), ...varint(rewritten.length)]), rewritten);
  }
  return changed ? Buffer.concat(parts) : buf;
}

/** A KeyValue whose key is in `keys` and whose value is an int_value, with the value as a double_value. */
function retypeKeyValue(keyValue: Uint8Array, keys: ReadonlySet<string>): Uint8Array {
  const key = fieldsOf(keyValue).find((f) => f.number === 1);
  if (!key || !keys.has(Buffer.from(keyValue.subarray(key.payload, key.end)).toString('utf8'))) return keyValue;
  return rewriteMessage(keyValue, (field, anyValue) => {
    if (field.number !== 2) return anyValue;
    const int = fieldsOf(anyValue).find((f) => f.number === 3 && f.wire === 0);
    if (!int) return anyValue;
    const double = Buffer.alloc(9);
    double[0] = (4 << 3) | 1;
    double.writeDoubleLE(Number(BigInt.asIntN(64, readVarint(anyValue, int.start + 1).value)), 1);
    return double;
  });
}

function retypeEvent(event: Uint8Array): Uint8Array {
  const name = fieldsOf(event).find((f) => f.number === 2);
  const keys = name ? eventDoubles(Buffer.from(event.subarray(name.payload, name.end)).toString('utf8')) : NO_KEYS;
  if (keys.size === 0) return event;
  return rewriteMessage(event, (field, payload) => (field.number === 3 ? retypeKeyValue(payload, keys) : payload));
}

function retypeSpan(span: Uint8Array): Uint8Array {
  return rewriteMessage(span, (field, payload) => {
    if (field.number === 9) return retypeKeyValue(payload, DOUBLE_ATTRIBUTES);
    if (field.number === 11) return retypeEvent(payload);
    return payload;
  });
}

/** Applies `inner` to the field `number` of a message, leaving the rest as it is. */
const within = (number: number, inner: (payload: Uint8Array) => Uint8Array) => (buf: Uint8Array) =>
  rewriteMessage(buf, (field, payload) => (field.number === number ? inner(payload) : payload));

const retypeRequest = within(1, within(2, within(2, retypeSpan)));

/** OTLP protobuf (the SDK's ProtobufTraceSerializer), double-typed attributes as `double_value`. */
export const ProtobufDoubleTraceSerializer: TraceSerializer = {
  serializeRequest(spans) {
    const body = transformer().ProtobufTraceSerializer.serializeRequest(spans);
    return body && needsRetyping(spans) ? retypeRequest(body) : body;
  },
  deserializeResponse: (data) => transformer().ProtobufTraceSerializer.deserializeResponse(data),
};

/**
 * The OTLP/HTTP trace exporter of `@opentelemetry/exporter-trace-otlp-http` (JSON) or `-proto`,
 * built as they build theirs (same configuration, `OTEL_EXPORTER_OTLP_*` variables, retries and
 * self-metrics), with a double-typing serializer. Loads the OTLP exporter packages.
 * @param config as for the SDK's `OTLPTraceExporter`; endpoint, headers, timeout and compression
 *   fall back to the `OTEL_EXPORTER_OTLP_*` variables, read now
 * @param encoding `json` (`application/json`) or `protobuf` (`application/x-protobuf`)
 */
export function otlpHttpTraceExporter(config: OTLPExporterNodeConfigBase, encoding: 'json' | 'protobuf'): SpanExporter {
  const { OTLPExporterBase } = require('@opentelemetry/otlp-exporter-base') as typeof ExporterBase;
  const { convertLegacyHttpOptions, createOtlpHttpExportDelegate } = require('@opentelemetry/otlp-exporter-base/node-http') as typeof ExporterBaseHttp;
  const contentType = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  return new OTLPExporterBase<ReadableSpan[]>(
    createOtlpHttpExportDelegate(
      // The SDK's own exporters configure themselves through this (deprecated for 2.0) adapter.
      convertLegacyHttpOptions(config, 'TRACES', 'v1/traces', { 'Content-Type': contentType }),
      encoding === 'json' ? JsonDoubleTraceSerializer : ProtobufDoubleTraceSerializer,
      'otlp_http_span_exporter',
      transformer().TraceExporterMetricsHelper,
      undefined,
    ),
  );
}
