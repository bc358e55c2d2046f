/**
 * Decodes an OTLP/HTTP protobuf trace body (`ExportTraceServiceRequest`) to the plain shape of its
 * OTLP/JSON form, so one reader ({@link decodeTraceRequest}) checks and converts both encodings.
 *
 * protobufjs does the wire decoding from a descriptor of the messages the viewer reads; it loads
 * on the first protobuf request, so `tracebound view` on a file never loads it.
 */
import type { Type } from 'protobufjs';

/**
 * The fields the viewer reads, by their numbers in opentelemetry-proto v1
 * (collector/trace/v1/trace_service.proto, trace/v1/trace.proto, resource/v1/resource.proto,
 * common/v1/common.proto). Fields left out (trace_state, flags, links, dropped counts, schema
 * URLs, scope) are skipped by the decoder as unknown fields, as protobuf allows.
 */
const DESCRIPTOR = {
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: {
      fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } },
    },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        events: { rule: 'repeated', type: 'Event', id: 11 },
        status: { type: 'Status', id: 15 },
      },
    },
    Event: {
      fields: {
        timeUnixNano: { type: 'fixed64', id: 1 },
        name: { type: 'string', id: 2 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 3 },
      },
    },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
        arrayValue: { type: 'ArrayValue', id: 5 },
        kvlistValue: { type: 'KeyValueList', id: 6 },
        bytesValue: { type: 'bytes', id: 7 },
      },
    },
    ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
    KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    // google.rpc.Status, the body of an OTLP/HTTP error answer to a protobuf request.
    RpcStatus: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
  },
};

interface Codec {
  request: Type;
  rpcStatus: Type;
}

let codec: Promise<Codec> | undefined;

function load(): Promise<Codec> {
  return (codec ??= import('protobufjs/light.js').then(({ default: protobuf }) => {
    const root = protobuf.Root.fromJSON(DESCRIPTOR);
    return { request: root.lookupType('ExportTraceServiceRequest'), rpcStatus: root.lookupType('RpcStatus') };
  }));
}

/** The hex spelling OTLP/JSON uses for trace and span ids (not proto3 JSON's base64). */
const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/**
 * Turns protobufjs's plain object into OTLP/JSON spellings: ids as hex, other bytes as base64,
 * int64 already as decimal strings (`longs: String`).
 */
function toOtlpJson(value: unknown, key = ''): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString(ID_FIELDS.has(key) ? 'hex' : 'base64');
  if (Array.isArray(value)) return value.map((item) => toOtlpJson(item));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [field, item] of Object.entries(value)) out[field] = toOtlpJson(item, field);
    return out;
  }
  return value;
}

/**
 * Decodes a protobuf `ExportTraceServiceRequest`.
 *
 * @returns the request in its OTLP/JSON shape, for {@link decodeTraceRequest}
 * @throws {Error} from protobufjs when the bytes are not a valid message (truncated, wrong wire
 *   types)
 */
export async function decodeOtlpProtobuf(body: Uint8Array): Promise<unknown> {
  const { request } = await load();
  const message = request.decode(body);
  return toOtlpJson(request.toObject(message, { longs: String, oneofs: false, defaults: false, arrays: false }));
}

/** A `google.rpc.Status` as protobuf bytes: what OTLP/HTTP answers a protobuf request that failed. */
export async function encodeRpcStatus(code: number, message: string): Promise<Uint8Array> {
  const { rpcStatus } = await load();
  return rpcStatus.encode(rpcStatus.create({ code, message })).finish();
}
