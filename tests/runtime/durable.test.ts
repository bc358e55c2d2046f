/**
 * Durable runs in one process: checkpoints and the run record, resume of completed, unknown,
 * busy, failed and lapsed runs, cancel, the run's event log (`subscribe`, with `after`), and a
 * lease taken over by another runtime. Real OTel SDK spans, the memory store (its clock
 * injected where a lease must lapse), scripted models.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunAbortedError, RunError, RunInProgressError, RunLeaseLostError, RunNotFoundError } from '../../src/errors.js';
import { createRuntime } from '../../src/create-runtime.js';
import type { RunEvent } from '../../src/runtime/events.js';
import type { RunEventEntry } from '../../src/runtime/runs.js';
import { memoryStore } from '../../src/state/memory.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import type { RunRecord, Store } from '../../src/state/store.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';

const usage = { inputTokens: 100, outputTokens: 20 };

/** A gate a tool waits on, and a promise of the moment it starts waiting. */
function gate() {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  return { open, reached, wait: () => (entered(), opened) };
}

/**
 * A 3-step agent: step 1 calls `count` (its runs counted), step 2 calls `slow` (which waits on
 * `block` when set), step 3 answers.
 */
function threeSteps(block?: ReturnType<typeof gate>) {
  const ran = { count: 0, slow: 0 };
  const count = tool({ name: 'count', description: 'Counts.', parameters: z.object({}), execute: () => ++ran.count });
  const slow = tool({
    name: 'slow',
    description: 'Waits.',
    parameters: z.object({}),
    execute: async (_args, { signal }) => {
      ran.slow++;
      if (block) await Promise.race([block.wait(), new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
      return 'slow done';
    },
  });
  const model = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const tools = request.messages.filter((m) => m.role === 'tool').length;
      if (tools === 0) return { toolCalls: [{ id: 'c1', name: 'count', arguments: {} }], usage };
      if (tools === 1) return { toolCalls: [{ id: 'c2', name: 'slow', arguments: {} }], usage };
      return { text: 'all done', usage };
    },
  });
  return { ran, model, agent: agent({ name: 'worker', instructions: 'Work.', model, tools: [count, slow] }) };
}

/** Resolves once `check` holds, polling the store-backed condition every few ms (bounded). */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 2_000; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A store whose run saves are recorded (as JSON, as written). */
function recording(store: Store): { store: Store; saves: RunRecord[] } {
  const saves: RunRecord[] = [];
  const runs = { ...store.runs, save: (record: RunRecord, lease: Parameters<Store['runs']['save']>[1]) => (saves.push(JSON.parse(JSON.stringify(record)) as RunRecord), store.runs.save(record, lease)) };
  return { store: Object.assign(Object.create(store) as Store, { runs }), saves };
}

describe('a durable run', () => {
  it('is recorded when it starts, checkpointed after each step with its spend before its tools run, and ends completed', async () => {
    const { store, saves } = recording(memoryStore());
    const { agent: a } = threeSteps();
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store });
    const result = await runtime.run(a, 'go', { runId: 'r-1' });
    expect(result).toMatchObject({ runId: 'r-1', stopReason: 'final', steps: 3, toolCalls: 2 });
    expect(saves.map((s) => [s.status, s.step, s.state.messages.length, s.state.totals.usage.inputTokens])).toEqual([
      ['running', 0, 1, 0], // started
      ['running', 0, 1, 100], // step 1's model call asked for a tool: its spend, on the state before the step
      ['running', 1, 3, 100], // step 1 done
      ['running', 1, 3, 200],
      ['running', 2, 5, 200],
      ['completed', 3, 6, 300],
    ]);
    const info = await runtime.runs.get('r-1');
    expect(info).toMatchObject({ runId: 'r-1', agent: 'worker', status: 'completed', step: 3, result: { output: 'all done', stopReason: 'final', costUsd: result.costUsd } });
    expect(info?.leaseExpired).toBeUndefined();
    expect(new Date(info!.createdAt).toISOString()).toBe(info!.createdAt);
    expect((await runtime.runs.list({ agent: 'worker' })).map((r) => r.runId)).toEqual(['r-1']);
    expect(await runtime.runs.list({ status: 'failed' })).toEqual([]);
    const run = spans.spans().find((s) => s.name === SPAN_NAME.run('worker'))!;
    expect(run.attributes[ATTR.runId]).toBe('r-1');
  });

  it('gets a UUID when no id is given; an id the store has is refused', async () => {
    const { agent: a } = threeSteps();
    const runtime = createRuntime();
    const r = await runtime.run(a, 'go');
    expect(r.runId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const again = runtime.run(a, 'go', { runId: r.runId });
    await expect(again).rejects.toBeInstanceOf(RunInProgressError);
    await expect(again).rejects.toThrow(`run "${r.runId}" already exists (completed): resume it with runtime.resume(), or give the new run another id`);
    expect((await runtime.runs.get(r.runId))?.status).toBe('completed');
  });
});

