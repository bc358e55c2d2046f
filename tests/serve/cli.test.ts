import { mkdtemp } from 'node:fs/promises';
import { Agent as HttpAgent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { startServeChild, type ServeChild } from './cli-support.js';
import { postRun } from './http-support.js';
import { SLOW_TOOL_STARTED } from './slow-agent.js';
import { CHILD_PROCESS_TEST_MS } from '../support/timeouts.js';

const slowAgent = join(import.meta.dirname, 'slow-agent.ts');

/** Waits (up to 20 s: tsx children start slowly on a loaded machine) until `n` slow tool calls have started. */
async function toolsStarted(serve: ServeChild, n: number): Promise<void> {
  await vi.waitFor(() => expect(serve.stderr().split(SLOW_TOOL_STARTED).length - 1).toBe(n), { timeout: 20_000, interval: 20 });
}

async function traceFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'tracebound-serve-cli-')), 'traces.jsonl');
}

describe('tracebound serve (CLI)', { timeout: CHILD_PROCESS_TEST_MS }, () => {
  it('on SIGTERM with 20 runs in flight: finishes all 20, flushes their spans, exits 0', async () => {
    const file = await traceFile();
    const serve = await startServeChild([slowAgent, '--port', '0', '--trace-file', file, '--concurrency', '32'], { SLOW_TOOL_MS: '1500' });
    const started = Date.now();
    const requests = Array.from({ length: 20 }, (_, i) => postRun(serve.url, { input: `run ${i}` }, { 'x-request-id': `r${i}` }));
    await toolsStarted(serve, 20);
    serve.child.kill('SIGTERM');
    const responses = await Promise.all(requests);
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { output: string; stopReason: string }[];
    expect(bodies.every((b) => b.output === 'Finished.' && b.stopReason === 'final')).toBe(true);
    expect(await serve.exited).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(serve.stderr()).toContain('SIGTERM: draining');

    const spans = await readTraceFile(file);
    const runs = spans.filter((s) => s.name === 'invoke_agent slow');
    expect(runs.map((s) => s.attributes[ATTR.serveMessageId]).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`).sort());
    expect(runs.every((s) => s.attributes[ATTR.stopReason] === 'final')).toBe(true);
    // run, 2 steps, 2 chats, 1 tool call: 6 spans each.
    expect(spans).toHaveLength(120);
  });

  it('exits at once on a second signal, without waiting for the drain', async () => {
    const serve = await startServeChild([slowAgent, '--port', '0', '--trace-file', await traceFile()], { SLOW_TOOL_MS: '20000' });
    const request = postRun(serve.url, { input: 'never mind' }).catch((error: unknown) => error);
    await toolsStarted(serve, 1);
    const started = Date.now();
    serve.child.kill('SIGTERM');
    await vi.waitFor(() => expect(serve.stderr()).toContain('SIGTERM: draining'), { timeout: 20_000, interval: 20 });
    serve.child.kill('SIGINT');
    expect(await serve.exited).toBe(1);
    // Far below the 20 s tool it would otherwise drain (the margin is for a loaded machine).
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await request).toBeInstanceOf(Error);
  });

  it('on SIGTERM with a stalled request body and an idle keep-alive connection: closes both at the drain deadline, flushes spans, exits 0', async () => {
    const file = await traceFile();
    const serve = await startServeChild([slowAgent, '--port', '0', '--trace-file', file, '--drain-timeout', '500'], { SLOW_TOOL_MS: '1' });
    const done = await postRun(serve.url, { input: 'quick' }, { 'x-request-id': 'finished-before' });
    expect(done.status).toBe(200);
    // An idle kept-alive connection.
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const { idleClosed } = await new Promise<{ idleClosed: Promise<void> }>((resolve, reject) =>
      request(new URL('/healthz', serve.url), { agent: keepAlive }, (res) => {
        const socket = res.socket;
        res.resume();
        res.on('end', () => resolve({ idleClosed: new Promise((closed) => socket.once('close', () => closed())) }));
      })
        .on('error', reject)
        .end(),
    );
    // A request whose body stops after 10 of its 1,000 bytes.
    const stalled = request(new URL('/v1/runs', serve.url), { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '1000' } });
    stalled.on('error', () => {});
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
    stalled.write('{"input": "');
    await new Promise((resolve) => setTimeout(resolve, 200)); // the server is reading it

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    await Promise.all([stalledClosed, idleClosed]);
    keepAlive.destroy();
    expect(serve.stderr()).toContain('drained');
    const runs = (await readTraceFile(file)).filter((s) => s.name === 'invoke_agent slow');
    expect(runs.map((s) => s.attributes[ATTR.serveMessageId])).toEqual(['finished-before']);
  });

  it('serves a module exporting `agents` by name, behind the token from TRACEBOUND_SERVE_TOKEN', async () => {
    const token = 'tok-from-env-123';
    const served = await startServeChild([join(import.meta.dirname, 'two-agents.ts'), '--port', '0', '--exporter', 'none'], { TRACEBOUND_SERVE_TOKEN: token });
    try {
      const auth = { authorization: `Bearer ${token}` };
      expect((await postRun(served.url, { input: 'hi' })).status).toBe(401);
      expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
      expect(await (await postRun(served.url, { input: 'hi' }, auth)).json()).toMatchObject({ output: 'first: hi' });
      const second = await fetch(`${served.url}/v1/agents/second/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ input: 'yo' }) });
      expect(await second.json()).toMatchObject({ output: 'second: yo' });
      expect(served.stdout()).toContain('bearer token required');
    } finally {
      served.child.kill('SIGTERM');
      expect(await served.exited).toBe(0);
    }
    expect(served.stdout() + served.stderr()).not.toContain(token);
  });

  it('exits 2 on bad usage, naming the flag', async () => {
    await expect(startServeChild([slowAgent, '--port', 'eighty'])).rejects.toThrow(/exited with 2: tracebound serve: --port must be an integer >= 0, got "eighty"/);
  });

  it("uses the agent module's exported input schema: its fields are validated and it shapes the run's input", async () => {
    const served = await startServeChild([join(import.meta.dirname, 'schema-agent.ts'), '--port', '0', '--exporter', 'none']);
    try {
      const ok = await postRun(served.url, { city: 'Oslo' });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { output: string }).output).toBe('Asked: Weather in Oslo?');
      const bad = await postRun(served.url, { input: 'Weather?' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('city');
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  });
});
