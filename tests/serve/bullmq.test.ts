import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { bullmqInput, enqueueRun, type RunJobResult } from '../../src/serve/inputs/bullmq.js';
import { redisStreamOutput } from '../../src/serve/outputs/redis-stream.js';
import { serve, type Server } from '../../src/serve/serve.js';
import { ServerBusyError, type Dispatcher, type InboundMessage, type RunOutcome } from '../../src/serve/types.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { registerSecret } from '../../src/secrets.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';
import { memoryStore } from '../../src/state/memory.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import type { Store } from '../../src/state/store.js';
import { freePort, LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { CHILD_PROCESS_TEST_MS } from '../support/timeouts.js';
import { startServeChild } from './cli-support.js';
import type { QueueWorkerConfig } from './queue-worker.js';

let redis: RedisServer;
let client: Redis;
let dir: string;
const queues: Queue[] = [];
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  dir = mkdtempSync(join(tmpdir(), 'tracebound-bullmq-'));
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  await client.quit();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

function queueOf(name: string): Queue {
  const queue = new Queue(name, { connection: { url: redis.url } });
  queues.push(queue);
  return queue;
}

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
  const stop = async (): Promise<number | null> => {
    child.stdin.write('stop\n');
    await line((l) => l === 'stopped');
    return exited;
  };
  return { child, ready: line((l) => l === 'ready'), line, stop, exited };
}

/** Polls `probe` until it gives a value; the default bound leaves worker processes on a loaded machine their time. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function config(name: string, overrides: Partial<QueueWorkerConfig> = {}): QueueWorkerConfig {
  // A lock long enough that a loaded machine's pauses do not lose one (the kill test shortens it).
  return { url: redis.url, queue: name, doneKey: `${name}:done`, concurrency: 8, lockDurationMs: 10_000, stalledIntervalMs: 1_000, ...overrides };
}

/** The done list as [runId, pid, status] triples. */
async function done(key: string): Promise<[string, string, string][]> {
  return (await client.lrange(key, 0, -1)).map((entry) => {
    const parts = entry.split(':');
    const [pid, status] = parts.slice(-2) as [string, string];
    return [parts.slice(0, -2).join(':'), pid, status];
  });
}

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

