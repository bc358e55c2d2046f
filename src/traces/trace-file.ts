/**
 * Reads trace files: OTLP/JSON lines, each line one `ExportTraceServiceRequest` as the
 * OpenTelemetry Collector's file exporter (or tracebound's own file exporter) writes it.
 *
 * The reader is strict about shape, so a foreign or damaged file fails with the line and the
 * JSON path of what is wrong, and lenient about encodings the OTLP/JSON spec allows: int64 as
 * string or number, enums as integers or names, omitted proto3 defaults.
 */
import { readFile } from 'node:fs/promises';
import type { AttributeValue, SpanRecord } from './span-record.js';

/**
 * A trace file that cannot be read or is not OTLP/JSON.
 *
 * `message` reads `<source>: line <line>: <field> <what is wrong>: <what to do>`.
 */
export class TraceFileError extends Error {
  override readonly name = 'TraceFileError';

  /**
   * @param source the file's path (or another name for the text), as given by the caller
   * @param line 1-based line the problem is on; 0 when it concerns the whole file (missing,
   *   unreadable)
   * @param field JSON path of the offending value inside the line's document, e.g.
   *   `resourceSpans[0].scopeSpans[0].spans[3].traceId`; `''` for the line or file as a whole
   * @param detail what is wrong and what to do about it
   */
  constructor(
    readonly source: string,
    readonly line: number,
    readonly field: string,
    detail: string,
  ) {
    super(line > 0 ? `${source}: line ${line}: ${detail}` : `${source}: ${detail}`);
  }
}

/** Where in the file a value is, for error messages. */
interface Place {
  source: string;
  line: number;
}

const NOT_OTLP = 'this is not an OTLP/JSON trace file (expected one ExportTraceServiceRequest per line)';
const FIX_WRITER =
  'the line is not a valid OTLP/JSON ExportTraceServiceRequest; re-record the trace or fix the program that wrote it';

/** @param field JSON path of the bad value; `''` for the line's whole document */
function fail(place: Place, field: string, problem: string, advice = FIX_WRITER): never {
  throw new TraceFileError(place.source, place.line, field, `${field || 'the line'} ${problem}: ${advice}`);
}

