import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent, tool } from '../../src/index.js';
import { httpInput } from '../../src/serve/inputs/http.js';
import { serve, type Server } from '../../src/serve/serve.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { echoAgent, Gate, gatedAgent, postRun, readSse, startServed, type Served } from './http-support.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.server.stop();
  served = undefined;
});

describe('HTTP input', () => {
  it('answers POST /v1/runs with the result as JSON and tags the run span with source and message id', async () => {
    served = await startServed({ agent: echoAgent() });
    const response = await postRun(served.url, { input: 'hello' }, { 'x-request-id': 'req-1' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ output: 'echo: hello', stopReason: 'final', steps: 1, toolCalls: 0 });
    expect(body.usage).toMatchObject({ inputTokens: 100, outputTokens: 20 });
    expect(body.costUsd).toBeGreaterThan(0);
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(Object.keys(body).sort()).toEqual(['costUsd', 'output', 'runId', 'steps', 'stopReason', 'toolCalls', 'traceId', 'usage']);

    const run = served.spans.spans().find((s) => s.name === 'invoke_agent echo');
    expect(run?.attributes[ATTR.runId]).toBe(body.runId);
    expect(run?.attributes[ATTR.serveSource]).toBe('http');
    expect(run?.attributes[ATTR.serveMessageId]).toBe('req-1');
    expect(served.outcomes).toHaveLength(1);
    expect(served.outcomes[0]).toMatchObject({ ok: true, message: { id: 'req-1', source: 'http' } });
  });

  it('answers a guardrail stop as a result (200) naming the guardrail, and a typed answer as its object', async () => {
    const model = scriptedModel({ respond: () => ({ text: '{"city":"Mexico City"}' }) });
    const guarded = agent({
      name: 'guarded',
      instructions: '',
      model,
      output: z.object({ city: z.string() }),
      guardrails: { input: [{ name: 'no_digits', check: (text) => (/\d/.test(text) ? { ok: false, reason: 'has digits' } : { ok: true }) }] },
    });
    served = await startServed({ agent: guarded });
    const stopped = await postRun(served.url, { input: 'order 4711' });
    expect(stopped.status).toBe(200);
    expect(await stopped.json()).toMatchObject({ stopReason: 'guardrail', guardrail: { name: 'no_digits', stage: 'input', reason: 'has digits' }, steps: 0 });
    const answered = await postRun(served.url, { input: 'largest city of Mexico' });
    expect(await answered.json()).toMatchObject({ stopReason: 'final', output: { city: 'Mexico City' } });
  });

  it('answers the cost without float noise', async () => {
    // The demo's two gpt-4o-mini calls: $0.0000856 + $0.0001076, which add up to 0.00019319999999999998 in floats.
    const usages = [
      { inputTokens: 259, outputTokens: 78 },
      { inputTokens: 377, outputTokens: 85 },
    ];
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request, call) =>
        request.messages.some((m) => m.role === 'tool')
          ? { text: 'done', usage: usages[1]! }
          : { toolCalls: [{ id: `call_${call}`, name: 'noop', arguments: {} }], usage: usages[0]! },
    });
    const noop = tool({ name: 'noop', description: 'Does nothing.', parameters: z.object({}), execute: () => 'ok' });
    served = await startServed({ agent: agent({ name: 'two-calls', instructions: '', model, tools: [noop] }) });
    const body = (await (await postRun(served.url, { input: 'go' })).json()) as { costUsd: number; steps: number };
    expect(body.steps).toBe(2);
    expect(0.0000856 + 0.0001076).not.toBe(0.0001932);
    expect(body.costUsd).toBe(0.0001932);
  });

  it('streams the run as server-sent events when asked, ending with run-end', async () => {
    served = await startServed({ agent: echoAgent() });
    const response = await postRun(served.url, { input: 'stream me' }, { accept: 'text/event-stream' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const events = await readSse(response);
    const types = events.map((e) => e.event);
    expect(types[0]).toBe('run-start');
    expect(types.at(-1)).toBe('run-end');
    expect(types).toContain('text-delta');
    for (const e of events) expect((JSON.parse(e.data) as { type: string }).type).toBe(e.event);
    const end = JSON.parse(events.at(-1)!.data) as { result: { output: string; stopReason: string } };
    expect(end.result).toMatchObject({ output: 'echo: stream me', stopReason: 'final' });
  });

  it('ends an SSE stream with a run-error event (a safe message) when the run fails after it started', async () => {
    const failing = agent({
      name: 'failing',
      instructions: 'x',
      model: scriptedModel({ respond: [{ toolCalls: [{ id: 'c1', name: 'nope', arguments: {} }] }] }),
    });
    served = await startServed({ agent: failing });
    const events = await readSse(await postRun(served.url, { input: 'x' }, { accept: 'text/event-stream' }));
    expect(events[0]?.event).toBe('run-start');
    expect(events.at(-1)?.event).toBe('run-error');
    expect(JSON.parse(events.at(-1)!.data)).toEqual({ type: 'run-error', stopReason: 'error', error: { type: expect.any(String), message: 'the run failed: its trace has the details' } });
  });

  it('answers 400 naming the field for invalid input, records it, and does not run it', async () => {
    served = await startServed({ agent: echoAgent() });
    const missing = await postRun(served.url, { question: 'hi' });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: { type: 'invalid_input', field: 'input' } });

    const wrongType = await postRun(served.url, { input: 'hi', conversationId: 7 });
    expect(await wrongType.json()).toMatchObject({ error: { type: 'invalid_input', field: 'conversationId' } });

    const notJson = await postRun(served.url, '{"input": ');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: { type: 'invalid_input', field: '(body)' } });

    const names = served.spans.spans().map((s) => s.name);
    expect(names.filter((n) => n === 'invalid_input http')).toHaveLength(2);
    expect(names.some((n) => n.startsWith('invoke_agent'))).toBe(false);
    expect(served.outcomes.map((o) => !o.ok && o.error.field)).toEqual(['input', 'conversationId']);
  });

  it('validates with the agent’s own schema when given one', async () => {
    const { z } = await import('zod');
    const inputSchema = z.object({ question: z.string() }).transform((p) => ({ input: p.question }));
    served = await startServed({ agent: echoAgent(), inputSchema });
    expect(await (await postRun(served.url, { question: 'own' })).json()).toMatchObject({ output: 'echo: own' });
    expect(await (await postRun(served.url, { input: 'own' })).json()).toMatchObject({ error: { field: 'question' } });
  });

  it('answers a budget stop as a result (200 with stopReason), not an error', async () => {
    const looping = agent({
      name: 'looping',
      instructions: 'x',
      budget: { maxSteps: 1 },
      model: scriptedModel({ respond: () => ({ toolCalls: [{ id: 'c', name: 'missing', arguments: {} }] }) }),
    });
    served = await startServed({ agent: looping });
    const response = await postRun(served.url, { input: 'go' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ stopReason: 'max_steps' });
  });

  it('answers 429 with retry-after when every slot and the backlog are taken', async () => {
    const g = new Gate();
    served = await startServed({ agent: gatedAgent(g), concurrency: 1, backlog: 1 });
    const first = postRun(served.url, { input: 'one' });
    await g.until(1);
    // Two more: whichever the server reads first waits in the backlog, which is then full, so
    // the other is answered at once (which one comes first is up to the machine).
    const more = [postRun(served.url, { input: 'two' }), postRun(served.url, { input: 'three' })];
    const refused = await Promise.race(more);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: { type: 'busy' } });
    g.open();
    expect((await first).status).toBe(200);
    expect((await Promise.all(more)).map((r) => r.status).sort()).toEqual([200, 429]);
  });

  it('keeps /healthz up and answers /readyz and new runs 503 while draining, finishing in-flight runs', async () => {
    const g = new Gate();
    served = await startServed({ agent: gatedAgent(g) });
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${served.url}/readyz`)).status).toBe(200);
    const inFlight = postRun(served.url, { input: 'slow' });
    await g.until(1);
    const stopped = served.server.stop();
    expect((await fetch(`${served.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect((await postRun(served.url, { input: 'late' })).status).toBe(503);
    g.open();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ output: 'waited' });
    await stopped;
    await expect(fetch(`${served.url}/healthz`)).rejects.toThrow();
  });

  it('aborts runs still going at the drain deadline (503 with stopReason aborted)', async () => {
    const g = new Gate();
    served = await startServed({ agent: gatedAgent(g), drainTimeoutMs: 100 });
    const inFlight = postRun(served.url, { input: 'slow' });
    await g.until(1);
    const stopped = served.server.stop();
    const response = await inFlight;
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ error: { stopReason: 'aborted' } });
    await stopped;
    g.open();
  });
});

describe('trace context', () => {
  let server: Server | undefined;
  afterEach(async () => server?.stop());

  it('continues the caller’s trace from traceparent: the run span’s parent is the caller’s span', async () => {
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-serve-')), 'traces.jsonl');
    const http = httpInput({ port: 0 });
    const runtime = tracedRuntime({ traceFile });
    server = serve({ agent: echoAgent(), runtime, inputs: [http] });
    await server.start();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parentId = '00f067aa0ba902b7';
    const response = await postRun(http.url, { input: 'traced' }, { traceparent: `00-${traceId}-${parentId}-01` });
    expect(await response.json()).toMatchObject({ traceId });
    await server.stop();
    await runtime.shutdown();
    const spans = await readTraceFile(traceFile);
    const run = spans.find((s) => s.name === 'invoke_agent echo');
    expect(run).toMatchObject({ traceId, parentSpanId: parentId });
    expect(spans.filter((s) => s.traceId === traceId)).toHaveLength(3);
  });
});
