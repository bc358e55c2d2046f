/**
 * What guardrails cost: the scenario of bench/overhead.ts (3 model calls, 3 tool calls) in a
 * traced runtime, with the same regex PII check on the input and on the answer, written two ways
 * in the same process: by hand around `runtime.run()` (the baseline: no span, no middleware), and
 * as the agent's `guardrails` (each check a `guardrail {name}` span through the chain). Models
 * answer at once, so the difference is the guardrails' own overhead: two middleware checks and
 * two spans a run.
 *
 * Run with `npm run bench:guardrails`. Prints per-run medians, the ratio and the extra µs per
 * check, then a `BENCH_JSON` line with the figures.
 */
import { performance } from 'node:perf_hooks';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { agent, type Agent } from '../src/agent.js';
import type { Guardrail } from '../src/guardrail.js';
import { memoryStore } from '../src/state/memory.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { add, AGENT_NAME, BATCH, INPUT, INSTRUCTIONS, makeModel } from './scenario.js';
import { median } from './stats.js';

const RUNS_PER_ROUND = 300;
const WARMUP_ROUNDS = 3;
const ROUNDS = 12;
const PII = /[\w.+-]+@[\w-]+(\.[\w-]+)+|\b(?:\d[ -]?){13,16}\b/;

const exporter = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, BATCH)] });
const runtime = tracedRuntime({ tracerProvider, store: memoryStore() });

const noPii = (name: string): Guardrail => ({ name, check: (text) => (PII.test(text) ? { ok: false, reason: 'PII' } : { ok: true }) });
const plain = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model: makeModel(), tools: [add] });
const guarded = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model: makeModel(), tools: [add], guardrails: { input: [noPii('in')], output: [noPii('out')] } });

/** The baseline: the same two checks by hand, around the run. */
async function byHand(): Promise<string> {
  if (PII.test(INPUT)) throw new Error('unexpected PII');
  const result = await runtime.run(plain, INPUT);
  if (PII.test(result.output)) throw new Error('unexpected PII');
  return result.output;
}

async function asGuardrails(a: Agent<string>): Promise<string> {
  const result = await runtime.run(a, INPUT);
  if (result.stopReason !== 'final') throw new Error(`unexpected stop ${result.stopReason}`);
  return result.output;
}

const variants = { byHand, guardrails: () => asGuardrails(guarded) };

/** µs per run, running `RUNS_PER_ROUND` runs one after the other. */
async function round(run: () => Promise<string>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < RUNS_PER_ROUND; i++) if ((await run()) !== 'The total is 10.') throw new Error('unexpected answer');
  const us = ((performance.now() - started) * 1000) / RUNS_PER_ROUND;
  exporter.reset();
  return us;
}

const samples: Record<keyof typeof variants, number[]> = { byHand: [], guardrails: [] };
for (let r = 0; r < WARMUP_ROUNDS + ROUNDS; r++) {
  // Alternated, so drift on a shared machine hits both alike.
  const order = r % 2 === 0 ? (['byHand', 'guardrails'] as const) : (['guardrails', 'byHand'] as const);
  for (const name of order) {
    const us = await round(variants[name]);
    if (r >= WARMUP_ROUNDS) samples[name].push(us);
  }
}
await tracerProvider.shutdown();
const hand = median(samples.byHand);
const rails = median(samples.guardrails);
const figures = { byHandUsPerRun: Math.round(hand), guardrailsUsPerRun: Math.round(rails), ratio: Number((rails / hand).toFixed(3)), extraUsPerCheck: Math.round((rails - hand) / 2) };
console.log(`traced run, PII checks by hand:     ${figures.byHandUsPerRun} µs (median of ${ROUNDS} rounds of ${RUNS_PER_ROUND} runs)`);
console.log(`traced run, PII checks as guardrails: ${figures.guardrailsUsPerRun} µs`);
console.log(`ratio ${figures.ratio}, ${figures.extraUsPerCheck} µs more per check (its span and the middleware)`);
console.log('BENCH_JSON');
console.log(JSON.stringify(figures));