/** A short description of a JSON value, to say what was found instead of what was expected. */
export function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value} (${String(value)})`;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expectObject(value: unknown, place: Place, field: string): JsonObject {
  if (!isObject(value)) fail(place, field, `is ${describe(value)}, expected an object`);
  return value;
}

/** A repeated field; proto3 JSON may omit it or write null when empty. */
function expectList(value: unknown, place: Place, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(place, field, `is ${describe(value)}, expected an array`);
  return value;
}

function expectId(value: unknown, hexChars: number, place: Place, field: string): string {
  if (typeof value !== 'string' || value.length !== hexChars || !/^[0-9a-fA-F]+$/.test(value)) {
    fail(place, field, `is ${describe(value)}, expected ${hexChars} hex characters`);
  }
  return value.toLowerCase();
}

/** int64 nanoseconds: OTLP/JSON writes them as decimal strings, some writers as numbers. */
function expectNanos(value: unknown, place: Place, field: string): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return fail(place, field, `is ${describe(value)}, expected Unix epoch nanoseconds (a non-negative integer)`);
}

const KIND_NAMES = ['INTERNAL', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;

/**
 * Span kind as its name. UNSPECIFIED (0, or omitted as a proto3 default) reads as INTERNAL, as
 * the OpenTelemetry spec allows receivers to assume.
 */
function decodeKind(value: unknown, place: Place, field: string): string {
  if (value === undefined || value === null) return 'INTERNAL';
  if (typeof value === 'number' && KIND_NAMES[value] !== undefined) return KIND_NAMES[value];
  if (typeof value === 'string') {
    const name = value.replace(/^SPAN_KIND_/, '');
    if (name === 'UNSPECIFIED') return 'INTERNAL';
    if ((KIND_NAMES as readonly string[]).includes(name)) return name;
  }
  return fail(place, field, `is ${describe(value)}, expected 0-5 or a SPAN_KIND_* name`);
}

const STATUS_NAMES = ['UNSET', 'OK', 'ERROR'] as const;
type StatusCode = (typeof STATUS_NAMES)[number];

function decodeStatus(value: unknown, place: Place, field: string): SpanRecord['status'] {
  if (value === undefined || value === null) return { code: 'UNSET' };
  const status = expectObject(value, place, field);
  const raw = status.code;
  let code: StatusCode | undefined;
  if (raw === undefined || raw === null) code = 'UNSET';
  else if (typeof raw === 'number') code = STATUS_NAMES[raw];
  else if (typeof raw === 'string') code = STATUS_NAMES.find((name) => raw === name || raw === `STATUS_CODE_${name}`);
  if (code === undefined) fail(place, `${field}.code`, `is ${describe(raw)}, expected 0, 1, 2 or a STATUS_CODE_* name`);
  const message = status.message;
  if (message !== undefined && message !== null && typeof message !== 'string') {
    fail(place, `${field}.message`, `is ${describe(message)}, expected a string`);
  }
  return message ? { code, message } : { code };
}

/** An AnyValue as plain JSON data; `undefined` for an empty AnyValue (no value set). */
type Plain = string | number | boolean | null | Plain[] | { [key: string]: Plain };

const ANY_VALUE_KINDS = 'stringValue, intValue, doubleValue, boolValue, arrayValue, kvlistValue or bytesValue';

function decodeAnyValue(value: unknown, place: Place, field: string): Plain | undefined {
  const any = expectObject(value, place, field);
  if ('stringValue' in any) {
    if (typeof any.stringValue !== 'string') fail(place, `${field}.stringValue`, `is ${describe(any.stringValue)}, expected a string`);
    return any.stringValue;
  }
  if ('boolValue' in any) {
    if (typeof any.boolValue !== 'boolean') fail(place, `${field}.boolValue`, `is ${describe(any.boolValue)}, expected true or false`);
    return any.boolValue;
  }
  if ('intValue' in any) {
    const int = any.intValue;
    if (typeof int === 'number' && Number.isInteger(int)) return int;
    if (typeof int === 'string' && /^-?\d+$/.test(int)) return Number(int);
    return fail(place, `${field}.intValue`, `is ${describe(int)}, expected an integer or a decimal string`);
  }
  if ('doubleValue' in any) {
    const double = any.doubleValue;
    if (typeof double === 'number') return double;
    // Protobuf JSON spells non-finite doubles as strings ("NaN", "Infinity") and allows numbers in strings.
    if (typeof double === 'string' && (double === 'NaN' || (double.trim() !== '' && !Number.isNaN(Number(double))))) {
      return Number(double);
    }
    return fail(place, `${field}.doubleValue`, `is ${describe(double)}, expected a number`);
  }
  if ('bytesValue' in any) {
    if (typeof any.bytesValue !== 'string') fail(place, `${field}.bytesValue`, `is ${describe(any.bytesValue)}, expected a base64 string`);
    return any.bytesValue;
  }
  if ('arrayValue' in any) {
    const array = expectObject(any.arrayValue, place, `${field}.arrayValue`);
    return expectList(array.values, place, `${field}.arrayValue.values`).map(
      (item, i) => decodeAnyValue(item, place, `${field}.arrayValue.values[${i}]`) ?? null,
    );
  }
  if ('kvlistValue' in any) {
    const kvlist = expectObject(any.kvlistValue, place, `${field}.kvlistValue`);
    const entries = expectList(kvlist.values, place, `${field}.kvlistValue.values`);
    const object: { [key: string]: Plain } = {};
    entries.forEach((entry, i) => {
      const [key, item] = decodeKeyValue(entry, place, `${field}.kvlistValue.values[${i}]`);
      object[key] = item ?? null;
    });
    return object;
  }
  if (Object.keys(any).length === 0) return undefined;
  return fail(place, field, `has none of ${ANY_VALUE_KINDS}`);
}

function decodeKeyValue(value: unknown, place: Place, field: string): [string, Plain | undefined] {
  const pair = expectObject(value, place, field);
  if (typeof pair.key !== 'string') fail(place, `${field}.key`, `is ${describe(pair.key)}, expected a string`);
  // A KeyValue with no value is legal proto3 (an empty AnyValue).
  if (pair.value === undefined || pair.value === null) return [pair.key, undefined];
  return [pair.key, decodeAnyValue(pair.value, place, `${field}.value`)];
}

/**
 * Narrows decoded data to what an OpenTelemetry attribute can hold: homogeneous primitive arrays
 * stay arrays; maps and mixed or nested arrays become JSON text, so nothing recorded is lost.
 */
function toAttributeValue(value: Plain): AttributeValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) {
    if (value.every((item) => typeof item === 'string')) return value as string[];
    if (value.every((item) => typeof item === 'number')) return value as number[];
    if (value.every((item) => typeof item === 'boolean')) return value as boolean[];
  }
  return JSON.stringify(value);
}

/** Attributes in file order; a repeated key keeps its last value; empty values are left out. */
function decodeAttributes(value: unknown, place: Place, field: string): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  expectList(value, place, field).forEach((entry, i) => {
    const [key, item] = decodeKeyValue(entry, place, `${field}[${i}]`);
    if (item !== undefined && item !== null) attributes[key] = toAttributeValue(item);
  });
  return attributes;
}

function decodeEvent(value: unknown, place: Place, field: string): SpanRecord['events'][number] {
  const event = expectObject(value, place, field);
  if (typeof event.name !== 'string') fail(place, `${field}.name`, `is ${describe(event.name)}, expected a string`);
  return {
    name: event.name,
    timeUnixNano: expectNanos(event.timeUnixNano, place, `${field}.timeUnixNano`),
    attributes: decodeAttributes(event.attributes, place, `${field}.attributes`),
  };
}

function decodeSpan(
  value: unknown,
  resource: Record<string, AttributeValue>,
  place: Place,
  field: string,
): SpanRecord {
  const span = expectObject(value, place, field);
  const name = span.name ?? '';
  if (typeof name !== 'string') fail(place, `${field}.name`, `is ${describe(name)}, expected a string`);
  const record: SpanRecord = {
    traceId: expectId(span.traceId, 32, place, `${field}.traceId`),
    spanId: expectId(span.spanId, 16, place, `${field}.spanId`),
    name,
    kind: decodeKind(span.kind, place, `${field}.kind`),
    startTimeUnixNano: expectNanos(span.startTimeUnixNano, place, `${field}.startTimeUnixNano`),
    endTimeUnixNano: expectNanos(span.endTimeUnixNano, place, `${field}.endTimeUnixNano`),
    attributes: decodeAttributes(span.attributes, place, `${field}.attributes`),
    status: decodeStatus(span.status, place, `${field}.status`),
    events: expectList(span.events, place, `${field}.events`).map((event, i) =>
      decodeEvent(event, place, `${field}.events[${i}]`),
    ),
    resource,
  };
  // The Collector writes "" for a root span's parent; tracebound's serializer omits the field.
  if (span.parentSpanId !== undefined && span.parentSpanId !== null && span.parentSpanId !== '') {
    record.parentSpanId = expectId(span.parentSpanId, 16, place, `${field}.parentSpanId`);
  }
  return record;
}

/** The spans of one parsed `ExportTraceServiceRequest`, in file order. */
function decodeRequest(document: unknown, place: Place): SpanRecord[] {
  if (!isObject(document)) fail(place, '', `is ${describe(document)}`, NOT_OTLP);
  if (!('resourceSpans' in document)) fail(place, 'resourceSpans', 'is missing', NOT_OTLP);
  const spans: SpanRecord[] = [];
  expectList(document.resourceSpans, place, 'resourceSpans').forEach((item, r) => {
    const field = `resourceSpans[${r}]`;
    const resourceSpans = expectObject(item, place, field);
    const resourceField = `${field}.resource`;
    const resource =
      resourceSpans.resource === undefined || resourceSpans.resource === null
        ? {}
        : decodeAttributes(expectObject(resourceSpans.resource, place, resourceField).attributes, place, `${resourceField}.attributes`);
    expectList(resourceSpans.scopeSpans, place, `${field}.scopeSpans`).forEach((scopeItem, s) => {
      const scopeField = `${field}.scopeSpans[${s}]`;
      const scopeSpans = expectObject(scopeItem, place, scopeField);
      expectList(scopeSpans.spans, place, `${scopeField}.spans`).forEach((span, i) => {
        spans.push(decodeSpan(span, resource, place, `${scopeField}.spans[${i}]`));
      });
    });
  });
  return spans;
}

/**
 * The spans of one `ExportTraceServiceRequest` already parsed from JSON (an OTLP/HTTP JSON body,
 * or a protobuf body decoded to the same shape), in document order.
 *
 * @param document the request as plain data, with the OTLP/JSON encodings {@link parseTraceLines}
 *   accepts (hex ids, int64 as strings or numbers, enums as integers or names)
 * @param source a name for where it came from, used in error messages
 * @throws {TraceFileError} (line 1) naming the JSON path of the first invalid field
 */
export function decodeTraceRequest(document: unknown, source: string): SpanRecord[] {
  return decodeRequest(document, { source, line: 1 });
}

/** What {@link parseTraceLines} and {@link readTraceFile} take besides the text. */
export interface ReadOptions {
  /** Record each span's file and line in {@link SpanRecord.source}. */
  withSource?: boolean;
}

function located(spans: SpanRecord[], place: Place, options: ReadOptions): SpanRecord[] {
  if (options.withSource) for (const span of spans) span.source = { file: place.source, line: place.line };
  return spans;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Parses the text of a trace file into spans, in file order.
 *
 * Accepts OTLP/JSON lines (one `ExportTraceServiceRequest` per line; blank lines skipped) or a
 * single, possibly pretty-printed, `ExportTraceServiceRequest` spanning the whole text. Decodes
 * AnyValues (arrays stay arrays, maps and mixed arrays become JSON text, bytes stay base64), times
 * to bigint nanoseconds, span kinds to names, status codes to `UNSET` | `OK` | `ERROR`, and
 * copies each resource's attributes onto its spans. An empty text gives `[]`.
 *
 * @param text the file's content
 * @param source the file's path, used in error messages (and in each span's `source`)
 * @param options `withSource`: set each span's {@link SpanRecord.source} to the file and line it
 *   came from (replay names them in its errors); off by default, so spans read from different
 *   places compare equal
 * @throws {TraceFileError} on the first line that is not JSON or not a valid request, naming the
 *   line and the JSON path of the offending field
 */
export function parseTraceLines(text: string, source: string, options: ReadOptions = {}): SpanRecord[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const spans: SpanRecord[] = [];
  let first = true;
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const place = { source, line: index + 1 };
    const parsed = parseJson(line);
    if (!parsed.ok) {
      if (first) {
        // Not JSON on its own, but maybe the first line of one pretty-printed document.
        const whole = parseJson(lines.slice(index).join('\n'));
        if (whole.ok) return located(decodeRequest(whole.value, place), place, options);
      }
      throw new TraceFileError(
        source,
        place.line,
        '',
        `not JSON (${parsed.error}): the file may be truncated or hand-edited; re-record it or delete the line`,
      );
    }
    first = false;
    spans.push(...located(decodeRequest(parsed.value, place), place, options));
  }
  return spans;
}

/**
 * Reads and parses a trace file (see {@link parseTraceLines}).
 *
 * @param path the file's path
 * @param options as for {@link parseTraceLines}
 * @throws {TraceFileError} with `line` 0 when the file cannot be read (missing, a directory, no
 *   permission), or as {@link parseTraceLines} does when its content is malformed
 */
export async function readTraceFile(path: string, options: ReadOptions = {}): Promise<SpanRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail =
      code === 'ENOENT'
        ? 'no such file: check the path, or record a trace first with `tracebound run`'
        : code === 'EISDIR'
          ? 'is a directory: give the path of the trace file inside it (e.g. .tracebound/traces.jsonl)'
          : `cannot be read (${(error as Error).message}): check its permissions`;
    throw new TraceFileError(path, 0, '', detail);
  }
  return parseTraceLines(text, path, options);
}
