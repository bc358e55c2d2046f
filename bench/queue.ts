/**
 * Jobs per second of `serve` with the BullMQ input (`bullmqInput`) against a bare BullMQ `Worker`
 * whose processor runs the same scripted agent (one tool call, then the answer) through the same
 * runtime, in the same invocation, on one throwaway redis-server. Each round queues `JOBS` jobs
 * first, then starts the variant and times it from start to the last completed job, so both
 * measure taking, running and completing jobs, nothing else.
 *
 * Run with `npm run bench:queue` (needs `redis-server`). Prints a table, then a `BENCH_JSON` line
 * followed by the figures as one JSON line.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { z } from 'zod';
import { agent } from '../src/agent.js';
import { createRuntime } from '../src/create-runtime.js';
import { bullmqInput, enqueueRun } from '../src/serve/inputs/bullmq.js';
import { resultJson, serve } from '../src/serve/serve.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import { tool } from '../src/tool.js';
import { startRedis } from '../tests/support/redis.js';
import { median, rotate } from './stats.js';

const JOBS = 2_000;
const CONCURRENCY = 16;
const ROUNDS = 7;

const work = tool({ name: 'work', description: 'Works.', parameters: z.object({ n: z.number() }), execute: async () => 'worked' });
const model = scriptedModel({
  respond: (request) =>
    request.messages.some((m) => m.role === 'tool') ? { text: 'done' } : { toolCalls: [{ id: 'call_1', name: 'work', arguments: { n: 1 } }] },
});
const worker = agent({ name: 'bench-queue', instructions: 'Work.', model, tools: [work] });
const runtime = createRuntime();

const redis = await startRedis();
const connection = { url: redis.url };

/** Queues `JOBS` runs on a fresh queue; resolves with the queue. */
async function filled(name: string): Promise<Queue> {
  const queue = new Queue(name, { connection });
  for (let i = 0; i < JOBS; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => enqueueRun(queue, { input: `job ${i + k}` }, { runId: `${name}-${i + k}` })));
  }
  return queue;
}

/** Resolves once the queue has `JOBS` completed jobs (polled every 10 ms, the same for both variants). */
async function allCompleted(queue: Queue): Promise<void> {
  while ((await queue.getJobCountByTypes('completed')) < JOBS) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Seconds `serve` with the BullMQ input takes for the queue's jobs. */
async function viaServe(queue: Queue): Promise<number> {
  const server = serve({ agent: worker, runtime, inputs: [bullmqInput({ url: redis.url, queue: queue.name })], concurrency: CONCURRENCY });
  const began = performance.now();
  await server.start();
  await allCompleted(queue);
  const seconds = (performance.now() - began) / 1_000;
  await server.stop();
  return seconds;
}

/** Seconds a bare BullMQ worker running the same run takes for the queue's jobs. */
async function bare(queue: Queue): Promise<number> {
  const began = performance.now();
  const w = new Worker(
    queue.name,
    async (job) => resultJson(await runtime.run(worker, String((job.data as { input: string }).input), { runId: job.id })),
    { connection, concurrency: CONCURRENCY },
  );
  await allCompleted(queue);
  const seconds = (performance.now() - began) / 1_000;
  await w.close();
  return seconds;
}

const variants = { serve: viaServe, bare } as const;
const seconds: Record<keyof typeof variants, number[]> = { serve: [], bare: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of rotate(Object.keys(variants) as (keyof typeof variants)[], round)) {
      const queue = await filled(`bench-${name}-${round}`);
      seconds[name].push(await variants[name](queue));
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }
} finally {
  await redis.stop();
}

const rate = (name: keyof typeof variants) => JOBS / median(seconds[name]);
const figures = {
  jobs: JOBS,
  concurrency: CONCURRENCY,
  rounds: ROUNDS,
  cpus: os.cpus().length,
  serveJobsPerSecond: Math.round(rate('serve')),
  bareJobsPerSecond: Math.round(rate('bare')),
  bareOverServe: Number((rate('bare') / rate('serve')).toFixed(2)),
  perRound: { serve: seconds.serve.map((s) => Math.round(JOBS / s)), bare: seconds.bare.map((s) => Math.round(JOBS / s)) },
};
console.log(`variant  jobs/s (median of ${ROUNDS} rounds of ${JOBS} jobs, concurrency ${CONCURRENCY})`);
console.log(`serve    ${figures.serveJobsPerSecond}   per round ${figures.perRound.serve.join(', ')}`);
console.log(`bare     ${figures.bareJobsPerSecond}   per round ${figures.perRound.bare.join(', ')}`);
console.log(`bare / serve: ${figures.bareOverServe}x`);
console.log('BENCH_JSON');
console.log(JSON.stringify(figures));
