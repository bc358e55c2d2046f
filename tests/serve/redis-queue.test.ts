import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { toUsage } from '../../src/messages.js';
import type { RunResult } from '../../src/runtime/events.js';
import { createRuntime } from '../../src/create-runtime.js';
import { enqueue, redisQueueInput, type DeadLetterEntry } from '../../src/serve/inputs/redis-queue.js';
import { redisStreamOutput } from '../../src/serve/outputs/redis-stream.js';
import { serve } from '../../src/serve/serve.js';
import type { Dispatcher, InboundMessage, RunOutcome } from '../../src/serve/types.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import type { QueueWorkerConfig } from './queue-worker.js';

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  await client.quit();
  await redis.stop();
});

/** A worker process: its stdout lines so far, a wait for a line, and its exit. */
function worker(config: QueueWorkerConfig) {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./queue-worker.ts', import.meta.url)), JSON.stringify(config)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const wake of waiters.splice(0)) wake();
  });
  const line = async (test: (line: string) => boolean): Promise<string> => {
    for (;;) {
      const found = lines.find(test);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async (): Promise<number> => {
    child.stdin.write('stop\n');
    return Number((await line((l) => l.startsWith('stopped '))).slice('stopped '.length));
  };
  return { child, lines, ready: line((l) => l === 'ready'), line, stop, exited };
}
type Worker = ReturnType<typeof worker>;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 8_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const pendingCount = async (stream: string, group: string) => ((await client.xpending(stream, group)) as [number, ...unknown[]])[0];

function config(name: string, overrides: Partial<QueueWorkerConfig> = {}): QueueWorkerConfig {
  return {
    url: redis.url,
    stream: `${name}:in`,
    group: 'workers',
    outputStream: `${name}:out`,
    doneKey: `${name}:done`,
    claimAfterMs: 600,
    blockMs: 1_000,
    batch: 10,
    ...overrides,
  };
}

/** Entries of a stream as field records. */
async function entries(stream: string): Promise<Record<string, string>[]> {
  const raw = await client.xrange(stream, '-', '+');
  return raw.map(([, flat]) => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1] as string]]))));
}

