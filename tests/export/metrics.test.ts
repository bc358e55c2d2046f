/**
 * Metrics: a scripted run through `tracedRuntime({ exporter: 'otlp' })` pushes the GenAI client
 * metrics, the cost counter and the budget-decision counter to a real OTLP/HTTP receiver on
 * 127.0.0.1, decoded there from OTLP/JSON and protobuf; without a meter provider nothing is recorded at all.
 */
import { createNoopMeter, metrics } from '@opentelemetry/api';
import { AggregationTemporality, type DataPoint, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { RunError } from '../../src/errors.js';
import { ModelCallError } from '../../src/providers/errors.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { TracingConfigError } from '../../src/telemetry/setup.js';
import { tool } from '../../src/tool.js';
import { decodeMetrics, type MetricPoint } from '../support/otlp-metrics.js';
import { runtimeWith, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { PRICE, weather } from '../viewer/agents.js';

/** The semconv's explicit bucket boundaries (semantic-conventions docs/gen-ai/gen-ai-metrics.md). */
const SEMCONV_TOKEN_BOUNDS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const SEMCONV_DURATION_BOUNDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** Every metrics variable the tests touch, unset unless a test sets it. */
const METRICS_ENV = {
  OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: undefined,
  OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: undefined,
  OTEL_EXPORTER_OTLP_METRICS_HEADERS: undefined,
  OTEL_METRIC_EXPORT_INTERVAL: undefined,
  OTEL_METRIC_EXPORT_TIMEOUT: undefined,
};

let receiver: OtlpReceiver;
const points = () => decodeMetrics(receiver.metricPosts);

beforeEach(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await receiver.close();
  metrics.disable();
});

const named = (all: MetricPoint[], name: string) => all.filter((p) => p.name === name);

describe('metrics over OTLP/HTTP', () => {
  it('pushes token usage, duration, cost and budget decisions of a scripted run when the runtime shuts down', async () => {
    const runtime = runtimeWith({ ...METRICS_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'weather-svc' }, { exporter: 'otlp' });
    // Two calls: 100 then 150 input tokens, 20 output each, at gpt-4o-mini prices. The run's $0.001
    // cannot hold a call's worst case (4,096 output tokens, $0.0025): the budget lowers both.
    const result = await runtime.run(weather({ runCostUsd: 0.001 }), 'Paris');
    await runtime.shutdown();

    expect(receiver.metricPosts.map((post) => post.contentType)).toEqual(['application/json']);
    // The spans went to /v1/traces of the same endpoint.
    expect(receiver.spans().length).toBeGreaterThan(0);
    const call = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini' };

    const tokens = named(points(), 'gen_ai.client.token.usage');
    expect(tokens.map((p) => [p.type, p.unit, p.attributes, p.count, p.sum])).toEqual([
      ['histogram', '{token}', { ...call, 'gen_ai.token.type': 'input' }, 2, 250],
      ['histogram', '{token}', { ...call, 'gen_ai.token.type': 'output' }, 2, 40],
    ]);
    for (const point of tokens) expect(point.explicitBounds).toEqual(SEMCONV_TOKEN_BOUNDS);
    // 100 and 150 fall in (64, 256]; 20 and 20 in (16, 64].
    expect(tokens[0]!.bucketCounts![4]).toBe(2);
    expect(tokens[1]!.bucketCounts![3]).toBe(2);
    expect(tokens[0]!.resource['service.name']).toBe('weather-svc');

    const [duration, ...moreDurations] = named(points(), 'gen_ai.client.operation.duration');
    expect(moreDurations).toEqual([]);
    expect(duration).toMatchObject({ type: 'histogram', unit: 's', attributes: call, count: 2, explicitBounds: SEMCONV_DURATION_BOUNDS });
    expect(duration!.sum).toBeGreaterThan(0);

    const [cost, ...moreCosts] = named(points(), 'tracebound.cost.usage');
    expect(moreCosts).toEqual([]);
    expect(cost).toMatchObject({ type: 'sum', monotonic: true, unit: 'USD', attributes: { ...call, 'gen_ai.agent.name': 'weather' } });
    expect(cost!.value).toBeCloseTo(250 * PRICE.input + 40 * PRICE.output, 12);
    expect(cost!.value).toBeCloseTo(result.costUsd!, 12);

    expect(named(points(), 'tracebound.budget.decisions').map((p) => [p.type, p.unit, p.monotonic, p.attributes, p.value])).toEqual([
      ['sum', '{decision}', true, { 'tracebound.budget.decision': 'lower', 'tracebound.budget.scope': 'run', 'gen_ai.operation.name': 'chat', 'gen_ai.agent.name': 'weather' }, 2],
    ]);
  });

  it('records a failed call’s duration with its error.type, and no tokens or cost for it', async () => {
    const runtime = runtimeWith({ ...METRICS_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'otlp' });
    const failing = agent({
      name: 'broken',
      instructions: 'x',
      model: scriptedModel({
        provider: 'openai',
        modelId: 'gpt-4o-mini',
        respond: [{ error: new ModelCallError('bad request', { kind: 'invalid_request', provider: 'openai', status: 400 }) }],
      }),
    });
    await expect(runtime.run(failing, 'hi')).rejects.toBeInstanceOf(RunError);
    await runtime.shutdown();
    expect(named(points(), 'gen_ai.client.operation.duration').map((p) => [p.attributes, p.count])).toEqual([
      [{ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'error.type': 'invalid_request' }, 1],
    ]);
    expect(named(points(), 'gen_ai.client.token.usage')).toEqual([]);
    expect(named(points(), 'tracebound.cost.usage')).toEqual([]);
  });

  it("sends the same metrics as protobuf with 'otlp-proto'", async () => {
    const runtime = runtimeWith({ ...METRICS_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'otlp-proto' });
    await runtime.run(weather({ runCostUsd: 0.001 }), 'Paris');
    await runtime.shutdown();
    expect(receiver.metricPosts.map((post) => post.contentType)).toEqual(['application/x-protobuf']);
    const call = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini' };
    expect(named(points(), 'gen_ai.client.token.usage').map((p) => [p.unit, p.attributes, p.count, p.sum, p.explicitBounds])).toEqual([
      ['{token}', { ...call, 'gen_ai.token.type': 'input' }, 2, 250, SEMCONV_TOKEN_BOUNDS],
      ['{token}', { ...call, 'gen_ai.token.type': 'output' }, 2, 40, SEMCONV_TOKEN_BOUNDS],
    ]);
    expect(named(points(), 'gen_ai.client.operation.duration')).toMatchObject([{ unit: 's', count: 2, explicitBounds: SEMCONV_DURATION_BOUNDS }]);
    const [cost] = named(points(), 'tracebound.cost.usage');
    expect(cost).toMatchObject({ type: 'sum', monotonic: true, unit: 'USD' });
    expect(cost!.value).toBeCloseTo(250 * PRICE.input + 40 * PRICE.output, 12);
    expect(named(points(), 'tracebound.budget.decisions').map((p) => [p.attributes['tracebound.budget.decision'], p.value])).toEqual([['lower', 2]]);
  });

  it('pushes on the OTEL_METRIC_EXPORT_INTERVAL while the runtime lives, and refuses a bad interval', async () => {
    const runtime = runtimeWith({ ...METRICS_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '50' }, { exporter: 'otlp' });
    await runtime.run(weather(), 'Paris');
    await vi.waitFor(() => expect(named(points(), 'gen_ai.client.token.usage').length).toBeGreaterThan(0), { timeout: 10_000 });
    await runtime.shutdown();
    expect(() => runtimeWith({ ...METRICS_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_METRIC_EXPORT_INTERVAL: '1m' }, { exporter: 'otlp' })).toThrow(TracingConfigError);
  });

  it('sends no metrics without an otlp exporter', async () => {
    const runtime = runtimeWith({ ...METRICS_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, { exporter: 'none' });
    await runtime.run(weather(), 'Paris');
    await runtime.shutdown();
    expect(receiver.metricPosts).toEqual([]);
    expect(receiver.requests).toEqual([]);
  });
});

describe('without a meter provider', () => {
  /** An SDK meter provider whose metrics a test reads with `collect()`. */
  function sdkProvider() {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const names = async () => {
      const { resourceMetrics } = await reader.collect();
      return resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.filter((m) => m.dataPoints.length > 0).map((m) => m.descriptor.name));
    };
    return { provider, reader, names };
  }

  it('creates no instrument and records nothing, even after a provider is registered later', async () => {
    const noop = createNoopMeter();
    const created = [vi.spyOn(noop, 'createHistogram'), vi.spyOn(noop, 'createCounter')];
    const before = createRuntime();
    // A $0.001 run budget lowers every call (a budget decision to count).
    await before.run(weather({ runCostUsd: 0.001 }), 'Paris');
    for (const spy of created) expect(spy).not.toHaveBeenCalled();

    // The provider is read once, when the runtime is made: one registered afterwards sees nothing of it.
    const { provider, names } = sdkProvider();
    metrics.setGlobalMeterProvider(provider);
    await before.run(weather({ runCostUsd: 0.001 }), 'Oslo');
    expect(await names()).toEqual([]);

    // A runtime made now records through it.
    await createRuntime().run(weather({ runCostUsd: 0.001 }), 'Rome');
    expect((await names()).sort()).toEqual(['gen_ai.client.operation.duration', 'gen_ai.client.token.usage', 'tracebound.budget.decisions', 'tracebound.cost.usage']);
    await provider.shutdown();
  });

  it('counts costed tool calls in the cost, and the budget decisions on them by operation', async () => {
    const { provider, reader } = sdkProvider();
    let executed = 0;
    const search = tool({
      name: 'search',
      description: 'Paid search.',
      parameters: z.object({ q: z.string() }),
      costUsd: 0.01,
      execute: ({ q }) => {
        executed += 1;
        return `result ${q}`;
      },
    });
    // Asks for a $0.01 search three times, then answers; the run's $0.025 holds two searches.
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (_, call) => (call > 3 ? { text: 'done', usage: { inputTokens: 10, outputTokens: 5 } } : { toolCalls: [{ id: `c${call}`, name: 'search', arguments: { q: String(call) } }], usage: { inputTokens: 10, outputTokens: 5 } }),
    });
    const searcher = agent({ name: 'searcher', instructions: 'Search.', model, tools: [search], maxOutputTokens: 10, budget: { runCostUsd: 0.025 } });
    await createRuntime({ meterProvider: provider }).run(searcher, 'go');
    expect(executed).toBe(2);

    const { resourceMetrics } = await reader.collect();
    // Both are counters: their points hold numbers.
    const data = (name: string) =>
      resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<number>[]));
    const toolCost = data('tracebound.cost.usage').filter((p) => p.attributes['gen_ai.operation.name'] === 'execute_tool');
    expect(toolCost.map((p) => [p.attributes, p.value])).toEqual([[{ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search', 'gen_ai.agent.name': 'searcher' }, 0.02]]);
    expect(data('tracebound.budget.decisions').map((p) => [p.attributes, p.value])).toContainEqual([
      { 'tracebound.budget.decision': 'refuse', 'tracebound.budget.scope': 'run', 'gen_ai.operation.name': 'execute_tool', 'gen_ai.agent.name': 'searcher' },
      1,
    ]);
    await provider.shutdown();
  });

  it('records through a meter provider passed to the runtime', async () => {
    const { provider, names } = sdkProvider();
    await createRuntime({ meterProvider: provider }).run(weather(), 'Paris');
    expect((await names()).sort()).toEqual(['gen_ai.client.operation.duration', 'gen_ai.client.token.usage', 'tracebound.cost.usage']);
    await provider.shutdown();
  });
});
