/**
 * What a sub-agent call (`agent.asTool()`) costs over an in-process function tool, in the same
 * traced runtime and the same process: a parent run of 2 steps whose first step calls `lookup`
 * once, where `lookup` is either a plain tool or a one-step sub-agent answering the same text.
 * Models answer at once, so the figures are runtime overhead: the sub-run adds a run span, a step
 * span and a chat span, its events and a model call through the whole chain.
 *
 * Run with `npm run bench:subagent`. Prints per-run medians, the ratio and the extra µs per sub-agent
 * call, then a `BENCH_JSON` line with the figures.
 */
import { performance } from 'node:perf_hooks';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { agent, type Agent } from '../src/agent.js';
import { memoryStore } from '../src/state/memory.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import { tool } from '../src/tool.js';
import { BATCH } from './scenario.js';
import { median } from './stats.js';

const RUNS_PER_ROUND = 500;
const WARMUP_ROUNDS = 3;
const ROUNDS = 12;
const usage = { inputTokens: 100, outputTokens: 20 };

/** A parent model: step 1 calls `lookup`, step 2 answers. */
const parentModel = () =>
  scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) =>
      request.messages.at(-1)?.role === 'tool'
        ? { text: 'done', usage }
        : { toolCalls: [{ id: 'c1', name: 'lookup', arguments: { input: 'owls' } }], usage },
  });

const exporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, BATCH)] });
const runtime = tracedRuntime({ tracerProvider, store: memoryStore() });

const functionTool = tool({ name: 'lookup', description: 'Looks up a topic.', parameters: z.object({ input: z.string() }), execute: ({ input }) => `found ${input}` });
const helper = agent({
  name: 'helper',
  instructions: 'Look it up.',
  model: scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: (request) => ({ text: `found ${String(request.messages[0]?.content)}`, usage }) }),
});
const variants: Record<'function' | 'subAgent', Agent> = {
  function: agent({ name: 'lead', instructions: 'Lead.', model: parentModel(), tools: [functionTool] }),
  subAgent: agent({ name: 'lead', instructions: 'Lead.', model: parentModel(), tools: [helper.asTool({ name: 'lookup', description: 'Looks up a topic.' })] }),
};

/** µs per parent run, running `RUNS_PER_ROUND` runs one after the other. */
async function round(a: Agent): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < RUNS_PER_ROUND; i++) {
    const result = await runtime.run(a, 'Go');
    if (result.output !== 'done' || result.messages[2]?.content !== 'found owls') throw new Error('unexpected run result');
  }
  const us = ((performance.now() - started) * 1000) / RUNS_PER_ROUND;
  exporter.reset();
  return us;
}

const samples: Record<keyof typeof variants, number[]> = { function: [], subAgent: [] };
for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
  // Alternated, so drift on a shared machine hits both alike.
  const order = r % 2 === 0 ? (['function', 'subAgent'] as const) : (['subAgent', 'function'] as const);
  for (const name of order) {
    const us = await round(variants[name]);
    if (r >= WARMUP_ROUNDS) samples[name].push(us);
  }
}
await tracerProvider.shutdown();
const fn = median(samples.function);
const sub = median(samples.subAgent);
const figures = { functionToolUsPerRun: Math.round(fn), subAgentUsPerRun: Math.round(sub), ratio: Number((sub / fn).toFixed(2)), extraUsPerSubAgentCall: Math.round(sub - fn) };
console.log(`parent run with a function tool: ${figures.functionToolUsPerRun} µs (median of ${ROUNDS} rounds of ${RUNS_PER_ROUND} runs)`);
console.log(`parent run with a sub-agent:     ${figures.subAgentUsPerRun} µs`);
console.log(`ratio ${figures.ratio}x; a sub-agent call costs ${figures.extraUsPerSubAgentCall} µs more than a function tool call`);
console.log('BENCH_JSON');
console.log(JSON.stringify(figures));
