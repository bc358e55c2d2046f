/**
 * The HTTP input's hardening, over real sockets on 127.0.0.1: bearer auth, the body limit (by
 * declared length and by bytes read), a client that disconnects aborting its run, several agents
 * by name, the drain's 503s, and safe error messages.
 */
import { Agent as HttpAgent, request, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/create-runtime.js';
import { DefinitionError } from '../../src/errors.js';
import { agent } from '../../src/index.js';
import { serve } from '../../src/serve/serve.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { echoAgent, Gate, gatedAgent, postRun, readSse, startServed, type Served } from './http-support.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.server.stop();
  served = undefined;
});

const TOKEN = 's3cret-token-value';

interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Reads a node:http response whole. */
function answer(res: import('node:http').IncomingMessage): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (body += chunk));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    res.on('error', reject);
  });
}

/** Resolves once the promise settles, or with 'pending' if it has not after a few event-loop turns. */
async function settledSoon<T>(promise: Promise<T>): Promise<T | 'pending'> {
  let value: T | 'pending' = 'pending';
  void promise.then((v) => (value = v));
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return value;
}

describe('bearer-token auth', () => {
  it('answers 401 with a typed error without the token or with a wrong one, 200 with it; probes stay open', async () => {
    served = await startServed({ agent: echoAgent() }, { authToken: TOKEN });
    const none = await postRun(served.url, { input: 'hi' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toEqual({ error: { type: 'unauthorized', message: expect.stringContaining('Bearer') } });

    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${TOKEN}`, TOKEN, 'Bearer']) {
      const wrong = await postRun(served.url, { input: 'hi' }, { authorization });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).not.toContain(TOKEN);
    }
    // Every route but the probes is guarded, unknown ones included.
    expect((await fetch(`${served.url}/v1/conversations/c-1`)).status).toBe(401);
    expect((await fetch(`${served.url}/v1/runs/r-1`)).status).toBe(401);
    expect((await fetch(`${served.url}/nowhere`)).status).toBe(401);
    expect((await fetch(`${served.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${served.url}/readyz`)).status).toBe(200);

    const ok = await postRun(served.url, { input: 'hi' }, { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ output: 'echo: hi' });
    // Refused requests never ran.
    expect(served.outcomes).toHaveLength(1);
  });
});

describe('body limit', () => {
  it('answers 413 on a declared Content-Length over the limit, before any of the body is sent', async () => {
    served = await startServed({ agent: echoAgent() }, { maxBodyBytes: 1_024 });
    const url = new URL('/v1/runs', served.url);
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) } });
    // Only the headers go out: the answer must come without the body.
    req.flushHeaders();
    const res = await answer(await new Promise((resolve) => req.once('response', resolve)));
    req.destroy();
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(JSON.parse(res.body)).toEqual({ error: { type: 'payload_too_large', message: 'the body is over 1024 bytes' } });
    expect(served.outcomes).toHaveLength(0);
  });

  it('answers 413 to a chunked body without a length as soon as the bytes read pass the limit, though the body never ends', async () => {
    served = await startServed({ agent: echoAgent() }, { maxBodyBytes: 4_096 });
    const url = new URL('/v1/runs', served.url);
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    const response = new Promise<import('node:http').IncomingMessage>((resolve) => req.once('response', resolve));
    req.on('error', () => {}); // the server closes the connection after its answer
    let sent = 0;
    let answered = false;
    void response.then(() => (answered = true));
    // Keep sending 1 KiB chunks (never ending the body) until the server answers.
    while (!answered && sent < 64 * 1024 * 1024) {
      await new Promise<void>((resolve) => req.write('x'.repeat(1_024), () => resolve()));
      sent += 1_024;
    }
    const res = await answer(await response);
    req.destroy();
    expect(req.getHeader('content-length')).toBeUndefined();
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { type: 'payload_too_large' } });
    // It answered while the body was still coming: far below the 64 MiB the client would send.
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });

  it('accepts a chunked body under the limit', async () => {
    served = await startServed({ agent: echoAgent() }, { maxBodyBytes: 4_096 });
    const req = request(new URL('/v1/runs', served.url), { method: 'POST', headers: { 'content-type': 'application/json' } });
    const response = new Promise<import('node:http').IncomingMessage>((resolve) => req.once('response', resolve));
    req.write('{"input": ');
    req.end('"chunked"}');
    const res = await answer(await response);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ output: 'echo: chunked' });
  });
});

describe('a client that disconnects', () => {
  for (const mode of ['JSON', 'SSE'] as const) {
    it(`aborts its run at once (${mode}): the run fails with RunAbortedError and every span of it ends`, async () => {
      const g = new Gate();
      served = await startServed({ agent: gatedAgent(g) });
      const client = new AbortController();
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': `gone-${mode}` };
      if (mode === 'SSE') headers.accept = 'text/event-stream';
      const pending = fetch(`${served.url}/v1/runs`, { method: 'POST', headers, body: JSON.stringify({ input: 'wait' }), signal: client.signal });
      if (mode === 'SSE') {
        // The stream has started: read its first event, then leave.
        const response = await pending;
        const reader = response.body!.getReader();
        await reader.read();
      }
      await g.until(1);
      client.abort();
      await pending.catch(() => {});
      // The gate never opens: only the abort can end the run.
      await served.server.stop();
      expect(served.outcomes).toHaveLength(1);
      expect(served.outcomes[0]).toMatchObject({ ok: false, message: { id: `gone-${mode}` }, error: { type: 'RunAbortedError', stopReason: 'aborted' } });
      const spans = served.spans.spans();
      const run = spans.find((s) => s.name === 'invoke_agent gated');
      expect(run?.attributes[ATTR.stopReason]).toBe('aborted');
      expect(spans.find((s) => s.name === 'execute_tool wait')).toBeDefined();
      // Ended spans only reach the collector: run, step, chat and tool, all of one trace.
      expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([run!.spanContext().traceId]));
      expect(spans.some((s) => s.name.startsWith('chat '))).toBe(true);
      served = undefined;
    });
  }
});

describe('several agents', () => {
  const named = (name: string) =>
    agent({ name, instructions: '', model: scriptedModel({ respond: (request) => ({ text: `${name}: ${String(request.messages.at(-1)?.content)}` }) }) });

  it('runs POST /v1/agents/{name}/runs on that agent, POST /v1/runs on the first, and 404s an unknown name', async () => {
    served = await startServed({ agents: [named('alpha'), named('beta')] });
    const beta = await fetch(`${served.url}/v1/agents/beta/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'hi' }) });
    expect(await beta.json()).toMatchObject({ output: 'beta: hi' });
    const alphaByName = await fetch(`${served.url}/v1/agents/alpha/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'yo' }) });
    expect(await alphaByName.json()).toMatchObject({ output: 'alpha: yo' });
    expect(await (await postRun(served.url, { input: 'default' })).json()).toMatchObject({ output: 'alpha: default' });

    const unknown = await fetch(`${served.url}/v1/agents/gamma/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: 'hi' }) });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'agent_not_found' } });
    const spans = served.spans.spans().filter((s) => s.name.startsWith('invoke_agent'));
    expect(spans.map((s) => s.name).sort()).toEqual(['invoke_agent alpha', 'invoke_agent alpha', 'invoke_agent beta']);
  });

  it('refuses two agents of one name at serve() with a DefinitionError naming both and what to do; one agent given twice is fine', () => {
    const alpha = named('alpha');
    const refused = (options: Parameters<typeof serve>[0]) => {
      try {
        serve(options);
      } catch (error) {
        return error;
      }
      throw new Error('serve() accepted the agents');
    };
    const twins = refused({ agents: [alpha, named('beta'), named('alpha')], inputs: [] });
    expect(twins).toBeInstanceOf(DefinitionError);
    expect(twins).toMatchObject({
      field: 'agents[2].name',
      message: 'serve(): agents[2].name repeats "alpha", the name of agents[0]: requests pick an agent by name, so give each agent its own name in agent({ name })',
    });
    expect(refused({ agent: alpha, agents: [named('alpha')], inputs: [] })).toMatchObject({ field: 'agents[0].name', message: expect.stringContaining('the name of agent:') });
    expect(refused({ inputs: [] })).toMatchObject({ name: 'DefinitionError', field: 'agent', message: 'serve(): agent is missing: give `agent` or `agents` (at least one agent)' });
    expect(() => serve({ agent: alpha, agents: [alpha], runtime: createRuntime(), inputs: [] })).not.toThrow();
  });

  it('serves the given runId: on the answer and the run span', async () => {
    served = await startServed({ agent: echoAgent() });
    const body = (await (await postRun(served.url, { input: 'hi', runId: 'r-given-1' })).json()) as { runId: string };
    expect(body.runId).toBe('r-given-1');
    expect(served.spans.spans().find((s) => s.name === 'invoke_agent echo')?.attributes[ATTR.runId]).toBe('r-given-1');
  });
});

