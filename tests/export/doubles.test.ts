/**
 * Whole-number doubles (a temperature of 1, a cost of 0) go out as OTLP `doubleValue`, not
 * `intValue`, in the trace file, in OTLP/JSON and in OTLP protobuf, as the conventions type them;
 * integers stay integers. Checked on the bytes written and sent (the protobuf decoded from the
 * wire format by the test receiver), from a real run through the real OpenTelemetry SDK.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import { JsonDoubleTraceSerializer, ProtobufDoubleTraceSerializer } from '../../src/telemetry/otlp-doubles.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { protobufRequestToJson, runtimeWith, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';

interface OtlpValue {
  intValue?: number | string;
  doubleValue?: number;
  stringValue?: string;
}
interface OtlpSpan {
  name: string;
  attributes: { key: string; value: OtlpValue }[];
  events?: { name: string; attributes: { key: string; value: OtlpValue }[] }[];
}
interface OtlpRequest {
  resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const spansOf = (requests: OtlpRequest[]) => requests.flatMap((r) => r.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)));
const valueOf = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value;

/**
 * The typed values the two runs must carry wherever their spans go: temperature 1 on a free model,
 * and a $1 run budget.
 */
function expectWholeDoubles(spans: OtlpSpan[]): void {
  const chat = spans.find((s) => s.name === 'chat free-model')!;
  const run = spans.find((s) => s.name === 'invoke_agent free')!;
  const budgeted = spans.find((s) => s.name === 'invoke_agent budgeted')!;
  expect(valueOf(chat, ATTR.requestTemperature)).toEqual({ doubleValue: 1 });
  expect(valueOf(chat, ATTR.costAmount)).toEqual({ doubleValue: 0 });
  expect(valueOf(run, ATTR.runCostUsd)).toEqual({ doubleValue: 0 });
  expect(valueOf(budgeted, ATTR.budgetRunCostLimit)).toEqual({ doubleValue: 1 });
  // Integers stay integers (OTLP/JSON writes int64 as a number or a decimal string).
  expect(Number(valueOf(chat, ATTR.usageInputTokens)?.intValue)).toBe(12);
  expect(Number(valueOf(run, ATTR.steps)?.intValue)).toBe(1);
}

let receiver: OtlpReceiver;

beforeEach(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await receiver.close();
});

describe('whole-number doubles', () => {
  it('are doubleValue in the trace file, the OTLP/JSON body and the OTLP protobuf body', async () => {
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-doubles-')), 'traces.jsonl');
    const runtime = runtimeWith(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      { exporter: ['file', 'otlp', 'otlp-proto'], traceFile, prices: { 'free-model': { inputPerMTok: 0, outputPerMTok: 0 } } },
    );
    const model = scriptedModel({ provider: 'openai', modelId: 'free-model', respond: [{ text: 'hi', usage: { inputTokens: 12, outputTokens: 3 } }] });
    const result = await runtime.run(agent({ name: 'free', instructions: 'x', model, temperature: 1 }), 'hello');
    const priced = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'hi', usage: { inputTokens: 12, outputTokens: 3 } }] });
    await runtime.run(agent({ name: 'budgeted', instructions: 'x', model: priced, budget: { runCostUsd: 1 } }), 'hello');
    await runtime.shutdown();
    expect(result.costUsd).toBe(0);

    const fileRequests = (await readFile(traceFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as OtlpRequest);
    expectWholeDoubles(spansOf(fileRequests));

    const json = receiver.requests.filter((r) => r.headers['content-type'] === 'application/json');
    const protobuf = receiver.requests.filter((r) => r.headers['content-type'] === 'application/x-protobuf');
    expect(json.length).toBeGreaterThan(0);
    expect(protobuf.length).toBeGreaterThan(0);
    expectWholeDoubles(spansOf(json.map((r) => JSON.parse(r.body.toString('utf8')) as OtlpRequest)));
    expectWholeDoubles(spansOf(protobuf.map((r) => protobufRequestToJson(r.body) as OtlpRequest)));

    // The trace file reader reads the doubles back as numbers.
    const chat = (await readTraceFile(traceFile)).find((s) => s.name === 'chat free-model')!;
    expect(chat.attributes[ATTR.requestTemperature]).toBe(1);
  });

  it('in budget events too, and a batch with none is serialised exactly as the SDK does', async () => {
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    const tracer = provider.getTracer('test');
    const span = tracer.startSpan('step 1');
    span.addEvent(EVENT.budgetSettle, { [EVENT_ATTR.scope]: 'run', [EVENT_ATTR.reserved]: 2, [EVENT_ATTR.actual]: 0 });
    span.addEvent(EVENT.retry, { [EVENT_ATTR.attempt]: 1, [EVENT_ATTR.delayMs]: 500 });
    span.end();
    const plain = tracer.startSpan('plain', { attributes: { [ATTR.requestTemperature]: 0.7, [ATTR.usageInputTokens]: 5 } });
    plain.end();
    const [withEvents, withoutWhole] = memory.getFinishedSpans();

    const decoded = [
      JSON.parse(new TextDecoder().decode(JsonDoubleTraceSerializer.serializeRequest([withEvents!]))) as OtlpRequest,
      protobufRequestToJson(Buffer.from(ProtobufDoubleTraceSerializer.serializeRequest([withEvents!])!)) as OtlpRequest,
    ];
    for (const request of decoded) {
      const [settle, retry] = spansOf([request])[0]!.events!;
      expect(settle!.attributes.map((a) => [a.key, a.value])).toEqual([
        [EVENT_ATTR.scope, { stringValue: 'run' }],
        [EVENT_ATTR.reserved, { doubleValue: 2 }],
        [EVENT_ATTR.actual, { doubleValue: 0 }],
      ]);
      // Not a budget event: its numbers keep their integer type.
      expect(retry!.attributes.map((a) => Number(a.value.intValue))).toEqual([1, 500]);
    }
    expect(JsonDoubleTraceSerializer.serializeRequest([withoutWhole!])).toEqual(JsonTraceSerializer.serializeRequest([withoutWhole!]));
    expect(ProtobufDoubleTraceSerializer.serializeRequest([withoutWhole!])).toEqual(ProtobufTraceSerializer.serializeRequest([withoutWhole!]));
    await provider.shutdown();
  });
});
