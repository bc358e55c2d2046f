/**
 * Durable runs over HTTP, on real sockets: run status, approvals (approve and deny), cancel, and a
 * run's events as SSE resumable with `Last-Event-ID`. The runtime's default store (memory),
 * scripted models, spans collected by the real OTel SDK.
 */
import type { EventSourceMessage } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent, tool } from '../../src/index.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { echoAgent, Gate, gatedAgent, postRun, readSse, startServed, type Served } from './http-support.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.server.stop();
  served = undefined;
});

/** An agent whose `refund` tool needs approval; it answers by quoting the tool results it got. */
function refundAgent() {
  const refunded: string[] = [];
  const refund = tool({
    name: 'refund',
    description: 'Refunds an order.',
    parameters: z.object({ order: z.string() }),
    needsApproval: true,
    execute: ({ order }) => {
      refunded.push(order);
      return `refunded ${order}`;
    },
  });
  const support = agent({
    name: 'support',
    instructions: 'Help.',
    tools: [refund],
    model: scriptedModel({
      respond: (request) => {
        const results = request.messages.filter((m) => m.role === 'tool');
        return results.length ? { text: `done: ${results.map((m) => m.content).join(' | ')}` } : { toolCalls: [{ id: 'call_r', name: 'refund', arguments: { order: '4711' } }] };
      },
    }),
  });
  return { support, refunded };
}

const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('approvals over HTTP', () => {
  it('approve: the run answers interrupted with its interruptions, the approval resumes it, the tool runs once, the status shows each stage', async () => {
    const { support, refunded } = refundAgent();
    served = await startServed({ agent: support });
    const first = await postRun(served.url, { input: 'Refund 4711', runId: 'r-approve' });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({
      runId: 'r-approve',
      stopReason: 'interrupted',
      interruptions: [{ kind: 'tool_approval', toolCallId: 'call_r', toolName: 'refund', arguments: { order: '4711' } }],
    });
    expect(refunded).toEqual([]);
    const waiting = await fetch(`${served.url}/v1/runs/r-approve`);
    expect(await waiting.json()).toMatchObject({ runId: 'r-approve', agent: 'support', status: 'interrupted', interruptions: [{ toolCallId: 'call_r' }] });

    const approved = await post(`${served.url}/v1/runs/r-approve/approvals`, { approvals: { call_r: true } });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ runId: 'r-approve', stopReason: 'final', output: 'done: refunded 4711' });
    expect(refunded).toEqual(['4711']);
    const status = (await (await fetch(`${served.url}/v1/runs/r-approve`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ status: 'completed', result: { runId: 'r-approve', output: 'done: refunded 4711', stopReason: 'final' } });
    // The status's result leaves the conversation out, as every answer does.
    expect(status.result).not.toHaveProperty('messages');
    // Both parts reached the outputs, and the trace: the resumed run span continues the first's trace.
    expect(served.outcomes.map((o) => o.ok && o.result.stopReason)).toEqual(['interrupted', 'final']);
    const runs = served.spans.spans().filter((s) => s.name === 'invoke_agent support');
    expect(runs).toHaveLength(2);
    expect(runs[1]!.spanContext().traceId).toBe(runs[0]!.spanContext().traceId);

    // The event log holds both parts: a stream ends at the interruption's run-end, and reconnecting
    // with its id gives the resumed part, its approval first, up to the final run-end.
    const part1 = await readSse(await fetch(`${served.url}/v1/runs/r-approve/events`));
    expect(part1.at(-1)?.event).toBe('run-end');
    expect(JSON.parse(part1.at(-1)!.data)).toMatchObject({ result: { stopReason: 'interrupted' } });
    const part2 = await readSse(await fetch(`${served.url}/v1/runs/r-approve/events`, { headers: { 'last-event-id': part1.at(-1)!.id! } }));
    expect(part2.map((e) => e.event).slice(0, 2)).toEqual(['run-start', 'approval']);
    expect(JSON.parse(part2[1]!.data)).toMatchObject({ toolCallId: 'call_r', approved: true });
    expect(JSON.parse(part2.at(-1)!.data)).toMatchObject({ type: 'run-end', result: { stopReason: 'final' } });
  });

  it('deny: the model is told the reason, the tool never runs', async () => {
    const { support, refunded } = refundAgent();
    served = await startServed({ agent: support });
    await postRun(served.url, { input: 'Refund 4711', runId: 'r-deny' });
    const denied = await post(`${served.url}/v1/runs/r-deny/approvals`, { approvals: { call_r: { approved: false, reason: 'not eligible' } } });
    expect(denied.status).toBe(200);
    const body = (await denied.json()) as { output: string; stopReason: string };
    expect(body.stopReason).toBe('final');
    expect(body.output).toContain('denied');
    expect(body.output).toContain('not eligible');
    expect(refunded).toEqual([]);
  });

  it('answers 404 for an unknown run, 400 for a malformed decision', async () => {
    const { support } = refundAgent();
    served = await startServed({ agent: support });
    const unknown = await post(`${served.url}/v1/runs/nope/approvals`, { approvals: { c: true } });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'run_not_found', runId: 'nope' } });
    const status = await fetch(`${served.url}/v1/runs/nope`);
    expect(status.status).toBe(404);
    expect(await status.json()).toMatchObject({ error: { type: 'run_not_found' } });
    const malformed = await post(`${served.url}/v1/runs/nope/approvals`, { approvals: { c: 'yes' } });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { type: 'invalid_input', field: 'approvals.c' } });

    await postRun(served.url, { input: 'Refund 4711', runId: 'r-wrong-call' });
    const wrongCall = await post(`${served.url}/v1/runs/r-wrong-call/approvals`, { approvals: { call_other: true } });
    expect(wrongCall.status).toBe(400);
    expect(await wrongCall.json()).toMatchObject({ error: { type: 'invalid_approvals', message: expect.stringContaining('call_r'), runId: 'r-wrong-call' } });
    expect(await (await fetch(`${served.url}/v1/runs/r-wrong-call`)).json()).toMatchObject({ status: 'interrupted' });
  });
});