describe('serve: redis queue input (real redis-server)', () => {
  it('two worker processes run 200 messages, each exactly once (one longer than claimAfterMs), outcomes in the result stream', async () => {
    const cfg = config('fleet');
    const workers = [worker(cfg), worker(cfg)];
    await Promise.all(workers.map((w) => w.ready));
    const ids = new Set<string>();
    // Message 0 runs for twice claimAfterMs: its worker's renewals keep the other from claiming it.
    for (let n = 0; n < 200; n++) ids.add(await enqueue(client, cfg.stream, { n, slowMs: n === 0 ? 2 * cfg.claimAfterMs : 5 }));

    await until('200 runs', async () => ((await client.llen(cfg.doneKey)) >= 200 ? true : undefined));
    await until('every entry acked', async () => ((await pendingCount(cfg.stream, cfg.group)) === 0 ? true : undefined));
    const stopMs = await Promise.all(workers.map((w) => w.stop()));
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    for (const ms of stopMs) expect(ms).toBeLessThan(500);

    const done = await client.lrange(cfg.doneKey, 0, -1);
    expect(done).toHaveLength(200);
    const runsPerMessage = new Map<string, number>();
    for (const entry of done) {
      const n = entry.split(':')[0] as string;
      runsPerMessage.set(n, (runsPerMessage.get(n) ?? 0) + 1);
    }
    expect(runsPerMessage.size).toBe(200);
    expect([...runsPerMessage.values()].every((count) => count === 1)).toBe(true);
    // Both workers took part.
    expect(new Set(done.map((entry) => entry.split(':')[1])).size).toBe(2);

    const outcomes = (await entries(cfg.outputStream)).map((e) => JSON.parse(e.outcome as string) as { ok: boolean; id: string; source: string; result: { output: string } });
    expect(outcomes).toHaveLength(200);
    expect(new Set(outcomes.map((o) => o.id))).toEqual(ids);
    for (const o of outcomes) {
      expect(o).toMatchObject({ ok: true, source: 'redis-queue', result: { output: expect.stringMatching(/^done \d+$/) } });
    }
  });

  it('a worker killed mid-run leaves its message to the other, which runs it after claimAfterMs', async () => {
    const cfg = config('kill');
    const both: [Worker, Worker] = [worker(cfg), worker(cfg)];
    await Promise.all(both.map((w) => w.ready));
    await enqueue(client, cfg.stream, { n: 1, slowMs: 1_000 });
    // Whichever worker took it is killed while its run sleeps in the tool.
    const taker = await Promise.race(both.map((w) => w.line((l) => l === 'start 1').then(() => w)));
    const [first, second] = taker === both[0] ? both : [both[1], both[0]];
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();

    await second.line((l) => l === 'start 1');
    // Not before the entry was idle for claimAfterMs (less the time the kill itself took to show).
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(cfg.claimAfterMs - 200);
    await until('the claimed run', async () => ((await client.llen(cfg.doneKey)) >= 1 ? true : undefined));
    await until('the claimed entry acked', async () => ((await pendingCount(cfg.stream, cfg.group)) === 0 ? true : undefined));
    await second.stop();
    expect(await second.exited).toBe(0);
    // Only the second worker finished it; the first never did.
    expect(await client.lrange(cfg.doneKey, 0, -1)).toEqual([`1:${second.child.pid}`]);
    expect(await client.xlen(cfg.outputStream)).toBe(1);
  });

  it('dead-letters a message whose run always fails after maxAttempts, and unrunnable ones at once', async () => {
    const stream = 'poison:in';
    const model = scriptedModel({
      respond: (request) => {
        if (request.messages.some((m) => m.role === 'user' && m.content.includes('"fail":true'))) throw new Error('scripted failure');
        return { text: 'ok' };
      },
    });
    const failing = agent({ name: 'poison', instructions: '', model });
    const runtime = createRuntime();
    const attempts = new Map<string, number>();
    const dispatcher: Dispatcher = {
      async dispatch(message): Promise<RunOutcome> {
        attempts.set(message.id, (attempts.get(message.id) ?? 0) + 1);
        const parsed = z.object({ n: z.number(), fail: z.boolean().optional() }).safeParse(message.payload);
        if (!parsed.success) return { ok: false, message, error: { type: 'ValidationError', message: 'invalid', field: String(parsed.error.issues[0]?.path[0]) } };
        try {
          return { ok: true, message, result: await runtime.run(failing, JSON.stringify(parsed.data)) };
        } catch (error) {
          return { ok: false, message, error: { type: (error as Error).name, message: (error as Error).message } };
        }
      },
    };
    const input = redisQueueInput({ url: redis.url, stream, group: 'workers', claimAfterMs: 300, maxAttempts: 3, blockMs: 200, batch: 5 });
    await input.start(dispatcher);
    const poison = await enqueue(client, stream, { n: 1, fail: true });
    const invalid = await enqueue(client, stream, { n: 'two' });
    const notJson = (await client.xadd(stream, '*', 'payload', '{not json')) as string;
    const fine = await enqueue(client, stream, { n: 3 });

    const dead = await until('three dead letters', async () => {
      const list = (await entries(`${stream}:dead`)) as unknown as DeadLetterEntry[];
      return list.length >= 3 ? list : undefined;
    });
    await input.stop();
    const byId = new Map(dead.map((d) => [d.id, d]));
    expect(dead).toHaveLength(3);
    expect(byId.get(poison)).toMatchObject({ attempts: '3', payload: '{"n":1,"fail":true}' });
    expect(JSON.parse(byId.get(poison)?.error as string)).toMatchObject({ type: 'RunError', message: expect.stringContaining('scripted failure') });
    expect(attempts.get(poison)).toBe(3);
    expect(byId.get(invalid)?.attempts).toBe('1');
    expect(JSON.parse(byId.get(invalid)?.error as string)).toMatchObject({ type: 'ValidationError', field: 'n' });
    expect(JSON.parse(byId.get(notJson)?.error as string)).toMatchObject({ type: 'InvalidPayload' });
    expect(attempts.has(notJson)).toBe(false);
    expect(attempts.get(fine)).toBe(1);
    expect(await pendingCount(stream, 'workers')).toBe(0);
  });

  it('continues the producer trace, returns from stop() at once while blocked, and acks in-flight entries after it', async () => {
    const stream = 'stop:in';
    const received: InboundMessage[] = [];
    let finish: (() => void) | undefined;
    const result: RunResult = { runId: 'r-1', output: 'ok', messages: [], usage: toUsage({}), costUsd: 0, steps: 1, toolCalls: 0, stopReason: 'final', traceId: '' };
    // Holds the run until the test calls finish(), after stop().
    const dispatcher: Dispatcher = {
      dispatch: (message) =>
        new Promise<RunOutcome>((resolve) => {
          received.push(message);
          finish = () => resolve({ ok: true, message, result });
        }),
    };
    const input = redisQueueInput({ url: redis.url, stream, group: 'workers', claimAfterMs: 5_000, blockMs: 10_000 });
    await input.start(dispatcher);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await enqueue(client, stream, { n: 1 }, traceparent);
    await until('the message', async () => (received.length ? true : undefined));
    const span = trace.getSpanContext(received[0]?.parentContext as never);
    expect(span).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', isRemote: true });

    // Let the loop block in XREADGROUP (blockMs 10 s) again before stopping.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await input.stop();
    // Well under the 10 s block: stop() cut the blocking read short (the margin is for a loaded machine).
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await pendingCount(stream, 'workers')).toBe(1);
    finish?.();
    await until('the in-flight entry acked after stop', async () => ((await pendingCount(stream, 'workers')) === 0 ? true : undefined), 2_000);
    expect(await client.xlen(`${stream}:dead`)).toBe(0);
  });

  it('feeds serve(): runs go through the server, outcomes reach the result stream, invalid input is dead-lettered', async () => {
    const stream = 'serve:in';
    const model = scriptedModel({ respond: (request) => ({ text: `echo ${request.messages.at(-1)?.content}` }) });
    const server = serve({
      agent: agent({ name: 'echo', instructions: '', model }),
      runtime: createRuntime(),
      inputs: [redisQueueInput({ url: redis.url, stream, group: 'workers', claimAfterMs: 1_000, blockMs: 5_000 })],
      outputs: [redisStreamOutput({ url: redis.url, stream: 'serve:out' })],
    });
    await server.start();
    for (let n = 0; n < 20; n++) await enqueue(client, stream, { input: `m${n}` });
    const invalid = await enqueue(client, stream, { input: 42 });

    await until('21 outcomes', async () => ((await client.xlen('serve:out')) >= 21 ? true : undefined));
    await until('every entry acked', async () => ((await pendingCount(stream, 'workers')) === 0 ? true : undefined));
    const started = Date.now();
    await server.stop();
    // Under the 5 s block it would otherwise wait out (the margin is for a loaded machine).
    expect(Date.now() - started).toBeLessThan(4_000);

    const outcomes = (await entries('serve:out')).map((e) => JSON.parse(e.outcome as string) as { ok: boolean; id: string; result?: { output: string } });
    expect(outcomes.filter((o) => o.ok).map((o) => o.result?.output).sort()).toEqual(Array.from({ length: 20 }, (_, n) => `echo m${n}`).sort());
    const dead = (await entries(`${stream}:dead`)) as unknown as DeadLetterEntry[];
    expect(dead.map((d) => d.id)).toEqual([invalid]);
    expect(JSON.parse(dead[0]?.error as string)).toMatchObject({ type: 'invalid_input', field: 'input' });
  });
});
