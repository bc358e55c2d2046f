/**
 * What tracebound's runtime and tracing cost per step, against a hand-written traced loop doing
 * the same work. The model answers at once, so the figures are pure runtime overhead.
 *
 * Run with `npm run bench` (node --expose-gc, needed for the heap figures). Prints a table, then a
 * `BENCH_JSON` line followed by the figures as one JSON line.
 */
import { createHook } from 'node:async_hooks';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { z } from 'zod';
import { agent } from '../src/agent.js';
import type { Message } from '../src/messages.js';
import type { ModelResponse } from '../src/providers/model.js';
import { createRuntime } from '../src/create-runtime.js';
import type { Runtime } from '../src/runtime/runtime.js';
import type { ScriptedModel } from '../src/testing/scripted-model.js';
import { AGENT_NAME, BATCH, INPUT, INSTRUCTIONS, makeModel, useContextManager } from './scenario.js';
import { tool } from '../src/tool.js';
import { ATTR } from '../src/tracing/attributes.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { median, rotate } from './stats.js';

const STEPS_PER_RUN = 3;
/** Per run: 1 run + 3 step + 3 chat + 3 tool spans (2 parallel tools in step 1, 1 in step 2). */
const EXPECTED_SPANS = { run: 1, step: 3, chat: 3, tool: 3 } as const;
const SPANS_PER_RUN = Object.values(EXPECTED_SPANS).reduce((a, b) => a + b, 0);
const WARMUP_ROUNDS = 3;
const ROUNDS = 12;
const SEQUENTIAL_RUNS = 300;
const CONCURRENCY = 100;
const CONCURRENT_REPEATS = 5;
const HEAP_IN_FLIGHT = 1000;
/** Sequential runs over which promises are counted and allocation is sampled. */
const COUNTED_RUNS = 500;
const TARGET = { tracedOverBare: 1.5, untracedUsPerStep: 10, heapOverBare: 1.5, spansLost: 0 } as const;
/**
 * Every tracebound variant runs with budget checks on, as the goal states: a run cost limit makes
 * the guard count, reserve and settle around every model call (far above what a run spends, so
 * no call is lowered and the span shape stays the same).
 */
const BUDGET = { maxSteps: 10, maxToolCalls: 20, runCostUsd: 1 } as const;


/** While set, every tool call waits on it: the heap measurement parks runs in step 1. */
let gate: Promise<void> | undefined;
let parked = 0;

const add = tool({
  name: 'add',
  description: 'Adds two numbers.',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: async ({ a, b }) => {
    if (gate) {
      parked++;
      await gate;
    }
    return a + b;
  },
});
const TOOLS = [add];


/**
 * The baseline: what a careful hand-written loop does. It records run, step, chat and
 * execute_tool spans (active, so a tool's own spans would nest) with the operation, agent, model,
 * tool name/id and token usage attributes; it does no pricing, hooks, events, retries, abort or
 * timeout handling, and no budget checks beyond a step cap.
 */
const NEVER_ABORTED = new AbortController().signal;