describe('cancel over HTTP', () => {
  it('aborts an in-flight run: its caller gets 503 aborted with the run id; cancelling again is 409, an unknown run 404', async () => {
    const g = new Gate();
    served = await startServed({ agent: gatedAgent(g) });
    const inFlight = postRun(served.url, { input: 'wait', runId: 'r-cancel' });
    await g.until(1);
    const cancel = await post(`${served.url}/v1/runs/r-cancel/cancel`, {});
    expect(cancel.status).toBe(202);
    expect(await cancel.json()).toEqual({ runId: 'r-cancel', cancelled: true });
    const response = await inFlight;
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { type: 'RunAbortedError', stopReason: 'aborted', runId: 'r-cancel' } });
    expect(await (await fetch(`${served.url}/v1/runs/r-cancel`)).json()).toMatchObject({ status: 'failed', error: { stopReason: 'aborted' } });

    const again = await post(`${served.url}/v1/runs/r-cancel/cancel`, {});
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { type: 'run_not_running' } });
    expect((await post(`${served.url}/v1/runs/nope/cancel`, {})).status).toBe(404);
    g.open();
  });
});

describe('run events over SSE', () => {
  const ids = (events: EventSourceMessage[]) => events.map((e) => e.id);

  it('streams a finished run’s logged events with ids, ending at run-end; Last-Event-ID gives only the later ones', async () => {
    served = await startServed({ agent: echoAgent() });
    await postRun(served.url, { input: 'hello', runId: 'r-events' });
    const all = await readSse(await fetch(`${served.url}/v1/runs/r-events/events`));
    expect(all[0]?.event).toBe('run-start');
    expect(all.at(-1)?.event).toBe('run-end');
    expect(all.every((e) => e.id !== undefined && e.id !== '')).toBe(true);
    expect(new Set(ids(all)).size).toBe(all.length);
    for (const e of all) expect((JSON.parse(e.data) as { type: string }).type).toBe(e.event);
    expect(JSON.parse(all.at(-1)!.data)).toMatchObject({ result: { runId: 'r-events', output: 'echo: hello' } });

    const resumed = await readSse(await fetch(`${served.url}/v1/runs/r-events/events`, { headers: { 'last-event-id': all[1]!.id! } }));
    expect(ids(resumed)).toEqual(ids(all).slice(2));
  });

  it('follows a live run from its events endpoint until run-end', async () => {
    const g = new Gate();
    served = await startServed({ agent: gatedAgent(g) });
    const run = postRun(served.url, { input: 'wait', runId: 'r-live' });
    await g.until(1);
    const stream = await fetch(`${served.url}/v1/runs/r-live/events`);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    const events = readSse(stream);
    g.open();
    expect((await run).status).toBe(200);
    const types = (await events).map((e) => e.event);
    expect(types[0]).toBe('run-start');
    expect(types).toContain('tool-call-end');
    expect(types.at(-1)).toBe('run-end');
  });

  it('ends a failed run’s stream at run-error, with a safe message', async () => {
    const failing = agent({
      name: 'failing',
      instructions: '',
      model: scriptedModel({
        respond: () => {
          throw new Error('upstream text the caller must not see');
        },
      }),
    });
    served = await startServed({ agent: failing });
    await postRun(served.url, { input: 'x', runId: 'r-fail' });
    const events = await readSse(await fetch(`${served.url}/v1/runs/r-fail/events`));
    expect(events.at(-1)?.event).toBe('run-error');
    expect(events.map((e) => e.data).join('\n')).not.toContain('upstream text');
  });

  it('ends a stream still waiting for events when the drain begins, so the drain does not wait for it', async () => {
    const { support } = refundAgent();
    served = await startServed({ agent: support });
    await postRun(served.url, { input: 'Refund 4711', runId: 'r-waiting' });
    const logged = await readSse(await fetch(`${served.url}/v1/runs/r-waiting/events`));
    // After the interruption's run-end nothing comes until someone decides: the stream waits.
    const waiting = readSse(await fetch(`${served.url}/v1/runs/r-waiting/events`, { headers: { 'last-event-id': logged.at(-1)!.id! } }));
    expect(await Promise.race([waiting.then(() => 'ended'), new Promise((resolve) => setTimeout(resolve, 200, 'waiting'))])).toBe('waiting');
    // The default drain deadline is 30 s: only the drain's start can end the stream this soon.
    await served.server.stop();
    expect(await waiting).toEqual([]);
    served = undefined;
  });

  it('answers 404 for the events of an unknown run', async () => {
    served = await startServed({ agent: echoAgent() });
    const response = await fetch(`${served.url}/v1/runs/nope/events`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { type: 'run_not_found' } });
  });
});
