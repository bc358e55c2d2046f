/**
 * A real OTLP/HTTP traces receiver on 127.0.0.1 (node:http) for export tests. It decodes what the
 * real exporters send, OTLP/JSON (`application/json`) and OTLP protobuf (`application/x-protobuf`,
 * decoded here from the wire format with the field numbers of opentelemetry-proto's
 * `trace/v1/trace.proto` and `common/v1/common.proto`, independently of the exporter's encoder),
 * into the trace file reader's SpanRecords, and records each request's path, headers and raw
 * bytes. Faults are scripted per request: a status (500, 429, ...), a delay, or no answer at all.
 * Metrics (POSTs to `/v1/metrics`, which the `otlp` exporters send beside spans) are kept apart,
 * always accepted, and neither take a scripted reply nor count as requests (otlp-metrics.ts decodes them).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { SpanRecord } from '../../src/traces/span-record.js';
import { parseTraceLines } from '../../src/traces/trace-file.js';
import { tracedRuntime, type TracedRuntime, type TracedRuntimeOptions } from '../../src/telemetry/traced-runtime.js';

/** One request the receiver got. */
export interface ReceivedExport {
  path: string;
  headers: IncomingHttpHeaders;
  /** The body as sent (after gzip is undone). */
  body: Buffer;
  /** The status the receiver answered with. */
  status: number;
  /** The decoded spans (empty for a request answered with an error status). */
  spans: SpanRecord[];
}