describe('serve: BullMQ queue input (real redis-server, worker processes)', { timeout: CHILD_PROCESS_TEST_MS }, () => {
  it('two workers run 200 jobs, each exactly once; the job ids are the run ids and the return values the results', async () => {
    const cfg = config('fleet');
    const workers = [worker(cfg), worker(cfg)];
    await Promise.all(workers.map((w) => w.ready));
    const queue = queueOf(cfg.queue);
    const runIds: string[] = [];
    for (let n = 0; n < 200; n++) runIds.push(await enqueueRun(queue, { input: JSON.stringify({ n, slowMs: 5 }) }, { runId: `run-${n}` }));
    // Adding a run id again adds no second job.
    await enqueueRun(queue, { input: JSON.stringify({ n: 0 }) }, { runId: 'run-0' });

    await until('200 completed jobs', async () => ((await queue.getJobCountByTypes('completed')) >= 200 ? true : undefined));
    expect(await Promise.all(workers.map((w) => w.stop()))).toEqual([0, 0]);

    const outcomes = await done(cfg.doneKey);
    const perRun = countBy(outcomes, ([runId]) => runId);
    expect([...perRun.keys()].sort()).toEqual([...runIds].sort());
    expect([...perRun.values()].every((count) => count === 1)).toBe(true);
    expect(outcomes.every(([, , status]) => status === 'ok')).toBe(true);
    // Both workers took part.
    expect(new Set(outcomes.map(([, pid]) => pid)).size).toBe(2);

    const jobs = (await queue.getJobs(['completed'], 0, -1)) as Job<unknown, RunJobResult>[];
    expect(jobs).toHaveLength(200);
    // No job was taken twice (a lost lock would show here).
    expect(jobs.every((job) => job.attemptsStarted === 1)).toBe(true);
    for (const job of jobs) {
      const n = Number((job.id as string).slice('run-'.length));
      expect(job.returnvalue).toMatchObject({ runId: job.id, output: `done ${n}`, stopReason: 'final', steps: 2, toolCalls: 1 });
    }
    expect(await queue.getJobCountByTypes('failed', 'wait', 'active', 'delayed')).toBe(0);
  });

  it('a fleet cron with two workers runs each tick once (a BullMQ job scheduler)', async () => {
    // BullMQ's default lock (30 s), not the short one the crash tests use: a worker starved of CPU
    // for a few seconds on a loaded machine would lose a short lock and its tick would run again
    // (at-least-once), which is not what this test is about.
    const cfg = config('cron', {
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      schedules: [{ id: 'every-second', pattern: '* * * * * *', payload: { input: JSON.stringify({ n: -1 }) } }],
    });
    // The second worker starts once the first has stored the scheduler (a rolling start): it must
    // leave the live scheduler alone rather than rewrite it while the first runs a tick.
    const first = worker(cfg);
    await first.ready;
    const workers = [first, worker(cfg)];
    await Promise.all(workers.map((w) => w.ready));
    // A few ticks, whatever their timing.
    await until('4 ticks run', async () => ((await client.llen(cfg.doneKey)) >= 4 ? true : undefined));
    expect(await Promise.all(workers.map((w) => w.stop()))).toEqual([0, 0]);
    const queue = queueOf(cfg.queue);
    expect(await queue.getJobSchedulersCount()).toBe(1);
    await queue.removeJobScheduler('every-second');

    const outcomes = await done(cfg.doneKey);
    const perTick = countBy(outcomes, ([runId]) => runId);
    expect([...perTick].filter(([, count]) => count !== 1)).toEqual([]);
    expect(perTick.size).toBeGreaterThanOrEqual(4);
    // Run ids name the scheduler and the tick: one scheduler, distinct ticks.
    for (const runId of perTick.keys()) expect(runId).toMatch(/^repeat:every-second:\d+$/);
    const ticks = [...perTick.keys()].map((id) => Number(id.split(':')[2]));
    expect(ticks.every((tick) => tick % 1_000 === 0)).toBe(true);
    expect(outcomes.every(([, , status]) => status === 'ok')).toBe(true);
  });

  it('start() leaves a stored scheduler with the same settings alone and rewrites a changed one', async () => {
    const idle: Dispatcher = { dispatch: () => Promise.reject(new Error('no tick runs in this test')) };
    const queue = queueOf('upsert');
    // 03:00 daily: no tick falls inside the test, so the next tick's job stays delayed throughout.
    const daily = (payload: Record<string, unknown>) => bullmqInput({ url: redis.url, queue: 'upsert', schedules: [{ id: 'daily', pattern: '0 0 3 * * *', payload }] });
    const started = async (payload: Record<string, unknown>) => {
      const input = daily(payload);
      await input.start(idle);
      await input.stop();
      const [next, ...more] = await queue.getDelayed();
      expect(more).toEqual([]);
      return next!;
    };
    const first = await started({ input: 'a' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    // An upsert removes the tick's job and adds it again: a later creation time would show it.
    const same = await started({ input: 'a' });
    expect([same.id, same.timestamp]).toEqual([first.id, first.timestamp]);
    const changed = await started({ input: 'b' });
    expect(changed.data).toEqual({ input: 'b' });
    expect((await queue.getJobScheduler('daily'))?.template?.data).toEqual({ input: 'b' });
    await queue.removeJobScheduler('daily');
  });
});

const killStores: Array<[string, (dir: string) => { spec: string; open: () => Store }]> = [
  ['SQLite', (d) => ({ spec: join(d, 'state.db'), open: () => sqliteStore({ path: join(d, 'state.db') }) })],
  ['Redis', () => ({ spec: redis.url, open: () => redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS }) })],
];

