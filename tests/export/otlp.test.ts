/**
 * OTLP/HTTP export against a real receiver on 127.0.0.1: the demo agent's spans arrive complete
 * over JSON and protobuf, with the standard OTEL_* variables honoured; faults (receiver down,
 * retryable and fatal statuses, a full queue) never fail a run and every lost span is counted and
 * reported; a burst of 100 concurrent runs loses nothing.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchSpanProcessor, BasicTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { z } from 'zod';
import { offline, input as demoInput } from '../../examples/release-notes/agent.js';
import { agent } from '../../src/agent.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { CountingExporter, ExportGuard, GuardedSpanProcessor } from '../../src/telemetry/export-guard.js';
import type { SpanRecord } from '../../src/traces/span-record.js';
import { TracingConfigError } from '../../src/telemetry/setup.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import type { TracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { runtimeWith, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';

const DEMO_SPANS = [
  'chat gpt-4o-mini', 'chat gpt-4o-mini',
  'execute_tool parallel_local_search_one', 'execute_tool parallel_local_search_three', 'execute_tool parallel_local_search_two',
  'invoke_agent release-notes', 'step 1', 'step 2',
];

/** Runs the demo agent once on its recorded traffic. */
async function runDemo(runtime: TracedRuntime) {
  const setup = await offline.start();
  try {
    return await runtime.run(setup.agent, demoInput);
  } finally {
    await setup.close();
  }
}

function byName(spans: SpanRecord[], name: string): SpanRecord[] {
  return spans.filter((s) => s.name === name);
}

/** The demo's span tree: one trace, run -> steps -> chat and tool spans, with its recorded numbers. */
function expectDemoTree(spans: SpanRecord[], traceId: string): void {
  expect(spans.map((s) => s.name).sort()).toEqual(DEMO_SPANS);
  expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
  expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
  const [run] = byName(spans, 'invoke_agent release-notes');
  expect(run!.parentSpanId).toBeUndefined();
  const steps = [...byName(spans, 'step 1'), ...byName(spans, 'step 2')];
  for (const step of steps) expect(step.parentSpanId).toBe(run!.spanId);
  const stepIds = steps.map((s) => s.spanId);
  for (const child of spans.filter((s) => s.name.startsWith('chat') || s.name.startsWith('execute_tool'))) {
    expect(stepIds).toContain(child.parentSpanId);
  }
  expect(run!.attributes[ATTR.usageInputTokens]).toBe(636);
  expect(run!.attributes[ATTR.usageOutputTokens]).toBe(163);
  expect(run!.attributes[ATTR.stopReason]).toBe('graceful_limit');
  expect(run!.attributes[ATTR.runCostUsd]).toBeCloseTo(0.0001932, 7);
  const chats = byName(spans, 'chat gpt-4o-mini');
  expect(chats.map((c) => c.kind)).toEqual(['CLIENT', 'CLIENT']);
  expect(chats.map((c) => c.attributes[ATTR.usageInputTokens]).sort()).toEqual([259, 377]);
  expect(byName(spans, 'execute_tool parallel_local_search_one')[0]!.attributes[ATTR.toolName]).toBe('parallel_local_search_one');
  // Content stays off for a remote exporter.
  for (const s of spans) {
    expect(s.attributes[ATTR.inputMessages]).toBeUndefined();
    expect(s.attributes[ATTR.langfuseObservationInput]).toBeUndefined();
  }
}

let receiver: OtlpReceiver;
let warn: MockInstance<(...args: unknown[]) => void>;

