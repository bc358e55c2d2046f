/**
 * One worker of the queue tests, spawned by tests/serve/redis-queue.test.ts as
 * `node --import tsx tests/serve/queue-worker.ts '<json QueueWorkerConfig>'`.
 *
 * It takes messages `{ n, slowMs? }` from a {@link redisQueueInput}, runs a scripted agent on each
 * (one `work` tool call that sleeps `slowMs`, then a final answer), pushes `<n>:<pid>` to the
 * Redis list `doneKey` when a run finished, and delivers the outcome to a
 * {@link redisStreamOutput} before answering the input (which then acks).
 *
 * Stdout lines: `ready` once reading, `start <n>` when a run begins, `stopped <ms>` after a `stop`
 * line on stdin (how long `input.stop()` took). It exits once its in-flight runs are settled.
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { redisQueueInput } from '../../src/serve/inputs/redis-queue.js';
import { redisStreamOutput } from '../../src/serve/outputs/redis-stream.js';
import type { Dispatcher, InboundMessage, RunOutcome } from '../../src/serve/types.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

/** What the test passes as argv[2] (JSON). Durations in ms. */
export interface QueueWorkerConfig {
  url: string;
  stream: string;
  group: string;
  outputStream: string;
  doneKey: string;
  claimAfterMs: number;
  blockMs: number;
  batch: number;
}

const config = JSON.parse(process.argv[2] as string) as QueueWorkerConfig;
const Payload = z.object({ n: z.number().int(), slowMs: z.number().nonnegative().optional() });

const work = tool({
  name: 'work',
  description: 'Works for a while.',
  parameters: z.object({ ms: z.number() }),
  execute: async ({ ms }) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return 'worked';
  },
});
const model = scriptedModel({
  respond: (request) => {
    const input = Payload.parse(JSON.parse(request.messages.find((m) => m.role === 'user')?.content ?? ''));
    return request.messages.some((m) => m.role === 'tool')
      ? { text: `done ${input.n}` }
      : { toolCalls: [{ id: `call_${input.n}`, name: 'work', arguments: { ms: input.slowMs ?? 0 } }] };
  },
});
const worker = agent({ name: 'queue-worker', instructions: 'Work.', model, tools: [work] });
const runtime = createRuntime();

const redis = new Redis(config.url);
const output = redisStreamOutput({ url: config.url, stream: config.outputStream });
const input = redisQueueInput({
  url: config.url,
  stream: config.stream,
  group: config.group,
  claimAfterMs: config.claimAfterMs,
  blockMs: config.blockMs,
  batch: config.batch,
});

const inFlight = new Set<Promise<RunOutcome>>();
async function run(message: InboundMessage): Promise<RunOutcome> {
  const parsed = Payload.safeParse(message.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, message, error: { type: 'ValidationError', message: issue?.message ?? 'invalid', field: issue?.path.join('.') } };
  }
  process.stdout.write(`start ${parsed.data.n}\n`);
  const result = await runtime.run(worker, JSON.stringify(parsed.data), { context: message.parentContext });
  await redis.rpush(config.doneKey, `${parsed.data.n}:${process.pid}`);
  return { ok: true, message, result };
}
/** As the server does: the outcome reaches the outputs before the input learns it (and acks). */
const dispatcher: Dispatcher = {
  dispatch(message) {
    const outcome = run(message).then(async (result) => {
      await output.deliver(result);
      return result;
    });
    inFlight.add(outcome);
    const forget = () => inFlight.delete(outcome);
    outcome.then(forget, forget);
    return outcome;
  },
};

await input.start(dispatcher);
process.stdout.write('ready\n');

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() !== 'stop') return;
  lines.close();
  process.stdin.destroy();
  const started = Date.now();
  await input.stop();
  process.stdout.write(`stopped ${Date.now() - started}\n`);
  await Promise.allSettled([...inFlight]);
  await output.stop?.();
  await redis.quit();
});