function bareLoop(tracer: Tracer, model: ScriptedModel): () => Promise<string> {
  const byName = new Map(TOOLS.map((t) => [t.name, t]));
  const definitions = TOOLS.map((t) => t.definition);

  const runTool = (call: { id: string; name: string; arguments: unknown }) =>
    tracer.startActiveSpan(
      `execute_tool ${call.name}`,
      { attributes: { [ATTR.operationName]: 'execute_tool', [ATTR.toolName]: call.name, [ATTR.toolCallId]: call.id } },
      async (span) => {
        try {
          const t = byName.get(call.name);
          if (!t) return { content: `Unknown tool "${call.name}"`, isError: true };
          const parsed = t.parameters.safeParse(call.arguments);
          if (!parsed.success) return { content: parsed.error.message, isError: true };
          const result = await t.execute(parsed.data, { signal: NEVER_ABORTED, toolCallId: call.id });
          return { content: typeof result === 'string' ? result : JSON.stringify(result), isError: false };
        } finally {
          span.end();
        }
      },
    );

  const step = async (messages: Message[], totals: { input: number; output: number }): Promise<string | undefined> => {
    const response: ModelResponse = await tracer.startActiveSpan(
      `chat ${model.modelId}`,
      { kind: SpanKind.CLIENT, attributes: { [ATTR.operationName]: 'chat', [ATTR.requestModel]: model.modelId } },
      async (span) => {
        try {
          const r = await model.generate({ system: INSTRUCTIONS, messages: [...messages], tools: definitions });
          span.setAttributes({ [ATTR.usageInputTokens]: r.usage.inputTokens, [ATTR.usageOutputTokens]: r.usage.outputTokens });
          return r;
        } finally {
          span.end();
        }
      },
    );
    totals.input += response.usage.inputTokens;
    totals.output += response.usage.outputTokens;
    messages.push({ role: 'assistant', content: response.text, ...(response.toolCalls.length ? { toolCalls: response.toolCalls } : {}) });
    if (response.toolCalls.length === 0) return response.text;
    const outcomes = await Promise.all(response.toolCalls.map(runTool));
    response.toolCalls.forEach((call, i) => {
      const outcome = outcomes[i]!;
      messages.push({ role: 'tool', toolCallId: call.id, toolName: call.name, content: outcome.content, ...(outcome.isError ? { isError: true } : {}) });
    });
    return undefined;
  };

  return () =>
    tracer.startActiveSpan(
      `invoke_agent ${AGENT_NAME}`,
      { attributes: { [ATTR.operationName]: 'invoke_agent', [ATTR.agentName]: AGENT_NAME } },
      async (runSpan) => {
        const messages: Message[] = [{ role: 'user', content: INPUT }];
        const totals = { input: 0, output: 0 };
        try {
          for (let index = 1; index <= 10; index++) {
            const output = await tracer.startActiveSpan(`step ${index}`, async (stepSpan) => {
              try {
                return await step(messages, totals);
              } finally {
                stepSpan.end();
              }
            });
            if (output !== undefined) {
              runSpan.setAttributes({ [ATTR.usageInputTokens]: totals.input, [ATTR.usageOutputTokens]: totals.output, [ATTR.steps]: index });
              return output;
            }
          }
          throw new Error('max steps');
        } catch (error) {
          runSpan.recordException(error as Error);
          runSpan.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          runSpan.end();
        }
      },
    );
}

interface SpanTally {
  run: number;
  step: number;
  chat: number;
  tool: number;
  other: number;
}

interface Variant {
  key: string;
  label: string;
  run: () => Promise<unknown>;
  model: ScriptedModel;
  /** Exports every ended span (part of the timed work: the export is tracing's cost too). */
  flush: () => Promise<void>;
  /** Counts and forgets the exported spans; outside the timed window. */
  drain: () => SpanTally;
  traced: boolean;
  contextManager: boolean;
  runsStarted: number;
  exported: SpanTally;
}

function emptyTally(): SpanTally {
  return { run: 0, step: 0, chat: 0, tool: 0, other: 0 };
}

function kindOf(name: string): keyof SpanTally {
  if (name.startsWith('invoke_agent ')) return 'run';
  if (name.startsWith('step ')) return 'step';
  if (name.startsWith('chat ')) return 'chat';
  if (name.startsWith('execute_tool ')) return 'tool';
  return 'other';
}

function sdkPipeline() {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, BATCH)] });
  return {
    provider,
    flush: () => provider.forceFlush(),
    drain: (): SpanTally => {
      const tally = emptyTally();
      for (const span of exporter.getFinishedSpans()) tally[kindOf(span.name)]++;
      exporter.reset();
      return tally;
    },
  };
}

type Setting = Pick<Variant, 'key' | 'label' | 'traced' | 'contextManager'>;

function variant(setting: Setting, make: (model: ScriptedModel) => Pick<Variant, 'run' | 'flush' | 'drain'>): Variant {
  const model = makeModel();
  return { ...setting, model, runsStarted: 0, exported: emptyTally(), ...make(model) };
}

function tracedVariant(key: string, label: string, captureContent: boolean): Variant {
  return variant({ key, label, traced: true, contextManager: true }, (model) => {
    const sdk = sdkPipeline();
    const runtime = tracedRuntime({ tracerProvider: sdk.provider, captureContent });
    const a = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model, tools: TOOLS, budget: BUDGET });
    return { run: () => runtime.run(a, INPUT), flush: sdk.flush, drain: sdk.drain };
  });
}

function untracedVariant(key: string, label: string, contextManager: boolean, make: () => Runtime = createRuntime): Variant {
  return variant({ key, label, traced: false, contextManager }, (model) => {
    const runtime = make();
    const a = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model, tools: TOOLS, budget: BUDGET });
    return { run: () => runtime.run(a, INPUT), flush: async () => {}, drain: emptyTally };
  });
}

