/**
 * The memory store's retention of durable runs: past `maxEndedRuns` ended runs, the one that
 * ended longest ago is forgotten with its event log; an interrupted run stays (and can still be
 * resumed) however many runs end after it. Real runtime over the memory store, scripted model.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { memoryStore } from '../../src/state/memory.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

const usage = { inputTokens: 10, outputTokens: 2 };

function setup(maxEndedRuns: number) {
  const refund = tool({
    name: 'refund',
    description: 'Refunds an order.',
    parameters: z.object({ order: z.string() }),
    needsApproval: true,
    execute: ({ order }) => `refunded ${order}`,
  });
  const model = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const last = request.messages.at(-1);
      if (last?.role === 'tool') return { text: `done: ${last.content}`, usage };
      if (last?.role === 'user' && last.content === 'refund') return { toolCalls: [{ id: 'c1', name: 'refund', arguments: { order: '4711' } }], usage };
      if (last?.role === 'user' && last.content === 'fail') throw new Error('provider down');
      return { text: 'hello', usage };
    },
  });
  const store = memoryStore({ maxEndedRuns });
  const runtime = createRuntime({ store, retry: { maxRetries: 0 } });
  return { runtime, agent: agent({ name: 'support', instructions: 'Help.', model, tools: [refund] }) };
}

/** The events `runId`'s log delivers to a new subscriber (its backlog). */
async function backlog(runtime: ReturnType<typeof createRuntime>, runId: string): Promise<RunEvent['type'][]> {
  const got: RunEvent['type'][] = [];
  const off = runtime.subscribe(runId, (event) => got.push(event.type));
  await new Promise((resolve) => setImmediate(resolve));
  off();
  return got;
}

describe('memory store: retention of durable runs', () => {
  it('keeps the newest maxEndedRuns ended runs with their event logs, and every interrupted run', async () => {
    const { runtime, agent: a } = setup(3);
    const interrupted = await runtime.run(a, 'refund', { runId: 'waiting' });
    expect(interrupted.stopReason).toBe('interrupted');
    await expect(runtime.run(a, 'fail', { runId: 'failed' })).rejects.toThrow(/provider down/);
    for (let i = 0; i < 5; i++) await runtime.run(a, 'hi', { runId: `done-${i}` });

    // 6 ended runs (1 failed, 5 completed), 3 kept: the 3 that ended last.
    for (const gone of ['failed', 'done-0', 'done-1']) expect(await runtime.runs.get(gone)).toBeUndefined();
    for (const kept of ['done-2', 'done-3', 'done-4']) expect((await runtime.runs.get(kept))?.status).toBe('completed');
    expect((await runtime.runs.list()).map((r) => r.runId).sort()).toEqual(['done-2', 'done-3', 'done-4', 'waiting']);
    expect(await backlog(runtime, 'done-0')).toEqual([]);
    expect(await backlog(runtime, 'done-4')).toEqual(expect.arrayContaining(['run-start', 'run-end']));

    // The interrupted run outlived them all, and resumes: it then ends, and counts.
    expect((await runtime.runs.get('waiting'))?.status).toBe('interrupted');
    expect(await backlog(runtime, 'waiting')).toContain('run-start');
    const done = await runtime.resume(a, 'waiting', { approvals: { c1: true } });
    expect(done.output).toBe('done: refunded 4711');
    expect((await runtime.runs.get('waiting'))?.status).toBe('completed');
    expect(await runtime.runs.get('done-2')).toBeUndefined();
  });

  it('logs a run-end event as it was emitted, though its caller changes the result it got', async () => {
    const { runtime, agent: a } = setup(3);
    const r = await runtime.run(a, 'hi', { runId: 'r1' });
    r.messages.push({ role: 'user', content: 'added later' });
    const events: RunEvent[] = [];
    const off = runtime.subscribe('r1', (event) => events.push(event));
    await new Promise((resolve) => setImmediate(resolve));
    off();
    const end = events.find((e) => e.type === 'run-end');
    expect(end?.type === 'run-end' && end.result.messages.map((m) => m.content)).toEqual(['hi', 'hello']);
  });

  it('keeps no ended run with maxEndedRuns 0, and refuses a bound that is not a count', async () => {
    const { runtime, agent: a } = setup(0);
    await runtime.run(a, 'hi', { runId: 'r1' });
    expect(await runtime.runs.get('r1')).toBeUndefined();
    expect(() => memoryStore({ maxEndedRuns: -1 })).toThrow(RangeError);
    expect(() => memoryStore({ maxEndedRuns: 1.5 })).toThrow(RangeError);
  });
});
