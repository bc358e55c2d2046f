/**
 * What the metrics cost per model call: the scenario of bench/overhead.ts (3 model calls and 3
 * tool calls per run; the model answers at once) run untraced with no meter provider (the
 * runtime then has no metrics middleware) and with an SDK meter provider (two histograms and a
 * counter recorded per call, collected once at the end, never exported). The extra µs per call is
 * compared with a hand-written baseline in the same process: the same instruments recorded by
 * hand with the same attributes, as an app instrumenting its own model calls would.
 *
 * Run with `npm run bench:metrics`. Prints µs per run of both runtimes, the extra µs per model call,
 * the hand-written µs per call and their ratio, then a `BENCH_JSON` line with the figures.
 */
import { performance } from 'node:perf_hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { agent } from '../src/agent.js';
import { createRuntime } from '../src/create-runtime.js';
import { METRIC, METRIC_ATTR, TOKEN_TYPE } from '../src/tracing/attributes.js';
import { OPERATION_DURATION_BUCKETS, TOKEN_USAGE_BUCKETS } from '../src/tracing/metrics.js';
import { add, AGENT_NAME, INPUT, INSTRUCTIONS, makeModel, usage } from './scenario.js';
import { median } from './stats.js';

const RUNS_PER_ROUND = 500;
const CALLS_PER_RUN = 3;
const WARMUP_ROUNDS = 3;
const ROUNDS = 12;

/** A reader that only collects when asked: the bench measures recording, not exporting. */
class PullReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

const reader = new PullReader();
const meterProvider = new MeterProvider({ readers: [reader] });
const calc = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model: makeModel(), tools: [add] });
const runtimes = { off: createRuntime(), on: createRuntime({ meterProvider }) };

/** µs per run of `RUNS_PER_ROUND` runs one after the other. */
async function round(runtime: (typeof runtimes)['on']): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < RUNS_PER_ROUND; i++) {
    const result = await runtime.run(calc, INPUT);
    if (result.steps !== CALLS_PER_RUN) throw new Error('unexpected run result');
  }
  return ((performance.now() - started) * 1000) / RUNS_PER_ROUND;
}

/** The same instruments and attributes recorded by hand, as an app around its own model call would. */
const meter = meterProvider.getMeter('hand-written');
const tokens = meter.createHistogram('hand.token.usage', { unit: '{token}', advice: { explicitBucketBoundaries: [...TOKEN_USAGE_BUCKETS] } });
const duration = meter.createHistogram('hand.operation.duration', { unit: 's', advice: { explicitBucketBoundaries: [...OPERATION_DURATION_BUCKETS] } });
const cost = meter.createCounter('hand.cost.usage', { unit: 'USD' });
const model = makeModel();

/** µs per model call: a scripted call and its metrics by hand. */
async function handRound(): Promise<number> {
  const calls = RUNS_PER_ROUND * CALLS_PER_RUN;
  const request = { system: INSTRUCTIONS, messages: [{ role: 'user' as const, content: INPUT }], tools: [], maxOutputTokens: 100 };
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    const began = performance.now();
    const response = await model.generate(request);
    const attrs = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': model.provider, 'gen_ai.request.model': model.modelId, 'gen_ai.response.model': response.model ?? model.modelId };
    tokens.record(response.usage.inputTokens, { ...attrs, [METRIC_ATTR.tokenType]: TOKEN_TYPE.input });
    tokens.record(response.usage.outputTokens, { ...attrs, [METRIC_ATTR.tokenType]: TOKEN_TYPE.output });
    cost.add(usage.inputTokens * 0.15e-6 + usage.outputTokens * 0.6e-6, { ...attrs, 'gen_ai.agent.name': AGENT_NAME });
    duration.record((performance.now() - began) / 1000, attrs);
  }
  const bare = ((performance.now() - started) * 1000) / calls;
  // The model call alone, to leave only what the metrics cost.
  const modelOnly = performance.now();
  for (let i = 0; i < calls; i++) await model.generate(request);
  return bare - ((performance.now() - modelOnly) * 1000) / calls;
}

const samples = { off: [] as number[], on: [] as number[], hand: [] as number[] };
for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
  // Alternated, so drift on a shared machine hits every variant alike.
  const order = r % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
  for (const name of order) {
    const us = await round(runtimes[name]);
    if (r >= WARMUP_ROUNDS) samples[name].push(us);
  }
  const hand = await handRound();
  if (r >= WARMUP_ROUNDS) samples.hand.push(hand);
}
const { resourceMetrics } = await reader.collect();
const recorded = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics.map((m) => m.descriptor.name));
for (const name of [METRIC.tokenUsage, METRIC.operationDuration, METRIC.costUsage]) {
  if (!recorded.includes(name)) throw new Error(`${name} was not recorded`);
}
await meterProvider.shutdown();

const off = median(samples.off);
const on = median(samples.on);
const extraPerCall = (on - off) / CALLS_PER_RUN;
const hand = median(samples.hand);
const figures = {
  noMeterUsPerRun: Math.round(off),
  meteredUsPerRun: Math.round(on),
  extraUsPerModelCall: Number(extraPerCall.toFixed(2)),
  handWrittenUsPerModelCall: Number(hand.toFixed(2)),
  ratioToHandWritten: Number((extraPerCall / hand).toFixed(2)),
};
console.log(`run without a meter provider: ${figures.noMeterUsPerRun} µs (median of ${ROUNDS} rounds of ${RUNS_PER_ROUND} runs, ${CALLS_PER_RUN} model calls each)`);
console.log(`run with an SDK meter provider: ${figures.meteredUsPerRun} µs`);
console.log(`metrics cost ${figures.extraUsPerModelCall} µs per model call; by hand, the same records cost ${figures.handWrittenUsPerModelCall} µs (ratio ${figures.ratioToHandWritten}x)`);
console.log('BENCH_JSON');
console.log(JSON.stringify(figures));