describe('drain', () => {
  it('answers requests arriving during the drain 503 with a typed error and connection: close, on new and kept-alive connections', async () => {
    const g = new Gate();
    served = await startServed({ agent: gatedAgent(g) });
    const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
    const post = (body: unknown) =>
      new Promise<RawAnswer>((resolve, reject) => {
        const text = JSON.stringify(body);
        const req = request(new URL('/v1/runs', served!.url), { method: 'POST', agent: keepAlive, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) =>
          void answer(res).then(resolve, reject),
        );
        req.on('error', reject);
        req.end(text);
      });
    // A kept-alive connection, idle once this answer is read.
    const health = await new Promise<RawAnswer>((resolve, reject) => request(new URL('/healthz', served!.url), { agent: keepAlive }, (res) => void answer(res).then(resolve, reject)).end());
    expect(health.status).toBe(200);

    const inFlight = postRun(served.url, { input: 'slow' });
    await g.until(1);
    const stopped = served.server.stop();
    const late = await post({ input: 'late' }); // over the kept-alive connection
    expect(late.status).toBe(503);
    expect(late.headers.connection).toBe('close');
    expect(late.headers['retry-after']).toBe('1');
    expect(JSON.parse(late.body)).toEqual({ error: { type: 'draining', message: expect.any(String) } });
    const fresh = await postRun(served.url, { input: 'late too' });
    expect(fresh.status).toBe(503);
    expect((await fetch(`${served.url}/v1/runs/whatever`)).status).toBe(503);
    // The in-flight run still finishes.
    g.open();
    expect((await inFlight).status).toBe(200);
    await stopped;
    keepAlive.destroy();
    expect(served.outcomes).toHaveLength(1);
  });

  it('closes a stalled request body at the drain deadline, so stop() resolves whatever the client does', async () => {
    // Long enough that a loaded machine's stall does not reach it before the check below.
    served = await startServed({ agent: echoAgent(), drainTimeoutMs: 2_000 });
    // Node's server answers `100 Continue` once it has the request's headers: then it is reading it.
    const req = request(new URL('/v1/runs', served.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': '100', expect: '100-continue' },
    });
    const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
    req.on('error', () => {});
    await new Promise((resolve) => req.once('continue', resolve));
    req.write('{"input": "');
    const stopped = served.server.stop();
    expect(await settledSoon(stopped)).toBe('pending'); // the drain waits for it...
    await stopped; // ...until the deadline closes it.
    await closed;
    expect(req.destroyed).toBe(true);
    expect(served.outcomes).toHaveLength(0);
  });
});

describe('errors returned to callers', () => {
  it('carry a type and a safe message: not the upstream text, nor a key it quotes', async () => {
    const leaky = agent({
      name: 'leaky',
      instructions: '',
      model: scriptedModel({
        respond: () => {
          throw new Error('upstream said: invalid key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD for org-internal-detail');
        },
      }),
    });
    served = await startServed({ agent: leaky });
    const response = await postRun(served.url, { input: 'x' });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain('upstream said');
    expect(text).not.toContain('sk-proj');
    expect(JSON.parse(text)).toMatchObject({ error: { type: 'RunError', stopReason: 'error', message: expect.any(String), runId: expect.any(String) } });

    const events = await readSse(await postRun(served.url, { input: 'x' }, { accept: 'text/event-stream' }));
    expect(events.at(-1)?.event).toBe('run-error');
    expect(events.map((e) => e.data).join('\n')).not.toContain('upstream said');
  });

  it('answers unknown routes and methods with typed 404 and 405', async () => {
    served = await startServed({ agent: echoAgent() });
    const missing = await fetch(`${served.url}/v2/anything`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { type: 'not_found' } });
    const wrongMethod = await fetch(`${served.url}/v1/runs`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
  });
});