beforeEach(async () => {
  receiver = await startOtlpReceiver();
  warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(async () => {
  warn.mockRestore();
  await receiver.close();
});

describe('OTLP/HTTP export of the demo', () => {
  it('sends complete spans as OTLP/JSON, with OTEL_EXPORTER_OTLP_HEADERS and the resource from OTEL_SERVICE_NAME/OTEL_RESOURCE_ATTRIBUTES', async () => {
    const runtime = runtimeWith(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team=observability,x-collector-token=abc123',
        OTEL_SERVICE_NAME: 'release-bot',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test,service.version=1.2.3',
      },
      { exporter: 'otlp' },
    );
    const result = await runDemo(runtime);
    await runtime.shutdown();

    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const r of receiver.requests) {
      expect(r.path).toBe('/v1/traces');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-team']).toBe('observability');
      expect(r.headers['x-collector-token']).toBe('abc123');
    }
    const spans = receiver.spans();
    expectDemoTree(spans, result.traceId);
    for (const s of spans) {
      expect(s.resource['service.name']).toBe('release-bot');
      expect(s.resource['deployment.environment.name']).toBe('test');
      expect(s.resource['service.version']).toBe('1.2.3');
    }
    expect(runtime.exportStats()).toEqual({ dropped: 0, failedExports: 0, byExporter: {} });
    expect(warn).not.toHaveBeenCalled();
  });

  it("sends protobuf with exporter 'otlp-proto', and the same spans as the trace file written beside it", async () => {
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-export-')), 'traces.jsonl');
    const runtime = runtimeWith(
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/custom/v1/traces`, OTEL_SERVICE_NAME: 'proto-bot' },
      { exporter: ['file', 'otlp-proto'], traceFile },
    );
    const result = await runDemo(runtime);
    await runtime.shutdown();

    for (const r of receiver.requests) {
      expect(r.path).toBe('/custom/v1/traces');
      expect(r.headers['content-type']).toBe('application/x-protobuf');
    }
    const spans = receiver.spans();
    expectDemoTree(spans, result.traceId);
    expect(spans[0]!.resource['service.name']).toBe('proto-bot');
    // Decoded from protobuf, every span equals the one the file exporter wrote as JSON.
    const sort = (list: SpanRecord[]) => [...list].sort((a, b) => a.spanId.localeCompare(b.spanId));
    expect(sort(spans)).toEqual(sort(await readTraceFile(traceFile)));
  });

  it("switches 'otlp' to protobuf with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, and refuses grpc at tracedRuntime()", async () => {
    const runtime = runtimeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, { exporter: 'otlp' });
    const result = await runDemo(runtime);
    await runtime.shutdown();
    expect(receiver.requests.map((r) => r.headers['content-type'])).toContain('application/x-protobuf');
    expectDemoTree(receiver.spans(), result.traceId);

    let error: unknown;
    try {
      runtimeWith({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }, { exporter: 'otlp' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TracingConfigError);
    expect((error as TracingConfigError).variables).toEqual(['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']);
    expect((error as Error).message).toMatch(/grpc is not supported: use http\/protobuf or http\/json/);
  });
});

describe('export faults never fail a run, and lost spans are counted and reported', () => {
  it('receiver down: the run succeeds, shutdown returns, all 8 spans are reported dropped', async () => {
    const down = receiver.url;
    await receiver.close();
    receiver = await startOtlpReceiver(); // for afterEach; the endpoint below stays closed
    const runtime = runtimeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: down, OTEL_EXPORTER_OTLP_TIMEOUT: '1500' }, { exporter: 'otlp' });
    const started = Date.now();
    const result = await runDemo(runtime);
    expect(result.stopReason).toBe('graceful_limit');
    await runtime.shutdown();
    // Bounded by the exporter's timeout (its retries of ECONNREFUSED included).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(runtime.exportStats()).toEqual({ dropped: 8, failedExports: 1, byExporter: { otlp: { dropped: 8, failedExports: 1 } } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/^tracebound: 8 spans not exported to otlp \(.+\); tracebound\.export\.dropped=8$/);
  });

  it('receiver answering 503 then 429 then 200: the exporter retries and every span arrives', async () => {
    receiver.script({ status: 503 }, { status: 429, headers: { 'retry-after': '1' } });
    const runtime = runtimeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'otlp' });
    const result = await runDemo(runtime);
    await runtime.shutdown();
    expect(receiver.requests.map((r) => r.status)).toEqual([503, 429, 200]);
    // The same batch, three times.
    expect(receiver.requests[0]!.body.equals(receiver.requests[2]!.body)).toBe(true);
    expectDemoTree(receiver.spans(), result.traceId);
    expect(runtime.exportStats().dropped).toBe(0);
    expect(warn).not.toHaveBeenCalled();
  });

  it('receiver answering 500 (not retryable per the OTLP spec): the batch is counted and reported, not silent', async () => {
    receiver.script({ status: 500 });
    const runtime = runtimeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'otlp' });
    await runDemo(runtime);
    await runtime.shutdown();
    expect(receiver.requests.map((r) => r.status)).toEqual([500]);
    expect(runtime.exportStats().byExporter.otlp).toEqual({ dropped: 8, failedExports: 1 });
    expect(String(warn.mock.calls[0]![0])).toMatch(/8 spans not exported to otlp .*tracebound\.export\.dropped=8/);
  });

  it('a slow receiver does not slow a run: a run made while an export waits ends first', async () => {
    receiver.fallback = { status: 200, delayMs: 4_000 };
    const runtime = runtimeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'otlp' });
    await runDemo(runtime);
    let flushed = false;
    // The first run's spans, now waiting on the receiver.
    const flushing = runtime.forceFlush().then(() => {
      flushed = true;
    });
    await runDemo(runtime);
    // Ordering, not wall time: the second run ended while the export was still waiting.
    expect(flushed).toBe(false);
    expect(receiver.spans()).toHaveLength(0);
    await flushing;
    await runtime.shutdown();
    expect(receiver.spans()).toHaveLength(16);
  });

  it('a full queue drops the newest spans, counted, instead of blocking or growing', async () => {
    // Small bound and an exporter that never answers, so the queue fills.
    const guard = new ExportGuard();
    const never: SpanExporter = { export: () => {}, shutdown: async () => {} };
    const counting = new CountingExporter('stuck', never, guard);
    const processor = new GuardedSpanProcessor(
      'stuck',
      new BatchSpanProcessor(counting, { maxQueueSize: 10, maxExportBatchSize: 10, scheduledDelayMillis: 60_000 }),
      counting,
      10,
      guard,
    );
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('t');
    for (let i = 0; i < 25; i++) tracer.startSpan(`s${i}`).end();
    // 10 handed to the exporter (a full batch goes at once), 10 queued behind it, 5 dropped.
    expect(counting.handed).toBe(10);
    expect(guard.stats()).toEqual({ dropped: 5, failedExports: 0, byExporter: { stuck: { dropped: 5, failedExports: 0 } } });
    expect(warn).toHaveBeenCalledTimes(1); // the first drop at once, the rest summed later
    guard.reportAll();
    expect(String(warn.mock.calls[1]![0])).toMatch(/^tracebound: 4 spans not exported to stuck \(export queue full: 10 spans waiting\); tracebound\.export\.dropped=5$/);
  });
});

describe('a burst of 100 concurrent runs', () => {
  it('loses no span over OTLP protobuf to a slow receiver', async () => {
    receiver.fallback = { status: 200, delayMs: 150 };
    const add = tool({ name: 'add', description: 'Adds.', parameters: z.object({ a: z.number(), b: z.number() }), execute: ({ a, b }) => a + b });
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (req) =>
        req.messages.some((m) => m.role === 'tool')
          ? { text: 'The answer is 3.', usage: { inputTokens: 100, outputTokens: 20 } }
          : { toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }], usage: { inputTokens: 100, outputTokens: 20 } },
    });
    const adder = agent({ name: 'adder', instructions: 'Add.', model, tools: [add] });
    const runtime = runtimeWith({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'otlp-proto' });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => runtime.run(adder, `add ${i}`)));
    await runtime.shutdown();
    const spans = receiver.spans();
    // run + 2 steps + 2 chats + 1 tool per run.
    expect(spans).toHaveLength(600);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(600);
    expect(new Set(byName(spans, 'invoke_agent adder').map((s) => s.traceId))).toEqual(new Set(results.map((r) => r.traceId)));
    expect(runtime.exportStats().dropped).toBe(0);
  });
});