/** How the receiver answers one request. */
export interface Reply {
  status?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (the exporter's timeout must end the request). */
  hang?: boolean;
  headers?: Record<string, string>;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`, for `OTEL_EXPORTER_OTLP_ENDPOINT` or `LANGFUSE_BASE_URL`. */
  url: string;
  requests: ReceivedExport[];
  /** Spans of every request answered with 2xx. */
  spans(): SpanRecord[];
  /** The `/v1/metrics` POSTs, in order (decode them with `decodeMetrics`). */
  metricPosts: { contentType: string; body: Buffer }[];
  /** Replies for the next requests, in order; once used up, requests get `fallback`. */
  script(...replies: Reply[]): void;
  /** The reply for requests with no scripted reply left. Default `{ status: 200 }`. */
  fallback: Reply;
  /** Resolves once `n` spans have been accepted (or rejects after `timeoutMs`). */
  waitForSpans(n: number, timeoutMs?: number): Promise<SpanRecord[]>;
  close(): Promise<void>;
}

/**
 * Starts a receiver on a free port of 127.0.0.1.
 * @param check runs on each request before it is answered, e.g. an auth check; a string it
 *   returns is answered with 401 and that text
 */
export async function startOtlpReceiver(check?: (path: string, headers: IncomingHttpHeaders) => string | undefined): Promise<OtlpReceiver> {
  const requests: ReceivedExport[] = [];
  const metricPosts: OtlpReceiver['metricPosts'] = [];
  const scripted: Reply[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const accepted = () => requests.filter((r) => r.status < 300).flatMap((r) => r.spans);

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const path = req.url ?? '';
      if (path.endsWith('/v1/metrics')) {
        const contentType = String(req.headers['content-type'] ?? '');
        metricPosts.push({ contentType, body });
        // An empty ExportMetricsServiceResponse.
        res.writeHead(200, { 'content-type': contentType }).end(contentType.includes('protobuf') ? '' : '{}');
        return;
      }
      const reply = scripted.shift() ?? receiver.fallback;
      const denied = check?.(path, req.headers);
      const status = denied ? 401 : (reply.status ?? 200);
      const type = String(req.headers['content-type'] ?? '');
      const spans = status < 300 ? decodeSpans(body, type) : [];
      const record: ReceivedExport = { path, headers: req.headers, body, status, spans };
      const answer = () => {
        requests.push(record);
        res.writeHead(status, { 'content-type': type.includes('protobuf') ? 'application/x-protobuf' : 'application/json', ...reply.headers });
        // An empty ExportTraceServiceResponse: `{}` in JSON, no bytes in protobuf.
        res.end(denied ?? (type.includes('protobuf') ? '' : '{}'));
        const total = accepted().length;
        for (const w of waiters.splice(0)) if (total >= w.n) w.resolve();
        else waiters.push(w);
      };
      if (reply.hang) {
        // Recorded now, since it is never answered; its spans do not count as accepted.
        requests.push({ ...record, status: 0, spans: [] });
        return;
      }
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const receiver: OtlpReceiver = {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans: accepted,
    metricPosts,
    script: (...replies) => void scripted.push(...replies),
    fallback: { status: 200 },
    waitForSpans(n, timeoutMs = 15_000) {
      if (accepted().length >= n) return Promise.resolve(accepted());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver got ${accepted().length} of ${n} spans in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve(accepted());
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

/** Decodes an ExportTraceServiceRequest body by its content type. */
export function decodeSpans(body: Buffer, contentType: string): SpanRecord[] {
  if (contentType.includes('application/x-protobuf')) return parseTraceLines(JSON.stringify(protobufRequestToJson(body)), 'protobuf');
  if (contentType.includes('application/json')) return parseTraceLines(body.toString('utf8'), 'json');
  throw new Error(`unexpected content-type ${contentType}`);
}

// --- protobuf wire format -----------------------------------------------------------------------

export type Field = { number: number; wire: number; varint?: bigint; bytes?: Buffer; fixed?: Buffer };

/** Splits one message into its fields (wire types 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
export function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const tag = Number(varint());
    const field: Field = { number: tag >>> 3, wire: tag & 7 };
    switch (field.wire) {
      case 0:
        field.varint = varint();
        break;
      case 1:
        field.fixed = buf.subarray(pos, (pos += 8));
        break;
      case 2: {
        const len = Number(varint());
        field.bytes = buf.subarray(pos, (pos += len));
        break;
      }
      case 5:
        field.fixed = buf.subarray(pos, (pos += 4));
        break;
      default:
        throw new Error(`unsupported wire type ${field.wire}`);
    }
    out.push(field);
  }
  return out;
}

const str = (f: Field) => f.bytes!.toString('utf8');
const hex = (f: Field) => f.bytes!.toString('hex');

/** common.proto AnyValue -> OTLP/JSON AnyValue. */
function anyValue(buf: Buffer): unknown {
  for (const f of fields(buf)) {
    switch (f.number) {
      case 1:
        return { stringValue: str(f) };
      case 2:
        return { boolValue: f.varint !== 0n };
      case 3:
        return { intValue: BigInt.asIntN(64, f.varint!).toString() };
      case 4:
        return { doubleValue: f.fixed!.readDoubleLE(0) };
      case 5:
        return { arrayValue: { values: fields(f.bytes!).filter((v) => v.number === 1).map((v) => anyValue(v.bytes!)) } };
      case 6:
        return { kvlistValue: { values: keyValues(f.bytes!, 1) } };
      case 7:
        return { bytesValue: f.bytes!.toString('base64') };
    }
  }
  return {};
}

/** Repeated KeyValue (key 1, value 2) at field `number` of a message. */
export function keyValues(buf: Buffer, number: number): { key: string; value: unknown }[] {
  return fields(buf)
    .filter((f) => f.number === number)
    .map((f) => {
      const kv = fields(f.bytes!);
      const key = kv.find((k) => k.number === 1);
      const value = kv.find((k) => k.number === 2);
      return { key: key ? str(key) : '', value: value ? anyValue(value.bytes!) : {} };
    });
}

const nanos = (f: Field | undefined) => (f ? f.fixed!.readBigUInt64LE(0).toString() : '0');

/** trace.proto Span -> OTLP/JSON span. */
function span(buf: Buffer): Record<string, unknown> {
  const fs = fields(buf);
  const one = (n: number) => fs.find((f) => f.number === n);
  const status = one(15) ? fields(one(15)!.bytes!) : [];
  const parent = one(4);
  return {
    traceId: hex(one(1)!),
    spanId: hex(one(2)!),
    ...(parent && parent.bytes!.length ? { parentSpanId: hex(parent) } : {}),
    name: one(5) ? str(one(5)!) : '',
    kind: Number(one(6)?.varint ?? 0n),
    startTimeUnixNano: nanos(one(7)),
    endTimeUnixNano: nanos(one(8)),
    attributes: keyValues(buf, 9),
    events: fs
      .filter((f) => f.number === 11)
      .map((e) => {
        const ef = fields(e.bytes!);
        const name = ef.find((f) => f.number === 2);
        return { timeUnixNano: nanos(ef.find((f) => f.number === 1)), name: name ? str(name) : '', attributes: keyValues(e.bytes!, 3) };
      }),
    status: {
      code: Number(status.find((f) => f.number === 3)?.varint ?? 0n),
      ...(status.some((f) => f.number === 2) ? { message: str(status.find((f) => f.number === 2)!) } : {}),
    },
  };
}

/** trace_service.proto ExportTraceServiceRequest (binary) -> its OTLP/JSON form. */
export function protobufRequestToJson(buf: Buffer): { resourceSpans: unknown[] } {
  return {
    resourceSpans: fields(buf)
      .filter((f) => f.number === 1)
      .map((rs) => {
        const rsf = fields(rs.bytes!);
        const resource = rsf.find((f) => f.number === 1);
        return {
          resource: { attributes: resource ? keyValues(resource.bytes!, 1) : [] },
          scopeSpans: rsf
            .filter((f) => f.number === 2)
            .map((ss) => {
              const ssf = fields(ss.bytes!);
              const scope = ssf.find((f) => f.number === 1);
              const scopeFields = scope ? fields(scope.bytes!) : [];
              const scopeName = scopeFields.find((f) => f.number === 1);
              return {
                scope: { name: scopeName ? str(scopeName) : '' },
                spans: ssf.filter((f) => f.number === 2).map((s) => span(s.bytes!)),
              };
            }),
        };
      }),
  };
}

/**
 * Sets environment variables (`undefined` deletes one) and returns a function that puts back what
 * was there. The OTLP and Langfuse exporters read the environment when they are constructed, so
 * a test sets it around `tracedRuntime()` only; tests of one file run one after another.
 */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  apply(vars);
  return () => apply(before);
}

/** Every exporter variable the export tests touch: unset unless a test sets it. */
const EXPORTER_ENV = {
  LANGFUSE_PUBLIC_KEY: undefined,
  LANGFUSE_SECRET_KEY: undefined,
  LANGFUSE_BASE_URL: undefined,
  LANGFUSE_BASEURL: undefined,
  LANGFUSE_HOST: undefined,
  LANGFUSE_TIMEOUT: undefined,
  OTEL_EXPORTER_OTLP_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_HEADERS: undefined,
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: undefined,
  OTEL_EXPORTER_OTLP_PROTOCOL: undefined,
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: undefined,
  OTEL_EXPORTER_OTLP_TIMEOUT: undefined,
  OTEL_EXPORTER_OTLP_COMPRESSION: undefined,
  OTEL_SERVICE_NAME: undefined,
  OTEL_RESOURCE_ATTRIBUTES: undefined,
};

/** A runtime built with only `env` among the exporter variables (read at construction), then the env restored. */
export function runtimeWith(env: Record<string, string | undefined>, options: TracedRuntimeOptions): TracedRuntime {
  const restore = setEnv({ ...EXPORTER_ENV, ...env });
  try {
    return tracedRuntime(options);
  } finally {
    restore();
  }
}

