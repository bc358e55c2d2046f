import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { webhookOutput } from '../../src/serve/outputs/webhook.js';
import { serve } from '../../src/serve/serve.js';
import type { Input, RunOutcome } from '../../src/serve/types.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { echoAgent } from './http-support.js';

/** A Standard Webhooks secret as an endpoint would issue it: `whsec_` + base64 of 32 random bytes. */
const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  at: number;
  body: string;
  headers: IncomingHttpHeaders;
}

/** A receiver on 127.0.0.1 answering each request with the next scripted status (then 200). */
async function receiver(statuses: { status: number; headers?: Record<string, string> }[]) {
  const received: Received[] = [];
  const server: HttpServer = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    received.push({ at: Date.now(), body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
    const next = statuses.shift() ?? { status: 200 };
    res.writeHead(next.status, next.headers).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The three Standard Webhooks headers of a received request, as the verifier takes them. */
function webhookHeaders(r: Received): Record<string, string> {
  return { 'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']) };
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

const outcome = { ok: false, message: { id: 'm', payload: {}, source: 't' }, error: { type: 'x', message: 'y' } } as const;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanup.splice(0)) await c();
});

describe('webhook output', () => {
  it('retries a receiver that answers 503 then 500, honours retry-after, delivers once verified by standardwebhooks, a span per attempt', async () => {
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
    // One message: every attempt carries the same id and body, each signed on its own.
    expect(new Set(hook.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(String(first.headers['webhook-id'])).toMatch(/^msg_/);
    expect(new Set(hook.received.map((r) => r.body)).size).toBe(1);
    const verifier = new Webhook(SECRET);
    for (const r of hook.received) expect(verifier.verify(r.body, webhookHeaders(r))).toMatchObject({ id: 'msg-1', source: 'once', ok: true });
    expect(JSON.parse(third.body)).toMatchObject({ result: { output: 'echo: ping', stopReason: 'final' } });
    // Another secret does not verify.
    expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(third.body, webhookHeaders(third))).toThrow(WebhookVerificationError);

    const attempts = spans.spans().filter((s) => s.name === 'deliver webhook');
    expect(attempts.map((s) => [s.attributes[ATTR.deliveryAttempt], s.attributes[ATTR.httpResponseStatusCode], s.status.code])).toEqual([
      [1, 503, 2],
      [2, 500, 2],
      [3, 200, 0],
    ]);
    // Each attempt's traceparent names its own delivery span.
    expect(hook.received.map((r) => r.headers.traceparent)).toEqual(attempts.map((s) => `00-${s.spanContext().traceId}-${s.spanContext().spanId}-01`));
  });

  it('a captured delivery replayed later fails verification: the timestamp is too old, and a fresh timestamp breaks the signature', async () => {
    const hook = await receiver([]);
    cleanup.push(hook.close);
    await webhookOutput({ url: hook.url, secret: SECRET }).deliver(outcome);
    const captured = hook.received[0]!;
    const verifier = new Webhook(SECRET);
    expect(verifier.verify(captured.body, webhookHeaders(captured))).toMatchObject({ id: 'm', ok: false });

    // Ten minutes later (standardwebhooks tolerates five).
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 10 * 60_000);
    expect(() => verifier.verify(captured.body, webhookHeaders(captured))).toThrow(/too old/);
    const refreshed = { ...webhookHeaders(captured), 'webhook-timestamp': String(Math.floor(Date.now() / 1_000)) };
    expect(() => verifier.verify(captured.body, refreshed)).toThrow(/No matching signature/);
  });

  it('gives up at once on a 4xx other than 408/425/429, and after maxAttempts on failures', async () => {
    const hook = await receiver([{ status: 400 }, { status: 502 }, { status: 502 }]);
    cleanup.push(hook.close);
    const failures: string[] = [];
    const output = webhookOutput({ url: hook.url, secret: SECRET, backoffMs: 10, maxAttempts: 2, onGiveUp: (e) => failures.push(e.message) });
    await output.deliver(outcome);
    expect(hook.received).toHaveLength(1);
    await output.deliver(outcome);
    expect(hook.received).toHaveLength(3);
    expect(failures).toEqual([expect.stringContaining('answered 400'), expect.stringContaining('answered 502')]);
  });

  it('retries a network error (nothing listening) until the attempts are used up', async () => {
    const hook = await receiver([]);
    await hook.close();
    const failures: Error[] = [];
    await webhookOutput({ url: hook.url, secret: SECRET, backoffMs: 1, maxAttempts: 3, onGiveUp: (e) => failures.push(e) }).deliver(outcome);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.message).toMatch(/^POST http:\/\/127\.0\.0\.1:\d+\/hook failed/);
  });

  it('refuses a secret that is not a Standard Webhooks secret', () => {
    expect(() => webhookOutput({ url: 'http://127.0.0.1:1/', secret: '' })).toThrow();
  });
});
