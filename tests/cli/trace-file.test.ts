import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { ATTR, EVENT, OPERATION } from '../../src/tracing/attributes.js';
import { spanRecordOf } from '../../src/traces/span-record.js';
import { parseTraceLines, readTraceFile, TraceFileError } from '../../src/traces/trace-file.js';
import { at, hrToNanos, recordWeatherRun, tempDir, writeTemp } from './fixture.js';

const KIND_NAME: Record<SpanKind, string> = {
  [SpanKind.INTERNAL]: 'INTERNAL',
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
};
const STATUS_NAME = { [SpanStatusCode.UNSET]: 'UNSET', [SpanStatusCode.OK]: 'OK', [SpanStatusCode.ERROR]: 'ERROR' } as const;

/** The error `fn` throws, asserted to be a TraceFileError. */
function traceFileError(fn: () => unknown): TraceFileError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TraceFileError);
    return error as TraceFileError;
  }
  throw new Error('expected a TraceFileError');
}

const TRACE_A = '5b8efff798038103d269b633813fc60c';
const TRACE_B = '0af7651916cd43dd8448eb211c80319c';

/** A line as the Collector's file exporter writes it: strings for int64, "" for no parent, names for enums. */
const collectorLine = JSON.stringify({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
      scopeSpans: [
        {
          scope: { name: 'tracebound', version: '0.1.0' },
          spans: [
            {
              traceId: TRACE_A.toUpperCase(),
              spanId: 'eee19b7ec3c1b174',
              parentSpanId: '',
              name: 'invoke_agent checkout',
              kind: 'SPAN_KIND_INTERNAL',
              startTimeUnixNano: '1544712660000000000',
              endTimeUnixNano: '1544712661000000000',
              attributes: [
                { key: ATTR.operationName, value: { stringValue: OPERATION.invokeAgent } },
                { key: ATTR.usageInputTokens, value: { intValue: '12' } },
                { key: ATTR.costAmount, value: { doubleValue: 0.5 } },
                { key: 'flags', value: { arrayValue: { values: [{ boolValue: true }, { boolValue: false }] } } },
                { key: 'mixed', value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: 1 }] } } },
                {
                  key: 'map',
                  value: { kvlistValue: { values: [{ key: 'k', value: { stringValue: 'v' } }, { key: 'n', value: { intValue: 2 } }] } },
                },
                { key: 'bytes', value: { bytesValue: 'aGk=' } },
                { key: 'empty', value: {} },
                { key: 'nan', value: { doubleValue: 'NaN' } },
              ],
              status: {},
            },
          ],
        },
      ],
    },
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'gateway' } }] },
      scopeSpans: [
        {
          scope: { name: 'http' },
          spans: [
            {
              traceId: TRACE_B,
              spanId: 'b7ad6b7169203331',
              name: 'GET /weather',
              kind: 2,
              startTimeUnixNano: 1544712650000000,
              endTimeUnixNano: 1544712652000000,
              status: { code: 'STATUS_CODE_ERROR', message: 'upstream failed' },
              events: [{ name: 'exception', timeUnixNano: '1544712651000000', attributes: [] }],
            },
            {
              traceId: TRACE_B,
              spanId: '00f067aa0ba902b7',
              parentSpanId: 'b7ad6b7169203331',
              name: 'chat gpt-4o',
              kind: 'SPAN_KIND_CLIENT',
              startTimeUnixNano: '1544712650500000',
              endTimeUnixNano: '1544712651500000',
              status: { code: 1 },
            },
          ],
        },
      ],
    },
  ],
});