describe.each(killStores)('serve: a BullMQ worker SIGKILLed mid-run (%s run store)', { timeout: CHILD_PROCESS_TEST_MS }, (name, storeOf) => {
  it('the other worker takes its job and resumes the run: the step-1 tool ran once, one run, one trace from the producer on', async () => {
    const runDir = mkdtempSync(join(dir, `kill-${name}-`));
    const { spec, open } = storeOf(runDir);
    const counterFile = join(runDir, 'counter.txt');
    const traces = [join(runDir, 'a.jsonl'), join(runDir, 'b.jsonl')] as const;
    const base = config(`kill-${name}`, { store: spec, leaseMs: 1_000, counterFile, leaseRetryMs: 300, lockDurationMs: 2_000, stalledIntervalMs: 500 });
    const first = worker({ ...base, traceFile: traces[0] });
    await first.ready;
    const queue = queueOf(base.queue);
    const producer = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true };
    // Step 2's tool blocks for a minute in the first worker: it is killed there, after step 1's checkpoint.
    await enqueueRun(queue, { input: JSON.stringify({ n: 7, blockMs: 60_000 }) }, { runId: 'killed-run', context: trace.setSpanContext(ROOT_CONTEXT, producer) });
    await first.line((l) => l === 'start 7 2');
    const second = worker({ ...base, traceFile: traces[1], noBlock: true });
    await second.ready;
    first.child.kill('SIGKILL');
    await first.exited;

    await until('the resumed run', async () => ((await client.llen(base.doneKey)) >= 1 ? true : undefined), 60_000);
    expect(await second.stop()).toBe(0);

    expect(await done(base.doneKey)).toEqual([['killed-run', String(second.child.pid), 'ok']]);
    // The step-1 tool ran once; the step in flight at the kill (2) was redone by the second worker.
    expect(readFileSync(counterFile, 'utf8')).toBe('7:1\n7:2\n7:2\n');
    const job = (await queue.getJob('killed-run')) as Job<unknown, RunJobResult>;
    expect(job.returnvalue).toMatchObject({ runId: 'killed-run', output: 'done 7', stopReason: 'final', steps: 3, toolCalls: 2 });
    const store = open();
    try {
      expect(await createRuntime({ store }).runs.get('killed-run')).toMatchObject({ status: 'completed', step: 3 });
      expect((await createRuntime({ store }).runs.list()).filter((r) => r.runId === 'killed-run')).toHaveLength(1);
    } finally {
      await store.close();
    }

    const spans = (await Promise.all(traces.map((file) => readTraceFile(file)))).flat();
    // One trace, the producer's: the killed worker's spans and the resumed ones.
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([producer.traceId]));
    const step1 = spans.find((s) => s.name === SPAN_NAME.step(1));
    const resumed = spans.find((s) => s.name === SPAN_NAME.run('queue-worker'));
    expect(resumed?.attributes[ATTR.resumeFromStep]).toBe(2);
    expect(resumed?.attributes[ATTR.runId]).toBe('killed-run');
    // The resumed run span's parent is the original run span (never ended: its worker died).
    expect(resumed?.parentSpanId).toBe(step1?.parentSpanId);
  });
});

