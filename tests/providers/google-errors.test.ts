import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '@google/genai';
import { fileURLToPath } from 'node:url';
import { loadFixture, startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { google } from '../../src/providers/google.js';
import { AuthenticationError, ContextLengthExceededError } from '../../src/providers/errors.js';
import type { ModelRequest } from '../../src/providers/model.js';
import { modelCallFailure } from '../support/rejection.js';
import { body, collect, exchange, generatePath, streamPath } from './google-helpers.js';

let server: RecordedServer;
beforeAll(async () => {
  server = await startRecordedServer();
});
afterAll(() => server.close());

const KEY = 'gemini-test-key-0123456789';
const MODEL = 'gemini-2.5-flash';
const model = () => google(MODEL, { baseURL: server.url, apiKey: KEY });
const request: ModelRequest = { messages: [{ role: 'user', content: 'hi' }], tools: [] };

const failure = (promise: Promise<unknown>) => modelCallFailure(promise, 'gcp.gemini', KEY);

describe('HTTP errors from recorded bodies', () => {
  it('429 RESOURCE_EXHAUSTED (Roo-Code #3883) → rate_limit, retryable, retryAfterMs from RetryInfo.retryDelay', async () => {
    const recorded = body('error-429-retry-info.json');
    const retryInfo = recorded.error.details.find((d: { '@type': string }) => d['@type'].endsWith('google.rpc.RetryInfo'));
    expect(retryInfo.retryDelay).toBe('26s');
    server.enqueue(generatePath(MODEL), await exchange('error-429-retry-info.json'));
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('rate_limit');
    expect(err.status).toBe(429);
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(26_000);
    expect(err.message).toContain(recorded.error.message);
    expect(err.cause).toBeInstanceOf(ApiError);
  });

  it('500 INTERNAL (openai-gemini #15) → server_error, retryable, no delay of its own', async () => {
    server.enqueue(generatePath(MODEL), await exchange('error-500-internal.json'));
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('server_error');
    expect(err.status).toBe(500);
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('503 UNAVAILABLE "model is overloaded" (lobehub #9728) → server_error, retryable', async () => {
    server.enqueue(generatePath(MODEL), await exchange('error-503-unavailable.json'));
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('server_error');
    expect(err.status).toBe(503);
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('UNAVAILABLE: The model is overloaded');
  });

  it('400 missing thought_signature (obsidian-gemini #228) → invalid_request, not retryable', async () => {
    const recorded = body('error-400-missing-signature.json');
    server.enqueue(generatePath(MODEL), await exchange('error-400-missing-signature.json'));
    const err = await failure(model().generate(request));
    expect(err).not.toBeInstanceOf(ContextLengthExceededError);
    expect(err.kind).toBe('invalid_request');
    expect(err.status).toBe(400);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(recorded.error.message);
  });

  it('400 over the context window (gemini-cli #4231) → ContextLengthExceededError, not retryable', async () => {
    server.enqueue(generatePath(MODEL), await exchange('error-400-context-length.json'));
    const err = await failure(model().generate(request));
    expect(err).toBeInstanceOf(ContextLengthExceededError);
    expect(err.kind).toBe('context_length_exceeded');
    expect(err.retryable).toBe(false);
  });

  it('maps an error before a stream starts too, with the same retry delay', async () => {
    server.enqueue(streamPath(MODEL), await exchange('error-429-retry-info.json'));
    const err = await failure(collect(model().stream(request)));
    expect(err.kind).toBe('rate_limit');
    expect(err.retryAfterMs).toBe(26_000);
  });
});

describe('API key', () => {
  it('fails on the call, naming GEMINI_API_KEY, without sending a request, when there is none', async () => {
    const saved = { google: process.env['GOOGLE_API_KEY'], gemini: process.env['GEMINI_API_KEY'] };
    delete process.env['GOOGLE_API_KEY'];
    delete process.env['GEMINI_API_KEY'];
    try {
      const before = server.requests.length;
      const err = await failure(google(MODEL, { baseURL: server.url }).generate(request));
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(err.retryable).toBe(false);
      expect(err.message).toBe('gcp.gemini authentication: no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass google(model, { apiKey })');
      expect(server.requests.length).toBe(before);
    } finally {
      if (saved.google !== undefined) process.env['GOOGLE_API_KEY'] = saved.google;
      if (saved.gemini !== undefined) process.env['GEMINI_API_KEY'] = saved.gemini;
    }
  });

  it('takes GEMINI_API_KEY from the environment', async () => {
    const saved = { google: process.env['GOOGLE_API_KEY'], gemini: process.env['GEMINI_API_KEY'] };
    delete process.env['GOOGLE_API_KEY'];
    process.env['GEMINI_API_KEY'] = 'from-the-environment';
    try {
      server.enqueue(generatePath(MODEL), await exchange('text.json'));
      const before = server.requests.length;
      await google(MODEL, { baseURL: server.url }).generate(request);
      expect(server.requests[before]?.headers['x-goog-api-key']).toBe('from-the-environment');
    } finally {
      if (saved.google !== undefined) process.env['GOOGLE_API_KEY'] = saved.google;
      if (saved.gemini === undefined) delete process.env['GEMINI_API_KEY'];
      else process.env['GEMINI_API_KEY'] = saved.gemini;
    }
  });
});

describe('transport failures', () => {
  it('an aborted signal gives kind aborted', async () => {
    server.enqueue(generatePath(MODEL), { ...(await exchange('text.json')), delayMs: 2_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await failure(model().generate({ ...request, signal: controller.signal }));
    expect(err.kind).toBe('aborted');
  });

  it('an abort during a stream gives kind aborted, not a partial response', async () => {
    server.enqueue(streamPath('gemini-2.5-pro'), await exchange('stream-thoughts.sse'));
    const controller = new AbortController();
    const chunks: string[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of google('gemini-2.5-pro', { baseURL: server.url, apiKey: KEY }).stream({ ...request, signal: controller.signal })) {
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
    const err = await failure(google(MODEL, { baseURL: url, apiKey: KEY }).generate(request));
    expect(err.kind).toBe('connection');
    expect(err.retryable).toBe(true);
  });

  it('a 200 that is not Gemini\'s shape (another API\'s recorded answer, as a wrong baseURL gives) is response_invalid', async () => {
    const anthropicText = await loadFixture(fileURLToPath(new URL('../fixtures/anthropic/text.json', import.meta.url)));
    server.enqueue(generatePath(MODEL), anthropicText);
    const err = await failure(model().generate(request));
    expect(err.kind).toBe('response_invalid');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('has neither candidates nor promptFeedback');
  });
});
