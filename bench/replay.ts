/**
 * What replay costs against running the agent: a 100-step run (99 steps with one tool call each,
 * then the answer) on a scripted model is recorded to a temp trace file once; then, in
 * alternating rounds, the same agent is replayed against that recording (`replayRun`, the
 * recording parsed once; and `replayTrace`, which also reads and parses the file) and run on the
 * scripted model, both untraced (`createRuntime`, the replay default). Replay compares every
 * request with the recorded one, so its extra work grows with the conversation.
 *
 * Run with `npm run bench:replay`. Prints a table (median µs per run), then a `BENCH_JSON` line
 * followed by the figures as one JSON line. Target: replay <= 2x the scripted run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { agent } from '../src/agent.js';
import { readRecording } from '../src/replay/read.js';
import { replayRun, replayTrace } from '../src/replay/replay.js';
import { createRuntime } from '../src/create-runtime.js';
import { recordRun } from '../src/testing/record.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import { median } from './stats.js';
import { add } from './scenario.js';

const STEPS = 100;
const WARMUP_ROUNDS = 5;
const ROUNDS = 40;
const TARGET_RATIO = 2;

/** One `add` call per step, then the answer at step {@link STEPS}. */
const model = scriptedModel({
  provider: 'openai',
  modelId: 'gpt-4o-mini',
  respond: (request) => {
    const done = request.messages.filter((m) => m.role === 'tool').length;
    const usage = { inputTokens: 100 + 10 * done, outputTokens: 20 };
    return done < STEPS - 1
      ? { toolCalls: [{ id: `call_${done + 1}`, name: 'add', arguments: { a: done, b: 1 } }], usage }
      : { text: `Counted to ${done}.`, usage };
  },
});

const counter = agent({ name: 'counter', instructions: 'Count with the add tool.', model, tools: [add], budget: { maxSteps: STEPS, maxToolCalls: STEPS } });
const INPUT = 'Count to 99.';


async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) * 1_000;
}

const dir = await mkdtemp(join(os.tmpdir(), 'tracebound-bench-replay-'));
try {
  const traceFile = join(dir, 'recording.jsonl');
  const recorded = await recordRun(counter, INPUT, { traceFile });
  if (recorded.result.steps !== STEPS) throw new Error(`the recorded run took ${recorded.result.steps} steps, expected ${STEPS}`);
  const [run] = await readRecording(traceFile);
  if (!run) throw new Error('nothing recorded');

  const runtime = createRuntime();
  const variants = {
    scripted: () => runtime.run(counter, INPUT),
    replayRun: async () => {
      const replay = await replayRun(run, counter);
      if (!replay.matched) throw new Error(replay.report);
    },
    replayTrace: () => replayTrace(traceFile, counter),
  };
  const samples: Record<keyof typeof variants, number[]> = { scripted: [], replayRun: [], replayTrace: [] };
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    // Alternate the order each round so neither variant always runs on a warmer heap.
    const order = (Object.keys(variants) as (keyof typeof variants)[])[round % 2 ? 'reverse' : 'slice']();
    for (const name of order) {
      const us = await timed(variants[name]);
      if (round >= WARMUP_ROUNDS) samples[name].push(us);
    }
  }

  const us = {
    scripted: median(samples.scripted),
    replayRun: median(samples.replayRun),
    replayTrace: median(samples.replayTrace),
  };
  const ratio = us.replayRun / us.scripted;
  const ratioWithRead = us.replayTrace / us.scripted;
  const rows = [
    ['scripted model run', us.scripted, 1],
    ['replayRun (recording parsed once)', us.replayRun, ratio],
    ['replayTrace (reads the file too)', us.replayTrace, ratioWithRead],
  ] as const;
  console.log(`replay vs scripted run: ${STEPS} steps, ${STEPS - 1} tool calls, ${ROUNDS} rounds (median), node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}`);
  console.log('variant                              µs/run     ratio');
  for (const [label, value, r] of rows) console.log(`${label.padEnd(36)} ${value.toFixed(0).padStart(8)}  ${r.toFixed(2).padStart(6)}x`);
  console.log(`target: replayRun <= ${TARGET_RATIO}x the scripted run: ${ratio <= TARGET_RATIO ? 'met' : 'NOT met'}`);
  console.log('BENCH_JSON');
  console.log(
    JSON.stringify({
      bench: 'replay',
      steps: STEPS,
      rounds: ROUNDS,
      usPerRun: { scripted: Math.round(us.scripted), replayRun: Math.round(us.replayRun), replayTrace: Math.round(us.replayTrace) },
      ratio: Number(ratio.toFixed(3)),
      ratioWithRead: Number(ratioWithRead.toFixed(3)),
      targetRatio: TARGET_RATIO,
      met: ratio <= TARGET_RATIO,
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