describe('serve: BullMQ queue input in process', () => {
  const SECRET = 'sk-queue-test-0123456789abcdef';
  registerSecret(SECRET);

  it('the run continues the producer trace carried in the job; invalid input and failed runs fail the job with a typed reason', async () => {
    const spans = collectSpans();
    const model = scriptedModel({
      respond: (request) => {
        const text = String(request.messages.at(-1)?.content);
        if (text === 'fail') throw new Error(`upstream said: bad key ${SECRET}`);
        return { text: `echo ${text}` };
      },
    });
    const server = serve({
      agent: agent({ name: 'echo', instructions: '', model }),
      runtime: tracedRuntime({ tracerProvider: spans.tracerProvider }),
      inputs: [bullmqInput({ url: redis.url, queue: 'traced' })],
      outputs: [redisStreamOutput({ url: redis.url, stream: 'traced:out' })],
      concurrency: 4,
    });
    await server.start();
    const queue = queueOf('traced');
    const producer = spans.tracerProvider.getTracer('producer').startSpan('produce');
    const ctx = trace.setSpan((await import('@opentelemetry/api')).context.active(), producer);
    await enqueueRun(queue, { input: 'hello' }, { runId: 'traced-1', context: ctx });
    producer.end();
    await enqueueRun(queue, { input: 42 }, { runId: 'invalid-1' });
    await enqueueRun(queue, { input: 'fail' }, { runId: 'failing-1' });

    await until('3 finished jobs', async () => ((await queue.getJobCountByTypes('completed', 'failed')) >= 3 ? true : undefined));
    await server.stop();

    const ok = (await queue.getJob('traced-1')) as Job<unknown, RunJobResult>;
    expect(ok.returnvalue).toMatchObject({ runId: 'traced-1', output: 'echo hello', stopReason: 'final' });
    const run = spans.spans().find((s) => s.name === 'invoke_agent echo' && s.attributes[ATTR.runId] === 'traced-1');
    expect(run?.spanContext().traceId).toBe(producer.spanContext().traceId);
    expect(run?.parentSpanContext?.spanId).toBe(producer.spanContext().spanId);
    expect(run?.attributes[ATTR.serveSource]).toBe('queue');
    expect(run?.attributes[ATTR.serveMessageId]).toBe('traced-1');

    const invalid = (await queue.getJob('invalid-1')) as Job;
    expect(await invalid.getState()).toBe('failed');
    expect(JSON.parse(invalid.failedReason)).toMatchObject({ type: 'invalid_input', field: 'input' });
    const failing = (await queue.getJob('failing-1')) as Job;
    expect(await failing.getState()).toBe('failed');
    expect(JSON.parse(failing.failedReason)).toMatchObject({ stopReason: 'error', message: expect.stringContaining('upstream said: bad key [REDACTED]') });
    expect(failing.failedReason).not.toContain(SECRET);

    // The Redis stream output has every outcome, as the other outputs send it.
    const outcomes = (await client.xrange('traced:out', '-', '+')).map(([, fields]) => JSON.parse(fields[1] as string) as { id: string; ok: boolean; source: string });
    expect(outcomes.map((o) => [o.id, o.ok, o.source]).sort()).toEqual([
      ['failing-1', false, 'queue'],
      ['invalid-1', false, 'queue'],
      ['traced-1', true, 'queue'],
    ]);
    expect(JSON.stringify(outcomes)).not.toContain(SECRET);
  });

  it('a job names the served agent to run; an unknown agent fails the job without retries', async () => {
    const named = (name: string) => agent({ name, instructions: '', model: scriptedModel({ respond: () => ({ text: `${name} here` }) }) });
    const server = serve({ agents: [named('first'), named('second')], runtime: createRuntime(), inputs: [bullmqInput({ url: redis.url, queue: 'agents' })] });
    await server.start();
    const queue = queueOf('agents');
    await enqueueRun(queue, { input: 'x' }, { runId: 'to-default' });
    await enqueueRun(queue, { input: 'x' }, { runId: 'to-second', agent: 'second' });
    await queue.add('run', { input: 'x', agent: 'nobody' }, { jobId: 'to-nobody', attempts: 3 });
    await until('3 finished jobs', async () => ((await queue.getJobCountByTypes('completed', 'failed')) >= 3 ? true : undefined));
    await server.stop();
    expect(((await queue.getJob('to-default')) as Job<unknown, RunJobResult>).returnvalue).toMatchObject({ output: 'first here' });
    expect(((await queue.getJob('to-second')) as Job<unknown, RunJobResult>).returnvalue).toMatchObject({ output: 'second here' });
    const nobody = (await queue.getJob('to-nobody')) as Job;
    expect(await nobody.getState()).toBe('failed');
    expect(JSON.parse(nobody.failedReason)).toMatchObject({ type: 'agent_not_found' });
    // Not retried although the producer asked for 3 attempts.
    expect(nobody.attemptsMade).toBe(1);
  });

  it("a job whose run another process holds (a live lease) is retried later, not failed, and completes with the run's result", async () => {
    const store = memoryStore();
    let holdCalls = 0;
    let release!: () => void;
    const released = new Promise<string>((resolve) => (release = () => resolve('released')));
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => (entered = resolve));
    const hold = tool({
      name: 'hold',
      description: 'Holds until released.',
      parameters: z.object({}),
      execute: () => {
        holdCalls++;
        entered();
        return released;
      },
    });
    const model = scriptedModel({
      respond: (request) => (request.messages.some((m) => m.role === 'tool') ? { text: 'held and done' } : { toolCalls: [{ id: 'call_1', name: 'hold', arguments: {} }] }),
    });
    const holder = agent({ name: 'holder', instructions: '', model, tools: [hold] });
    // Another process, as far as leases go: its own runtime on the shared store runs 'leased'.
    const elsewhere = createRuntime({ store }).run(holder, 'x', { runId: 'leased' });
    await holding;

    const server = serve({
      agent: holder,
      runtime: createRuntime({ store }),
      inputs: [bullmqInput({ url: redis.url, queue: 'lease', leaseRetryMs: 100 })],
      concurrency: 2,
    });
    await server.start();
    const queue = queueOf('lease');
    await enqueueRun(queue, { input: 'x' }, { runId: 'leased' });
    // Taken twice at least (a fresh run refused, then a resume refused), delayed each time.
    await until('the job retried', async () => (((await queue.getJob('leased')) as Job).attemptsStarted >= 2 ? true : undefined));
    expect(await queue.getJobCountByTypes('failed')).toBe(0);
    release();
    expect(await elsewhere).toMatchObject({ runId: 'leased', output: 'held and done' });
    await until('the job completed', async () => ((await queue.getJobCountByTypes('completed')) === 1 ? true : undefined));
    await server.stop();

    const job = (await queue.getJob('leased')) as Job<unknown, RunJobResult>;
    // The run's result, not a second run: the resume found it completed.
    expect(job.returnvalue).toMatchObject({ runId: 'leased', output: 'held and done', stopReason: 'final' });
    // One attempt counted: the delays were not failed attempts.
    expect(job.attemptsMade).toBe(1);
    // The tool ran in the other process only.
    expect(holdCalls).toBe(1);
  });

  it('a job the server is too busy for is delayed by its retry-after, not failed', async () => {
    let calls = 0;
    const dispatcher: Dispatcher = {
      concurrency: 1,
      async dispatch(message): Promise<RunOutcome> {
        if (++calls === 1) throw new ServerBusyError(1);
        const result = await createRuntime().run(agent({ name: 'a', instructions: '', model: scriptedModel({ respond: () => ({ text: 'ran' }) }) }), 'x');
        return { ok: true, message, result };
      },
    };
    const input = bullmqInput({ url: redis.url, queue: 'busy' });
    await input.start(dispatcher);
    const queue = queueOf('busy');
    await enqueueRun(queue, { input: 'x' }, { runId: 'busy-1' });
    await until('the job delayed', async () => ((await queue.getJobCountByTypes('delayed')) === 1 ? true : undefined));
    await until('the job completed', async () => ((await queue.getJobCountByTypes('completed')) === 1 ? true : undefined));
    await input.stop();
    const job = (await queue.getJob('busy-1')) as Job<unknown, RunJobResult>;
    expect(calls).toBe(2);
    expect(job.returnvalue).toMatchObject({ output: 'ran' });
    expect(job.attemptsMade).toBe(1);
  });

  it('stop(): a run the drain deadline aborts puts its job back in the queue (no attempt counted), and the next worker resumes it', async () => {
    let started!: () => void;
    const began = new Promise<void>((resolve) => (started = resolve));
    let stuckCalls = 0;
    const stuck = tool({
      name: 'stuck',
      description: 'Never ends by itself the first time.',
      parameters: z.object({}),
      execute: (_args, { signal }) => {
        if (++stuckCalls > 1) return 'unstuck';
        started();
        return new Promise<string>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
      },
    });
    const model = scriptedModel({
      respond: (request) => (request.messages.some((m) => m.role === 'tool') ? { text: 'finally' } : { toolCalls: [{ id: 'call_1', name: 'stuck', arguments: {} }] }),
    });
    const stuckAgent = agent({ name: 'stuck', instructions: '', model, tools: [stuck] });
    // One runtime (one memory store) for both servers: the run's record outlives the first.
    const runtime = createRuntime();
    const server = (): Server => serve({ agent: stuckAgent, runtime, inputs: [bullmqInput({ url: redis.url, queue: 'drain' })], concurrency: 2, drainTimeoutMs: 300 });
    const first = server();
    await first.start();
    const queue = queueOf('drain');
    await enqueueRun(queue, { input: 'x' }, { runId: 'drained-1' });
    await began;
    await first.stop();
    const job = (await queue.getJob('drained-1')) as Job;
    expect(await job.getState()).toBe('waiting');
    expect(job.attemptsMade).toBe(0);
    expect(job.failedReason).toBeUndefined();
    expect(await runtime.runs.get('drained-1')).toMatchObject({ status: 'failed', error: { stopReason: 'aborted' } });

    const next = server();
    await next.start();
    await until('the job completed', async () => ((await queue.getJobCountByTypes('completed')) === 1 ? true : undefined));
    await next.stop();
    expect(((await queue.getJob('drained-1')) as Job<unknown, RunJobResult>).returnvalue).toMatchObject({ runId: 'drained-1', output: 'finally' });
    expect(await runtime.runs.get('drained-1')).toMatchObject({ status: 'completed' });
    expect(stuckCalls).toBe(2);
  });

  it('stop(deadline): a job still running when the drain deadline passes is left to stall to another worker', async () => {
    const taken: string[] = [];
    const never: Dispatcher = { concurrency: 1, dispatch: (message) => (taken.push(`first ${message.id}`), new Promise<RunOutcome>(() => {})) };
    const ok: Dispatcher = {
      concurrency: 1,
      async dispatch(message) {
        taken.push(`second ${message.id}`);
        const result = await createRuntime().run(agent({ name: 'a', instructions: '', model: scriptedModel({ respond: () => ({ text: 'stalled and taken' }) }) }), 'x');
        return { ok: true, message, result };
      },
    };
    // The first worker's lock must outlast a loaded machine's stall while it holds the job (else
    // it stalls back to that worker), and lapse soon after its stop; the second's lock must
    // outlast the run it takes.
    const short = { url: redis.url, queue: 'stall', lockDurationMs: 1_500, stalledIntervalMs: 200 };
    const first = bullmqInput(short);
    await first.start(never);
    const queue = queueOf('stall');
    await enqueueRun(queue, { input: 'x' }, { runId: 'stall-1' });
    await until('the first worker took it', async () => (taken.length > 0 ? true : undefined));
    await first.stop(AbortSignal.abort());
    expect(await ((await queue.getJob('stall-1')) as Job).getState()).toBe('active');

    const second = bullmqInput({ ...short, lockDurationMs: 30_000 });
    await second.start(ok);
    await until('the job completed', async () => ((await queue.getJobCountByTypes('completed')) === 1 ? true : undefined));
    await second.stop();
    expect(taken).toEqual(['first stall-1', 'second stall-1']);
    const job = (await queue.getJob('stall-1')) as Job<unknown, RunJobResult>;
    expect(job.returnvalue).toMatchObject({ output: 'stalled and taken' });
    expect(job.stalledCounter).toBe(1);
  });

  it('tracebound/serve loads bullmq when a bullmqInput starts, not before (the built package: npm test builds first)', async () => {
    const entry = pathToFileURL(fileURLToPath(new URL('../../dist/serve/index.js', import.meta.url))).href;
    const script = `
import { createRequire } from 'node:module';
const serve = await import(${JSON.stringify(entry)});
const cache = createRequire(${JSON.stringify(entry)}).cache;
const loaded = () => Object.keys(cache).some((k) => k.includes('/node_modules/bullmq/'));
const seen = [loaded()];
const input = serve.bullmqInput({ url: 'redis://127.0.0.1:1', queue: 'lazy', onError: () => {} });
seen.push(loaded());
void input.start({ concurrency: 1, dispatch: async () => ({}) }).catch(() => {});
while (!loaded()) await new Promise((resolve) => setTimeout(resolve, 10));
seen.push(loaded());
console.log(JSON.stringify(seen));
process.exit(0);`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).toEqual([false, false, true]);
  });

  it('the Redis stream output tries an outcome `attempts` times, then hands it to onError', async () => {
    const lost: unknown[] = [];
    const output = redisStreamOutput({ url: `redis://127.0.0.1:${await freePort()}`, stream: 'nowhere', attempts: 2, onError: (error) => lost.push(error) });
    const message: InboundMessage = { id: 'm-1', payload: {}, source: 'test' };
    await output.deliver({ ok: false, message, error: { type: 'x', message: 'y' } });
    await output.stop?.();
    expect(lost).toHaveLength(1);
  });

  it("refuses a worker concurrency above the server's", async () => {
    const input = bullmqInput({ url: redis.url, queue: 'too-many', concurrency: 5 });
    await expect(input.start({ concurrency: 4, dispatch: async () => ({}) as RunOutcome })).rejects.toThrow(RangeError);
  });
});