describe('resume', () => {
  it('of a completed run returns its result, running nothing', async () => {
    const { agent: a, ran, model } = threeSteps();
    const runtime = createRuntime();
    const r = await runtime.run(a, 'go', { runId: 'r-done' });
    const again = await runtime.resume(a, 'r-done');
    expect(again).toEqual(JSON.parse(JSON.stringify(r)));
    expect(ran).toEqual({ count: 1, slow: 1 });
    expect(model.requests).toHaveLength(3);
  });

  it('of an unknown id is a RunNotFoundError', async () => {
    const { agent: a } = threeSteps();
    await expect(createRuntime().resume(a, 'nope')).rejects.toBeInstanceOf(RunNotFoundError);
    await expect(createRuntime().runs.get('nope')).resolves.toBeUndefined();
  });

  it('of a run another runtime runs is a RunInProgressError', async () => {
    const store = memoryStore();
    const block = gate();
    const { agent: a } = threeSteps(block);
    const running = createRuntime({ store }).run(a, 'go', { runId: 'r-busy' });
    await block.reached;
    await expect(createRuntime({ store }).resume(a, 'r-busy')).rejects.toBeInstanceOf(RunInProgressError);
    expect(await createRuntime({ store }).runs.get('r-busy')).toMatchObject({ status: 'running', step: 1 });
    block.open();
    expect((await running).stopReason).toBe('final');
  });

  it('of a failed (cancelled) run goes on from its last checkpoint: the completed step is not redone, usage adds up', async () => {
    const block = gate();
    const { agent: a, ran, model } = threeSteps(block);
    const runtime = createRuntime();
    const running = runtime.run(a, 'go', { runId: 'r-cancel' });
    await block.reached;
    expect(await runtime.cancel('r-cancel')).toBe(true);
    const error = await running.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunAbortedError);
    expect((error as RunError).stopReason).toBe('aborted');
    const failed = await runtime.runs.get('r-cancel');
    expect(failed).toMatchObject({ status: 'failed', step: 1, error: { type: 'aborted', stopReason: 'aborted' } });
    expect(failed?.error?.message).toMatch(/cancelled/);
    expect(await runtime.cancel('r-cancel')).toBe(false);
    expect(await runtime.cancel('never-ran')).toBe(false);

    block.open();
    const done = await runtime.resume(a, 'r-cancel');
    expect(done.stopReason).toBe('final');
    expect(ran).toEqual({ count: 1, slow: 2 });
    // Step 2's model call was made twice (before the cancel, and again): both are counted.
    expect(model.requests).toHaveLength(4);
    expect(done.usage.inputTokens).toBe(400);
    expect(done.steps).toBe(3);
    // `slow` started twice: both executions count.
    expect(done.toolCalls).toBe(3);
  });

  it('of a run whose lease lapsed takes it over; the first process loses its lease and stops', async () => {
    let clock = Date.now();
    const store = memoryStore({ now: () => clock });
    const block = gate();
    const { agent: a, ran } = threeSteps(block);
    const spans = collectSpans();
    const leaseMs = 300;
    const first = tracedRuntime({ tracerProvider: spans.tracerProvider, store, leaseMs });
    const running = first.run(a, 'go', { runId: 'r-lapsed' });
    const firstError = running.catch((e: unknown) => e);
    await block.reached;
    // The first process stalls past its lease (as far as the store can tell).
    clock += 10 * leaseMs;
    expect((await first.runs.get('r-lapsed'))?.leaseExpired).toBe(true);
    const second = tracedRuntime({ tracerProvider: spans.tracerProvider, store, leaseMs });
    const resumed = second.resume(a, 'r-lapsed');
    // The first process's next heartbeat finds its lease gone: it aborts.
    const error = await firstError;
    expect(error).toBeInstanceOf(RunLeaseLostError);
    expect((error as RunError).stopReason).toBe('error');
    block.open();
    const done = await resumed;
    expect(done.stopReason).toBe('final');
    expect(ran.count).toBe(1);
    expect((await second.runs.get('r-lapsed'))?.status).toBe('completed');
    const runs = spans.spans().filter((s) => s.name === SPAN_NAME.run('worker'));
    const resumedSpan = runs.find((s) => s.attributes[ATTR.resumeFromStep] !== undefined)!;
    expect(resumedSpan.attributes[ATTR.resumeFromStep]).toBe(2);
    const original = runs.find((s) => s !== resumedSpan)!;
    expect(resumedSpan.parentSpanContext?.spanId).toBe(original.spanContext().spanId);
    expect(done.traceId).toBe(original.spanContext().traceId);
  });
});

