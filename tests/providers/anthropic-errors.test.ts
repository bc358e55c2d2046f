import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { AuthenticationError, ContextLengthExceededError } from '../../src/providers/errors.js';
import type { ModelRequest } from '../../src/providers/model.js';
import { modelCallFailure } from '../support/rejection.js';
import { MESSAGES, body, collect, exchange } from './anthropic-helpers.js';

let server: RecordedServer;
beforeAll(async () => {
  server = await startRecordedServer();
});
afterAll(() => server.close());

const KEY = 'sk-ant-test';
const model = () => anthropic('claude-sonnet-4-0', { baseURL: server.url, apiKey: KEY });
const request: ModelRequest = { messages: [{ role: 'user', content: 'hi' }], tools: [] };

const failure = (promise: Promise<unknown>) => modelCallFailure(promise, 'anthropic', KEY);

describe('HTTP errors from recorded bodies', () => {
  it('429 rate_limit_error (anthropic-sdk-python snapshot) → rate_limit, retryable, request id', async () => {
    const recorded = body('error-429-rate-limit.json');
    server.enqueue(MESSAGES, await exchange('error-429-rate-limit.json'));
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('rate_limit');
    expect(err.status).toBe(429);
    expect(err.retryable).toBe(true);
    expect(err.requestId).toBeUndefined(); // the recorder kept no request-id header
    expect(err.message).toContain(recorded.error.message);
    expect(err.retryAfterMs).toBeUndefined(); // nor a retry-after header
    expect(err.cause).toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('429 with a retry-after header → retryAfterMs', async () => {
    // The recording above kept no retry-after header; the header value here is test input.
    const recorded = await exchange('error-429-rate-limit.json');
    server.enqueue(MESSAGES, { ...recorded, headers: { ...recorded.headers, 'retry-after': '7' } });
    const err = await failure(model().generate(request));
    expect(err.retryAfterMs).toBe(7000);
  });

  it('500 api_error (gptme PR #745 log) → server_error with the request id', async () => {
    const recorded = body('error-500-api-error.json');
    server.enqueue(MESSAGES, { ...(await exchange('error-500-api-error.json')), headers: { 'request-id': recorded.request_id } });
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('server_error');
    expect(err.status).toBe(500);
    expect(err.requestId).toBe(recorded.request_id);
    expect(err.retryable).toBe(true);
  });

  it('529 overloaded_error (freeideas/vecsum log) → overloaded', async () => {
    server.enqueue(MESSAGES, await exchange('error-529-overloaded.json'));
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('overloaded');
    expect(err.status).toBe(529);
    expect(err.retryable).toBe(true);
  });

  it('400 prompt too long (Troll-LLM production log) → ContextLengthExceededError, not retryable', async () => {
    const recorded = body('error-400-prompt-too-long.json');
    server.enqueue(MESSAGES, await exchange('error-400-prompt-too-long.json'));
    const err = await failure(model().generate(request));
    expect(err).toBeInstanceOf(ContextLengthExceededError);
    expect(err.kind).toBe('context_length_exceeded');
    expect(err.status).toBe(400);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(recorded.error.message);
  });

  it('another 400 invalid_request_error (pydantic-ai cassette) → invalid_request, not a context error', async () => {
    server.enqueue(MESSAGES, await exchange('error-400-invalid-request.json'));
    const err = await failure(model().generate(request));
    expect(err).not.toBeInstanceOf(ContextLengthExceededError);
    expect(err.kind).toBe('invalid_request');
  });

  it('maps an error before a stream starts too', async () => {
    server.enqueue(MESSAGES, await exchange('error-529-overloaded.json'));
    const err = await failure(collect(model().stream(request)));
    expect(err.kind).toBe('overloaded');
  });
});

describe('401 authentication', () => {
  it('maps to AuthenticationError (status only: no recorded 401 body was found, see SOURCES.md)', async () => {
    server.enqueue(MESSAGES, { status: 401 });
    const err = await failure(model().generate(request));
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(err.kind).toBe('authentication');
    expect(err.retryable).toBe(false);
  });
});

describe('transport failures', () => {
  it('an aborted signal gives kind aborted', async () => {
    server.enqueue(MESSAGES, { ...(await exchange('text.json')), delayMs: 2_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await failure(model().generate({ ...request, signal: controller.signal }));
    expect(err.kind).toBe('aborted');
  });

  it('an abort during a stream gives kind aborted, not a partial response', async () => {
    server.enqueue(MESSAGES, await exchange('stream-thinking.sse'));
    const controller = new AbortController();
    const chunks: string[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of model().stream({ ...request, signal: controller.signal })) {
          chunks.push(chunk.type);
          controller.abort();
        }
      })(),
    );
    expect(err.kind).toBe('aborted');
    expect(chunks).not.toContain('response');
  });

  it('a refused connection gives kind connection', async () => {
    const closed = await startRecordedServer();
    const url = closed.url;
    await closed.close();
    const err = await failure(anthropic('claude-sonnet-4-0', { baseURL: url, apiKey: KEY }).generate(request));
    expect(err.kind).toBe('connection');
  });
});

describe('OpenTelemetry', () => {
  afterEach(() => {
    trace.disable();
    propagation.disable();
  });

  it('sends no traceparent from a client tracebound built, even with a global tracer provider', async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    server.enqueue(MESSAGES, await exchange('text.json'), await exchange('text.json'));
    const before = server.requests.length;

    await model().generate(request);
    // Control: a client with the SDK's default telemetry does inject one in this same setup,
    // so the assertion above it could fail.
    const own = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
    await anthropic('claude-sonnet-4-0', { client: own }).generate(request);

    expect(server.requests[before]?.headers['traceparent']).toBeUndefined();
    expect(server.requests[before + 1]?.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });
});