describe('parseTraceLines / readTraceFile', () => {
  it('round-trips spans written by JsonTraceSerializer: ids, parents, kinds, times, attributes, events, status, resource', async () => {
    const recording = await recordWeatherRun();
    const records = await readTraceFile(recording.file);
    expect(records).toHaveLength(recording.spans.length);
    for (const [i, span] of recording.spans.entries()) {
      const record = records[i]!;
      expect(record.traceId).toBe(span.spanContext().traceId);
      expect(record.spanId).toBe(span.spanContext().spanId);
      expect(record.parentSpanId).toBe(span.parentSpanContext?.spanId);
      expect(record.name).toBe(span.name);
      expect(record.kind).toBe(KIND_NAME[span.kind]);
      expect(record.startTimeUnixNano).toBe(hrToNanos(span.startTime));
      expect(record.endTimeUnixNano).toBe(hrToNanos(span.endTime));
      expect(record.attributes).toEqual(span.attributes);
      expect(record.status.code).toBe(STATUS_NAME[span.status.code]);
      expect(record.status.message).toBe(span.status.message);
      expect(record.events).toEqual(
        span.events.map((event) => ({ name: event.name, timeUnixNano: hrToNanos(event.time), attributes: event.attributes ?? {} })),
      );
      expect(record.resource).toEqual({ 'service.name': 'weather-service' });
    }
    // `tracebound run` prints live spans through spanRecordOf; `show` must see the same records.
    expect(records).toEqual(recording.spans.map(spanRecordOf));
    const run = records.find((record) => record.parentSpanId === undefined)!;
    expect(run.endTimeUnixNano).toBe(hrToNanos(at(1234.5678)));
    expect(run.status).toEqual({ code: 'OK' });
    const chat = records.find((record) => record.events.some((event) => event.name === EVENT.budgetCheck))!;
    expect(chat.kind).toBe('CLIENT');
    expect(chat.attributes[ATTR.responseFinishReasons]).toEqual(['tool_calls']);
  });

  it('reads a Collector-style line with several resources and traces', () => {
    const records = parseTraceLines(collectorLine, 'collector.jsonl');
    expect(records.map((record) => [record.traceId, record.name, record.resource['service.name']])).toEqual([
      [TRACE_A, 'invoke_agent checkout', 'checkout'],
      [TRACE_B, 'GET /weather', 'gateway'],
      [TRACE_B, 'chat gpt-4o', 'gateway'],
    ]);
    const [agent, server, chat] = records as [(typeof records)[0], (typeof records)[0], (typeof records)[0]];
    expect(agent.parentSpanId).toBeUndefined();
    expect(agent.kind).toBe('INTERNAL');
    expect(agent.startTimeUnixNano).toBe(1544712660000000000n);
    expect(agent.status).toEqual({ code: 'UNSET' });
    expect(agent.attributes).toEqual({
      [ATTR.operationName]: OPERATION.invokeAgent,
      [ATTR.usageInputTokens]: 12,
      [ATTR.costAmount]: 0.5,
      flags: [true, false],
      mixed: '["a",1]',
      map: '{"k":"v","n":2}',
      bytes: 'aGk=',
      nan: Number.NaN,
    });
    expect(server.kind).toBe('SERVER');
    expect(server.startTimeUnixNano).toBe(1544712650000000n);
    expect(server.status).toEqual({ code: 'ERROR', message: 'upstream failed' });
    expect(server.events).toEqual([{ name: 'exception', timeUnixNano: 1544712651000000n, attributes: {} }]);
    expect(chat.parentSpanId).toBe('b7ad6b7169203331');
    expect(chat.kind).toBe('CLIENT');
    expect(chat.status).toEqual({ code: 'OK' });
  });

  it('skips blank lines, accepts CRLF, and reads one pretty-printed document', async () => {
    const recording = await recordWeatherRun();
    const lines = recording.text.trim().split('\n');
    const spaced = `\n${lines[0]}\r\n\r\n   \n${lines[1]}\n\n`;
    expect(parseTraceLines(spaced, 'spaced.jsonl')).toEqual(parseTraceLines(recording.text, 'x'));

    const pretty = `\n${JSON.stringify(JSON.parse(collectorLine), null, 2)}\n`;
    expect(parseTraceLines(pretty, 'pretty.json')).toEqual(parseTraceLines(collectorLine, 'x'));
    expect(parseTraceLines('', 'empty.jsonl')).toEqual([]);
  });

  it('names the line of a truncated record', async () => {
    const recording = await recordWeatherRun();
    const truncated = recording.text.slice(0, recording.text.length - 40);
    const error = traceFileError(() => parseTraceLines(truncated, 'cut.jsonl'));
    expect(error.line).toBe(2);
    expect(error.field).toBe('');
    expect(error.source).toBe('cut.jsonl');
    expect(error.message).toMatch(/^cut\.jsonl: line 2: not JSON \(.+\): the file may be truncated/);
    expect(error.message).toContain('re-record it or delete the line');
  });

  it('rejects foreign JSON as not an OTLP/JSON trace file', () => {
    const error = traceFileError(() => parseTraceLines('{"foo":1}\n', 'foreign.json'));
    expect(error.line).toBe(1);
    expect(error.field).toBe('resourceSpans');
    expect(error.message).toBe(
      'foreign.json: line 1: resourceSpans is missing: this is not an OTLP/JSON trace file (expected one ExportTraceServiceRequest per line)',
    );
    expect(traceFileError(() => parseTraceLines('[1,2]', 'array.json'))).toMatchObject({
      field: '',
      message: expect.stringContaining('line 1: the line is an array: this is not an OTLP/JSON trace file') as unknown,
    });
  });

  it('names the JSON path of a value of the wrong type', async () => {
    const recording = await recordWeatherRun();
    const [first, second] = recording.text.trim().split('\n') as [string, string];
    const document = JSON.parse(second) as { resourceSpans: { scopeSpans: { spans: unknown }[] }[] };
    document.resourceSpans[0]!.scopeSpans[0]!.spans = { not: 'an array' };
    const error = traceFileError(() => parseTraceLines(`${first}\n${JSON.stringify(document)}\n`, 't.jsonl'));
    expect(error.line).toBe(2);
    expect(error.field).toBe('resourceSpans[0].scopeSpans[0].spans');
    expect(error.message).toContain('resourceSpans[0].scopeSpans[0].spans is an object, expected an array');

    const badId = JSON.parse(first) as { resourceSpans: { scopeSpans: { spans: { traceId: unknown }[] }[] }[] };
    badId.resourceSpans[0]!.scopeSpans[0]!.spans[3]!.traceId = 'W7jv95gDgQPSabYzgT/GDA==';
    const idError = traceFileError(() => parseTraceLines(JSON.stringify(badId), 't.jsonl'));
    expect(idError.line).toBe(1);
    expect(idError.field).toBe('resourceSpans[0].scopeSpans[0].spans[3].traceId');
    expect(idError.message).toContain('expected 32 hex characters');
  });

  it.each([
    ['startTimeUnixNano', { startTimeUnixNano: '12.5' }, 'expected Unix epoch nanoseconds'],
    ['kind', { kind: 9 }, 'expected 0-5 or a SPAN_KIND_* name'],
    ['status.code', { status: { code: 'BROKEN' } }, 'expected 0, 1, 2 or a STATUS_CODE_* name'],
    ['attributes[0].value.intValue', { attributes: [{ key: 'a', value: { intValue: 'x' } }] }, 'expected an integer'],
    ['attributes[0].value', { attributes: [{ key: 'a', value: { weird: 1 } }] }, 'has none of stringValue'],
    ['events[0].name', { events: [{ timeUnixNano: '1' }] }, 'is missing, expected a string'],
  ])('names a bad %s', (field, override, problem) => {
    const span = {
      traceId: TRACE_A,
      spanId: 'eee19b7ec3c1b174',
      name: 'x',
      startTimeUnixNano: '1',
      endTimeUnixNano: '2',
      ...override,
    };
    const line = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] });
    const error = traceFileError(() => parseTraceLines(line, 't.jsonl'));
    expect(error.field).toBe(`resourceSpans[0].scopeSpans[0].spans[0].${field}`);
    expect(error.message).toContain(problem);
  });

  it('fails on a missing file or a directory with line 0', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'nope.jsonl');
    await expect(readTraceFile(missing)).rejects.toMatchObject({
      name: 'TraceFileError',
      line: 0,
      field: '',
      message: `${missing}: no such file: check the path, or record a trace first with \`tracebound run\``,
    });
    await mkdir(join(dir, '.tracebound'));
    await expect(readTraceFile(join(dir, '.tracebound'))).rejects.toThrow(/is a directory/);
    const file = await writeTemp('{"resourceSpans":[]}\n');
    await expect(readTraceFile(file)).resolves.toEqual([]);
  });
});