describe('cancel', () => {
  it('asks the store when another runtime runs the run: its heartbeat aborts it', async () => {
    // The store's clock stands still: the short lease (for a heartbeat every 50 ms) cannot lapse
    // however late a loaded machine runs that heartbeat, which would stop the run lease-lost.
    const at = Date.now();
    const store = memoryStore({ now: () => at });
    const block = gate();
    const { agent: a } = threeSteps(block);
    const running = createRuntime({ store, leaseMs: 150 }).run(a, 'go', { runId: 'r-remote' });
    await block.reached;
    expect(await createRuntime({ store }).cancel('r-remote')).toBe(true);
    await expect(running).rejects.toBeInstanceOf(RunAbortedError);
    expect(await createRuntime({ store }).runs.get('r-remote')).toMatchObject({ status: 'failed', error: { stopReason: 'aborted' } });
  });
});

describe('run events', () => {
  const types = (events: RunEvent[]) => events.map((e) => e.type);

  it('run() logs them for subscribers: live, and from an id on (`after`)', async () => {
    const { agent: a } = threeSteps();
    const runtime = createRuntime();
    const live: RunEventEntry[] = [];
    const off = runtime.subscribe('r-events', (_event, entry) => live.push(entry));
    const result = await runtime.run(a, 'go', { runId: 'r-events' });
    await until(() => live.at(-1)?.event.type === 'run-end', 'the run-end event');
    off();
    expect(types(live.map((e) => e.event))).toEqual([
      'run-start',
      'step-start',
      'usage',
      'tool-call-start',
      'tool-call-end',
      'step-end',
      'step-start',
      'usage',
      'tool-call-start',
      'tool-call-end',
      'step-end',
      'step-start',
      'usage',
      'step-end',
      'run-end',
    ]);
    expect(live.at(-1)?.event).toEqual({ type: 'run-end', result: JSON.parse(JSON.stringify(result)) });
    const after: RunEvent[] = [];
    const off2 = runtime.subscribe('r-events', (event) => after.push(event), { after: live[10]!.id });
    await until(() => after.length === 4, 'the logged events after the 11th');
    off2();
    expect(types(after)).toEqual(['step-start', 'usage', 'step-end', 'run-end']);
  });

  it('a failed run ends its log with run-error', async () => {
    const model = scriptedModel({ respond: () => ({ error: new Error('boom') }) });
    const a = agent({ name: 'fails', instructions: '', model });
    const runtime = createRuntime({ retry: { maxRetries: 0 } });
    const events: RunEvent[] = [];
    runtime.subscribe('r-fail', (event) => events.push(event));
    await expect(runtime.run(a, 'go', { runId: 'r-fail' })).rejects.toBeInstanceOf(RunError);
    await until(() => events.at(-1)?.type === 'run-error', 'the run-error event');
    expect(events.at(-1)).toEqual({ type: 'run-error', stopReason: 'error', error: { type: 'Error', message: 'run failed: boom' } });
    expect(await runtime.runs.get('r-fail')).toMatchObject({ status: 'failed', step: 0, error: { type: 'Error', message: 'run failed: boom', stopReason: 'error' } });
  });

  it('a store that does not take events costs the run nothing but one warning', async () => {
    const store = memoryStore();
    const failing: Store = Object.assign(Object.create(store) as Store, {
      runs: { ...store.runs, appendEvent: () => Promise.reject(new Error('event log down')) },
    });
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (line: string) => void warnings.push(line);
    try {
      const { agent: a } = threeSteps();
      const runtime = createRuntime({ store: failing });
      expect((await runtime.run(a, 'go')).stopReason).toBe('final');
      expect((await runtime.run(a, 'go')).stopReason).toBe('final');
      await until(() => warnings.length > 0, 'the warning');
    } finally {
      console.warn = original;
    }
    expect(warnings).toEqual([expect.stringMatching(/^tracebound: the store did not take a run event \(subscribers miss it\) \(Error: event log down\)/)]);
  });

  it('a SQLite store that fails its synchronous writes (events, checkpoints) does not fail the run: one warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tb-durable-'));
    const path = join(dir, 'state.db');
    const store = sqliteStore({ path });
    const breakTables = tool({
      name: 'break',
      description: 'Drops the run tables under the store.',
      parameters: z.object({}),
      execute: () => {
        const db = new Database(path);
        db.exec('DROP TABLE run_events; DROP TABLE runs;');
        db.close();
        return 'broken';
      },
    });
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request) => (request.messages.some((m) => m.role === 'tool') ? { text: 'done anyway', usage } : { toolCalls: [{ id: 'c1', name: 'break', arguments: {} }], usage }),
    });
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (line: string) => void warnings.push(line);
    try {
      const runtime = createRuntime({ store });
      const r = await runtime.run(agent({ name: 'breaker', instructions: 'Break.', model, tools: [breakTables] }), 'go', { runId: 'r-broken' });
      expect(r.stopReason).toBe('final');
      expect(r.output).toBe('done anyway');
    } finally {
      console.warn = original;
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(warnings).toEqual([expect.stringMatching(/^tracebound: the store did not take a run event \(subscribers miss it\) \(store_unavailable: SQLite store: append a run event failed \(no such table: run_events\)/)]);
  });

  it('a checkpoint the store fails does not fail the run: it goes on, and the last checkpoint written stays', async () => {
    const store = memoryStore();
    let saves = 0;
    const flaky: Store = Object.assign(Object.create(store) as Store, {
      runs: { ...store.runs, save: (record: RunRecord, lease: Parameters<Store['runs']['save']>[1]) => (++saves > 2 ? Promise.reject(new Error('disk full')) : store.runs.save(record, lease)) },
    });
    const warnings: string[] = [];
    const { agent: a } = threeSteps();
    const runtime = createRuntime({ store: flaky });
    const original = console.warn;
    console.warn = (line: string) => void warnings.push(line);
    try {
      expect((await runtime.run(a, 'go', { runId: 'r-disk' })).stopReason).toBe('final');
    } finally {
      console.warn = original;
    }
    expect(warnings).toEqual([expect.stringMatching(/^tracebound: the store did not take a checkpoint of run "r-disk" \(Error: disk full\)/)]);
    // The start and step 1's spend were written; nothing after.
    expect(await runtime.runs.get('r-disk')).toMatchObject({ status: 'running', step: 0 });
  });
});
