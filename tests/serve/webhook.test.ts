import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { webhookOutput, webhookSignature } from '../../src/serve/outputs/webhook.js';
import { serve } from '../../src/serve/serve.js';
import type { Input, RunOutcome } from '../../src/serve/types.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { echoAgent } from './http-support.js';

const SECRET = 'shh-shared';

interface Received {
  at: number;
  body: string;
  signature: string | undefined;
}

/** A receiver on 127.0.0.1 answering each request with the next scripted status (then 200). */
async function receiver(statuses: { status: number; headers?: Record<string, string> }[]) {
  const received: Received[] = [];
  const server: HttpServer = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    received.push({ at: Date.now(), body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['x-tracebound-signature']?.toString() });
    const next = statuses.shift() ?? { status: 200 };
    res.writeHead(next.status, next.headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

function validSignature(body: string, header: string | undefined): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`);
  return header !== undefined && header.length === expected.length && timingSafeEqual(Buffer.from(header), expected);
}

/** An input that hands the server one message when started. */
function oneMessage(payload: unknown): Input & { outcome: Promise<RunOutcome> } {
  let resolve!: (o: RunOutcome) => void;
  const outcome = new Promise<RunOutcome>((r) => (resolve = r));
  return {
    name: 'once',
    outcome,
    start: async (dispatcher) => void dispatcher.dispatch({ id: 'msg-1', payload, source: 'once' }).then(resolve),
    stop: async () => {},
  };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

describe('webhook output', () => {
  it('retries a receiver that fails twice, honours retry-after, delivers once with a valid signature, a span per attempt', async () => {
    const hook = await receiver([{ status: 503, headers: { 'retry-after': '1' } }, { status: 500 }]);
    cleanup.push(hook.close);
    const spans = collectSpans();
    const input = oneMessage({ input: 'ping' });
    const server = serve({
      agent: echoAgent(),
      runtime: tracedRuntime({ tracerProvider: spans.tracerProvider }),
      inputs: [input],
      outputs: [webhookOutput({ url: hook.url, secret: SECRET, backoffMs: 50, tracer: spans.tracerProvider.getTracer('test') })],
    });
    await server.start();
    await input.outcome;
    await server.stop(); // waits for the delivery

    expect(hook.received).toHaveLength(3);
    const [first, second, third] = hook.received as [Received, Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(950); // retry-after: 1
    expect(third.at - second.at).toBeLessThan(900); // backoff: 100 ms
    expect(new Set(hook.received.map((r) => r.body)).size).toBe(1);
    expect(validSignature(third.body, third.signature)).toBe(true);
    expect(JSON.parse(third.body)).toMatchObject({ id: 'msg-1', source: 'once', ok: true, result: { output: 'echo: ping', stopReason: 'final' } });

    const attempts = spans.spans().filter((s) => s.name === 'deliver webhook');
    expect(attempts.map((s) => [s.attributes[ATTR.deliveryAttempt], s.attributes[ATTR.httpResponseStatusCode], s.status.code])).toEqual([
      [1, 503, 2],
      [2, 500, 2],
      [3, 200, 0],
    ]);
  });

  it('gives up at once on a 4xx other than 408/425/429, and after maxAttempts on failures', async () => {
    const hook = await receiver([{ status: 400 }, { status: 502 }, { status: 502 }]);
    cleanup.push(hook.close);
    const failures: string[] = [];
    const output = webhookOutput({ url: hook.url, secret: SECRET, backoffMs: 10, maxAttempts: 2, onGiveUp: (e) => failures.push(e.message) });
    const outcome = { ok: false, message: { id: 'm', payload: {}, source: 't' }, error: { type: 'x', message: 'y' } } as const;
    await output.deliver(outcome);
    expect(hook.received).toHaveLength(1);
    await output.deliver(outcome);
    expect(hook.received).toHaveLength(3);
    expect(failures).toEqual([expect.stringContaining('answered 400'), expect.stringContaining('answered 502')]);
  });

  it('signs with HMAC-SHA256 of the body', () => {
    expect(webhookSignature('key', 'body')).toBe(`sha256=${createHmac('sha256', 'key').update('body').digest('hex')}`);
  });
});
