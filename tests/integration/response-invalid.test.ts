/**
 * A 200 whose body (or a stream event) is not the provider's shape fails at once as
 * `response_invalid`, naming the field, and is not retried (issue 10, defect 8). The official SDKs
 * against the recorded server; each body is a recorded fixture with one field removed or retyped,
 * as a server that is not the provider's API (or a broken proxy) would answer.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { RunError } from '../../src/errors.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { ModelCallError } from '../../src/providers/errors.js';
import type { Model } from '../../src/providers/model.js';
import { openai } from '../../src/providers/openai.js';
import type { RecordedExchange } from '../../src/testing/recorded-server.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';
import { body, drain, expectAllEnded, harness, sseText, type Harness, type Json, type Provider } from './support.js';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

/** A recorded JSON body, changed by `edit`. */
function editedJson(provider: Provider, name: string, edit: (b: Json) => void): RecordedExchange {
  const b = body(provider, name);
  edit(b);
  return { json: b };
}

/** A recorded stream with the first event that `pick` selects changed by `edit`. */
function editedSse(provider: Provider, name: string, pick: (e: Json) => boolean, edit: (e: Json) => void): RecordedExchange {
  let done = false;
  const lines = sseText(provider, name)
    .split('\n')
    .map((line) => {
      if (done || !line.startsWith('data: ') || line === 'data: [DONE]') return line;
      const event = JSON.parse(line.slice('data: '.length)) as Json;
      if (!pick(event)) return line;
      done = true;
      edit(event);
      return `data: ${JSON.stringify(event)}`;
    });
  expect(done, `${name} has the event to edit`).toBe(true);
  return { sse: lines.join('\n') };
}

interface Case {
  title: string;
  path: string;
  streamed: boolean;
  model: (h: Harness) => Model;
  answer: () => RecordedExchange;
  /** The field the error must name. */
  field: string;
}

const chat = (h: Harness) => openai('gpt-4o-mini', { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test' });
const responses = (h: Harness) => openai('gpt-4o-mini', { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test', api: 'responses' });
const claude = (h: Harness) => anthropic('claude-sonnet-4-5', { baseURL: h.server.url, apiKey: 'sk-ant-test' });

const cases: Case[] = [
  {
    title: 'openai chat: a body without choices (chat-cached.json)',
    path: '/v1/chat/completions',
    streamed: false,
    model: chat,
    answer: () => editedJson('openai', 'chat-cached.json', (b) => delete b.choices),
    field: 'choices',
  },
  {
    title: 'openai chat: a token count of the wrong type (chat-cached.json)',
    path: '/v1/chat/completions',
    streamed: false,
    model: chat,
    answer: () => editedJson('openai', 'chat-cached.json', (b) => (b.usage.prompt_tokens = String(b.usage.prompt_tokens))),
    field: 'usage.prompt_tokens',
  },
  {
    title: 'openai chat, streamed: a chunk without choices (chat-stream-cached.sse)',
    path: '/v1/chat/completions',
    streamed: true,
    model: chat,
    answer: () => editedSse('openai', 'chat-stream-cached.sse', (e) => Array.isArray(e.choices), (e) => delete e.choices),
    field: 'choices',
  },
  {
    title: 'openai responses: a body without output (responses-text.json)',
    path: '/v1/responses',
    streamed: false,
    model: responses,
    answer: () => editedJson('openai', 'responses-text.json', (b) => delete b.output),
    field: 'output',
  },
  {
    title: 'openai responses, streamed: response.completed without output (responses-stream-answer.sse)',
    path: '/v1/responses',
    streamed: true,
    model: responses,
    answer: () => editedSse('openai', 'responses-stream-answer.sse', (e) => e.type === 'response.completed', (e) => delete e.response.output),
    field: 'response.output',
  },
  {
    title: 'anthropic: a body without content (text.json)',
    path: '/v1/messages',
    streamed: false,
    model: claude,
    answer: () => editedJson('anthropic', 'text.json', (b) => delete b.content),
    field: 'content',
  },
  {
    title: 'anthropic, streamed: a text delta of the wrong type (stream-text.sse)',
    path: '/v1/messages',
    streamed: true,
    model: claude,
    answer: () => editedSse('anthropic', 'stream-text.sse', (e) => e.delta?.type === 'text_delta', (e) => (e.delta.text = 42)),
    field: 'delta.text',
  },
];

describe('a 200 that is not the provider shape', () => {
  it.each(cases)('$title: response_invalid, one request, the field named', async (c) => {
    // Answers enough for every retry, so a retry would show as a second request.
    const answer = c.answer();
    h.server.enqueue(c.path, answer, answer, answer);
    const a = agent({ name: 'shape', instructions: '', model: c.model(h) });

    const error = c.streamed ? (await drain(h.runtime.stream(a, 'hi'))).error : await h.runtime.run(a, 'hi').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunError);
    const cause = (error as RunError).cause;
    expect(cause).toBeInstanceOf(ModelCallError);
    expect((cause as ModelCallError).kind).toBe('response_invalid');
    expect((cause as ModelCallError).retryable).toBe(false);
    expect((cause as ModelCallError).message).toContain(`field "${c.field}"`);
    expect((cause as ModelCallError).message).toContain('baseURL');
    expect(h.server.requests).toHaveLength(1);

    const span = h.collector.spans().find((s) => s.name.startsWith('chat '));
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes[ATTR.errorType]).toBe('response_invalid');
    expect(span?.attributes[ATTR.retryAttempts]).toBe(0);
    expect(span?.events.filter((e) => e.name === EVENT.retry)).toEqual([]);
    expectAllEnded(h);
  });
});