describe('tracebound serve --queue / --schedule', { timeout: CHILD_PROCESS_TEST_MS }, () => {
  const slowAgent = fileURLToPath(new URL('./slow-agent.ts', import.meta.url));

  it('runs the jobs of --queue and the ticks of a fleet --schedule, and drains on SIGTERM', async () => {
    const served = await startServeChild(
      [slowAgent, '--port', '0', '--exporter', 'none', '--state', join(dir, 'cli.db'), '--queue', 'cli', '--redis-url', redis.url, '--schedule', '* * * * * *', '--schedule-input', 'tick'],
      { SLOW_TOOL_MS: '10' },
    );
    const queue = queueOf('cli');
    try {
      await enqueueRun(queue, { input: 'from the queue' }, { runId: 'cli-1' });
      await until('the queued run and a tick', async () => {
        const jobs = (await queue.getJobs(['completed'], 0, -1)) as Job<unknown, RunJobResult>[];
        return jobs.some((j) => j.id === 'cli-1') && jobs.some((j) => j.id?.startsWith('repeat:tracebound-serve:')) ? jobs : undefined;
      });
      expect(((await queue.getJob('cli-1')) as Job<unknown, RunJobResult>).returnvalue).toMatchObject({ runId: 'cli-1', stopReason: 'final' });
    } finally {
      served.child.kill('SIGTERM');
      expect(await served.exited).toBe(0);
      await queue.removeJobScheduler('tracebound-serve');
    }
  });

  it('exits 2 when --schedule comes without --schedule-input', async () => {
    await expect(startServeChild([slowAgent, '--port', '0', '--schedule', '* * * * * *'])).rejects.toThrow(/exited with 2: tracebound serve: --schedule and --schedule-input go together/);
  });
});
