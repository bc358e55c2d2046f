/**
 * What `aiSdk()` and `fallback()` cost, in one process, each against a bare baseline of the same
 * run:
 * - the adapter alone: `aiSdk(model).generate(request)` against a hand-written call of the same
 *   model's `doGenerate` with the same prompt (the specification's call options built inline);
 * - a traced run (1 step, in-memory export): with `aiSdk(model)` against a `scriptedModel` giving
 *   the same answer, and with `fallback([scripted, other])` whose first model answers, against the
 *   scripted model alone (the fallback's cost when nothing is down).
 * Models answer at once (a LanguageModelV3 written here returning a constant result), so the
 * figures are tracebound's overhead.
 *
 * Run with `npm run bench:ai-sdk`. Prints medians, ratios and extra µs, then a `BENCH_JSON` line.
 */
import { performance } from 'node:perf_hooks';
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3GenerateResult } from '@ai-sdk/provider';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { agent, type Agent } from '../src/agent.js';
import { aiSdk } from '../src/providers/ai-sdk.js';
import { fallback } from '../src/providers/fallback.js';
import type { ModelRequest } from '../src/providers/model.js';
import { memoryStore } from '../src/state/memory.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import { BATCH } from './scenario.js';
import { median } from './stats.js';

const CALLS_PER_ROUND = 20_000;
const RUNS_PER_ROUND = 500;
const WARMUP_ROUNDS = 3;
const ROUNDS = 12;

const RESULT: LanguageModelV3GenerateResult = {
  content: [{ type: 'text', text: 'done' }],
  finishReason: { unified: 'stop', raw: 'stop' },
  usage: { inputTokens: { total: 100, noCache: 100, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 20, text: 20, reasoning: 0 } },
  response: { id: 'r1', modelId: 'gpt-4o-mini' },
  warnings: [],
};
const languageModel: LanguageModelV3 = {
  specificationVersion: 'v3',
  provider: 'openai.chat',
  modelId: 'gpt-4o-mini',
  supportedUrls: {},
  doGenerate: () => Promise.resolve(RESULT),
  doStream: () => Promise.reject(new Error('not streamed here')),
};

const request: ModelRequest = { system: 'Answer.', messages: [{ role: 'user', content: 'Go' }], tools: [] };
const adapted = aiSdk(languageModel);

/** µs per call of the bare specification call, its options built by hand as an app would. */
async function bareCalls(): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS_PER_ROUND; i++) {
    const options: LanguageModelV3CallOptions = {
      prompt: [
        { role: 'system', content: 'Answer.' },
        { role: 'user', content: [{ type: 'text', text: 'Go' }] },
      ],
    };
    const result = await languageModel.doGenerate(options);
    if (result.content[0]?.type !== 'text') throw new Error('unexpected result');
  }
  return ((performance.now() - started) * 1000) / CALLS_PER_ROUND;
}

/** µs per call through the adapter. */
async function adaptedCalls(): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < CALLS_PER_ROUND; i++) {
    const response = await adapted.generate(request);
    if (response.text !== 'done') throw new Error('unexpected response');
  }
  return ((performance.now() - started) * 1000) / CALLS_PER_ROUND;
}

const exporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, BATCH)] });
const runtime = tracedRuntime({ tracerProvider, store: memoryStore() });
const usage = { inputTokens: 100, outputTokens: 20 };
const scripted = () => scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'done', usage }) });
const agents = {
  scripted: agent({ name: 'bench', instructions: 'Answer.', model: scripted() }),
  aiSdk: agent({ name: 'bench', instructions: 'Answer.', model: aiSdk(languageModel) }),
  fallback: agent({ name: 'bench', instructions: 'Answer.', model: fallback([scripted(), scripted()]) }),
};

/** µs per traced run of `a`. */
async function runs(a: Agent): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < RUNS_PER_ROUND; i++) {
    const result = await runtime.run(a, 'Go');
    if (result.output !== 'done') throw new Error('unexpected run result');
  }
  const us = ((performance.now() - started) * 1000) / RUNS_PER_ROUND;
  exporter.reset();
  return us;
}

const variants: Record<string, () => Promise<number>> = {
  bare: bareCalls,
  adapter: adaptedCalls,
  scriptedRun: () => runs(agents.scripted),
  aiSdkRun: () => runs(agents.aiSdk),
  fallbackRun: () => runs(agents.fallback),
};
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const names = Object.keys(variants);
for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
  // Each round in another order, so drift on a shared machine hits every variant alike.
  const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
  for (const name of order) {
    const us = await (variants[name] as () => Promise<number>)();
    if (r >= WARMUP_ROUNDS) (samples[name] as number[]).push(us);
  }
}
await tracerProvider.shutdown();
const m = (name: string) => median(samples[name] as number[]);
const figures = {
  bareCallUs: Number(m('bare').toFixed(2)),
  adapterCallUs: Number(m('adapter').toFixed(2)),
  adapterRatio: Number((m('adapter') / m('bare')).toFixed(2)),
  scriptedRunUs: Math.round(m('scriptedRun')),
  aiSdkRunUs: Math.round(m('aiSdkRun')),
  aiSdkRunRatio: Number((m('aiSdkRun') / m('scriptedRun')).toFixed(2)),
  fallbackRunUs: Math.round(m('fallbackRun')),
  fallbackRunRatio: Number((m('fallbackRun') / m('scriptedRun')).toFixed(2)),
};
console.log(`adapter: bare doGenerate ${figures.bareCallUs} µs, through aiSdk() ${figures.adapterCallUs} µs per call (x${figures.adapterRatio}; median of ${ROUNDS} rounds of ${CALLS_PER_ROUND})`);
console.log(`traced run: scripted model ${figures.scriptedRunUs} µs, aiSdk() model ${figures.aiSdkRunUs} µs (x${figures.aiSdkRunRatio}), fallback() whose first model answers ${figures.fallbackRunUs} µs (x${figures.fallbackRunRatio})`);
console.log('BENCH_JSON');
console.log(JSON.stringify(figures));