const variants: Variant[] = [
  variant({ key: 'bare', label: 'bare loop + OTel SDK', traced: true, contextManager: true }, (model) => {
    const sdk = sdkPipeline();
    return { run: bareLoop(sdk.provider.getTracer('bench-bare'), model), flush: sdk.flush, drain: sdk.drain };
  }),
  tracedVariant('traced', 'tracebound traced', false),
  tracedVariant('tracedContent', 'tracebound traced, content', true),
  untracedVariant('untraced', "tracebound exporter 'none'", false, () => tracedRuntime({ exporter: 'none' })),
  untracedVariant('untracedCm', 'tracebound untraced, ALS ctx', true),
];

/** Ends a block: tallies the spans and drops the requests the scripted model keeps (else they pile up). */
function settle(v: Variant): void {
  const tally = v.drain();
  for (const k of Object.keys(tally) as (keyof SpanTally)[]) v.exported[k] += tally[k];
  v.model.requests.length = 0;
}

/** One timed block, per step: wall time, and the CPU time of the whole process (GC threads included) in µs. */
interface Timing {
  wall: number;
  cpu: number;
}

/**
 * Times `block` (which makes `runs` runs, then exports their spans). CPU time is what the process
 * itself spent: on a machine other processes load, wall time also counts waiting for a core,
 * CPU time does not.
 */
async function timed(v: Variant, runs: number, block: () => Promise<void>): Promise<Timing> {
  useContextManager(v.contextManager);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await block();
  await v.flush();
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(cpu);
  v.runsStarted += runs;
  settle(v);
  const steps = runs * STEPS_PER_RUN;
  return { wall: (elapsed * 1000) / steps, cpu: (used.user + used.system) / steps };
}

function sequential(v: Variant): Promise<Timing> {
  return timed(v, SEQUENTIAL_RUNS, async () => {
    for (let i = 0; i < SEQUENTIAL_RUNS; i++) await v.run();
  });
}

function concurrent(v: Variant): Promise<Timing> {
  return timed(v, CONCURRENCY * CONCURRENT_REPEATS, async () => {
    for (let r = 0; r < CONCURRENT_REPEATS; r++) {
      await Promise.all(Array.from({ length: CONCURRENCY }, () => v.run()));
    }
  });
}

function heapUsed(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** Bytes of heap one run holds while parked in its step-1 tool calls, ended spans already exported. */
async function heapPerRun(v: Variant): Promise<number | undefined> {
  if (!globalThis.gc) return undefined;
  useContextManager(v.contextManager);
  await v.flush();
  settle(v);
  const idle = heapUsed();
  let release = () => {};
  gate = new Promise<void>((resolve) => (release = resolve));
  parked = 0;
  const runs = Array.from({ length: HEAP_IN_FLIGHT }, () => v.run());
  while (parked < HEAP_IN_FLIGHT * 2) await new Promise((resolve) => setImmediate(resolve));
  await v.flush();
  settle(v);
  const busy = heapUsed();
  gate = undefined;
  release();
  await Promise.all(runs);
  await v.flush();
  v.runsStarted += HEAP_IN_FLIGHT;
  settle(v);
  return (busy - idle) / HEAP_IN_FLIGHT;
}


/**
 * Promises created and bytes allocated per sequential run. Both are counts, not times, so load on
 * the machine does not move them: they show what a change did when the timings are too noisy to.
 * Allocation is V8's sampling heap profiler (every 256 bytes on average), freed objects included.
 */
async function countsPerRun(v: Variant): Promise<{ promises: number; allocatedBytes: number }> {
  useContextManager(v.contextManager);
  let promises = 0;
  const hook = createHook({
    init(_id, type) {
      if (type === 'PROMISE') promises++;
    },
  }).enable();
  for (let i = 0; i < COUNTED_RUNS; i++) await v.run();
  hook.disable();
  await v.flush();
  settle(v);
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  for (let i = 0; i < COUNTED_RUNS; i++) await v.run();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  await v.flush();
  v.runsStarted += 2 * COUNTED_RUNS;
  settle(v);
  let bytes = 0;
  const visit = (node: (typeof profile)['head']): void => {
    bytes += node.selfSize;
    node.children.forEach(visit);
  };
  visit(profile.head);
  return { promises: promises / COUNTED_RUNS, allocatedBytes: bytes / COUNTED_RUNS };
}


async function main(): Promise<void> {
  const seq = new Map<string, Timing[]>(variants.map((v) => [v.key, []]));
  const conc = new Map<string, Timing[]>(variants.map((v) => [v.key, []]));
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    // A different variant goes first each round, so drift (JIT, GC, CPU clock) hits all alike.
    for (const v of rotate(variants, round)) {
      const s = await sequential(v);
      const c = await concurrent(v);
      if (round >= WARMUP_ROUNDS) {
        seq.get(v.key)!.push(s);
        conc.get(v.key)!.push(c);
      }
    }
  }
  const heap = new Map<string, number | undefined>();
  for (const v of variants) heap.set(v.key, await heapPerRun(v));
  const counts = new Map<string, { promises: number; allocatedBytes: number }>();
  for (const v of variants) counts.set(v.key, await countsPerRun(v));

  const walls = (timings: Timing[]) => timings.map((t) => t.wall);
  const cpus = (timings: Timing[]) => timings.map((t) => t.cpu);
  const figures = variants.map((v) => {
    const expected = v.traced ? v.runsStarted * SPANS_PER_RUN : 0;
    const exported = v.exported.run + v.exported.step + v.exported.chat + v.exported.tool + v.exported.other;
    const shapeOk =
      !v.traced ||
      (Object.keys(EXPECTED_SPANS) as (keyof typeof EXPECTED_SPANS)[]).every((k) => v.exported[k] === v.runsStarted * EXPECTED_SPANS[k]);
    return {
      variant: v.key,
      label: v.label,
      sequentialUsPerStep: median(walls(seq.get(v.key)!)),
      sequentialUsPerStepMin: Math.min(...walls(seq.get(v.key)!)),
      sequentialCpuUsPerStep: median(cpus(seq.get(v.key)!)),
      concurrentUsPerStep: median(walls(conc.get(v.key)!)),
      concurrentUsPerStepMin: Math.min(...walls(conc.get(v.key)!)),
      concurrentCpuUsPerStep: median(cpus(conc.get(v.key)!)),
      heapBytesPerInFlightRun: heap.get(v.key),
      promisesPerRun: counts.get(v.key)!.promises,
      allocatedBytesPerRun: counts.get(v.key)!.allocatedBytes,
      runs: v.runsStarted,
      spansExpected: expected,
      spansExported: exported,
      spansLost: expected - exported,
      spanShapeOk: shapeOk,
      spansByKind: v.exported,
    };
  });
  const get = (key: string) => figures.find((f) => f.variant === key)!;
  /**
   * Paired: each round's time of `key` over the bare loop's in the same round (run back to back),
   * then the median over rounds, so load that comes and goes hits both sides of each ratio alike.
   */
  const paired = (timings: Map<string, Timing[]>, key: string, of: (t: Timing) => number) =>
    median(timings.get(key)!.map((t, round) => of(t) / of(timings.get('bare')![round]!)));
  const ratio = (key: string) => ({
    sequential: paired(seq, key, (t) => t.wall),
    concurrent: paired(conc, key, (t) => t.wall),
    sequentialCpu: paired(seq, key, (t) => t.cpu),
    concurrentCpu: paired(conc, key, (t) => t.cpu),
  });
  const ratios = { traced: ratio('traced'), tracedContent: ratio('tracedContent') };
  const untraced = get('untraced');
  const untracedCm = get('untracedCm');
  const lost = figures.reduce((sum, f) => sum + f.spansLost, 0);
  const heapRatio = (get('traced').heapBytesPerInFlightRun ?? NaN) / (get('bare').heapBytesPerInFlightRun ?? NaN);
  const verdict = {
    heapOverBare: heapRatio <= TARGET.heapOverBare,
    tracedOverBare: Math.max(ratios.traced.sequential, ratios.traced.concurrent) <= TARGET.tracedOverBare,
    untracedUsPerStep: Math.max(untraced.sequentialUsPerStep, untraced.concurrentUsPerStep) <= TARGET.untracedUsPerStep,
    spansLost: lost === TARGET.spansLost && figures.every((f) => f.spanShapeOk),
  };

  const env = {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    exposeGc: Boolean(globalThis.gc),
    rounds: ROUNDS,
    warmupRounds: WARMUP_ROUNDS,
    sequentialRunsPerRound: SEQUENTIAL_RUNS,
    concurrency: CONCURRENCY,
    concurrentRepeatsPerRound: CONCURRENT_REPEATS,
    heapInFlightRuns: HEAP_IN_FLIGHT,
    stepsPerRun: STEPS_PER_RUN,
    spansPerRun: SPANS_PER_RUN,
    batchSpanProcessor: BATCH,
  };

  const us = (n: number) => n.toFixed(2).padStart(8);
  const kb = (n: number | undefined) => (n === undefined ? '     n/a' : (n / 1024).toFixed(2).padStart(8));
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  console.log(`tracebound overhead: ${env.node}, ${env.cpu} x${env.cpus}`);
  console.log(
    `scenario: 3 steps (2 parallel tool calls, 1 tool call, final answer), ${SPANS_PER_RUN} spans/run; ` +
      `${ROUNDS} rounds (+${WARMUP_ROUNDS} warm-up), order rotated each round; medians (min)`,
  );
  console.log(`sequential: ${SEQUENTIAL_RUNS} runs one after another; concurrent: ${CONCURRENT_REPEATS} x Promise.all of ${CONCURRENCY} runs; span export (forceFlush) included in the time`);
  console.log('cpu: CPU time of the process (all its threads, GC included) per step; ratios: the median over rounds of each round\'s time over the bare loop\'s');
  console.log('bare loop records run, step, chat and execute_tool spans with a few attributes; no pricing, hooks, events, retries or abort handling');
  console.log('every tracebound variant has budget checks on (runCostUsd, maxSteps, maxToolCalls)');
  console.log(`an AsyncLocalStorage context manager is registered for bare, traced and "ALS ctx" runs; none for exporter 'none' (a process without the OTel SDK)\n`);
  console.log('variant                         seq µs/step (min)   cpu     conc µs/step (min)   cpu    heap KiB/run   spans lost');
  for (const f of figures) {
    console.log(
      `${f.label.padEnd(30)} ${us(f.sequentialUsPerStep)} (${us(f.sequentialUsPerStepMin)}) ${us(f.sequentialCpuUsPerStep)}  ${us(f.concurrentUsPerStep)} (${us(f.concurrentUsPerStepMin)}) ${us(f.concurrentCpuUsPerStep)}  ${kb(f.heapBytesPerInFlightRun)}   ${String(f.spansLost).padStart(6)} of ${f.spansExpected}${f.spanShapeOk ? '' : ' (wrong span shape)'}`,
    );
  }
  console.log('');
  const times = (r: (typeof ratios)['traced']) =>
    `seq ${r.sequential.toFixed(2)}x, conc ${r.concurrent.toFixed(2)}x (CPU time: seq ${r.sequentialCpu.toFixed(2)}x, conc ${r.concurrentCpu.toFixed(2)}x)`;
  console.log(`traced / bare, per step:           ${times(ratios.traced)}   target <= ${TARGET.tracedOverBare}x   ${mark(verdict.tracedOverBare)}`);
  console.log(`traced+content / bare, per step:   ${times(ratios.tracedContent)}   (no target)`);
  console.log(
    `exporter 'none', per step:         seq ${untraced.sequentialUsPerStep.toFixed(2)} µs, conc ${untraced.concurrentUsPerStep.toFixed(2)} µs (CPU time: ${untraced.sequentialCpuUsPerStep.toFixed(2)}, ${untraced.concurrentCpuUsPerStep.toFixed(2)} µs)   target <= ${TARGET.untracedUsPerStep} µs   ${mark(verdict.untracedUsPerStep)}`,
  );
  console.log(`untraced with ALS ctx, per step:   seq ${untracedCm.sequentialUsPerStep.toFixed(2)} µs, conc ${untracedCm.concurrentUsPerStep.toFixed(2)} µs (CPU time: ${untracedCm.sequentialCpuUsPerStep.toFixed(2)}, ${untracedCm.concurrentCpuUsPerStep.toFixed(2)} µs)   (no target)`);
  console.log(`heap per in-flight run, traced / bare: ${heapRatio.toFixed(2)}x   target <= ${TARGET.heapOverBare}x   ${mark(verdict.heapOverBare)}`);
  console.log(`spans lost (all variants):         ${lost}   target ${TARGET.spansLost}   ${mark(verdict.spansLost)}`);
  console.log(`\nper run over ${COUNTED_RUNS} sequential runs (counts, not times: load does not move them; allocation sampled by V8's heap profiler, freed objects included)`);
  for (const f of figures) {
    console.log(`${f.label.padEnd(30)} ${f.promisesPerRun.toFixed(1).padStart(7)} promises  ${kb(f.allocatedBytesPerRun)} KiB allocated`);
  }
  const bare = get('bare');
  console.log(`traced / bare: promises ${(get('traced').promisesPerRun / bare.promisesPerRun).toFixed(2)}x, allocation ${(get('traced').allocatedBytesPerRun / bare.allocatedBytesPerRun).toFixed(2)}x   (no target)`);
  if (!env.exposeGc) console.log('heap per run: n/a (run node with --expose-gc, as `npm run bench` does)');
  else console.log(`heap per run: heapUsed with ${HEAP_IN_FLIGHT} runs parked in step 1 minus idle, after gc, / ${HEAP_IN_FLIGHT}`);
  console.log('BENCH_JSON');
  console.log(JSON.stringify({ benchmark: 'overhead', env, targets: TARGET, figures, ratios, heapRatio, verdict }));
}

await main();
