import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { google } from '../../src/providers/google.js';
import { ModelCallError } from '../../src/providers/errors.js';
import type { Message } from '../../src/messages.js';
import type { ModelResponse, ModelStreamChunk, ToolDefinition } from '../../src/providers/model.js';
import { body, collect, exchange, partsOf, semconvUsage, sseEvents, sseText, streamPath } from './google-helpers.js';

let server: RecordedServer;
beforeAll(async () => {
  server = await startRecordedServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

const model = (id: string) => google(id, { baseURL: server.url, apiKey: 'gemini-test-key' });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sent = (i = 0): any => server.requests[i]?.body;
const final = (chunks: ModelStreamChunk[]): ModelResponse => {
  const last = chunks.at(-1);
  if (last?.type !== 'response') throw new Error('the stream did not end with a response chunk');
  return last.response;
};
const deltas = (chunks: ModelStreamChunk[], type: 'text-delta' | 'reasoning-delta') =>
  chunks.flatMap((c) => (c.type === type ? [c.text] : []));

describe('stream: text (pydantic-ai test_google_model_stream)', () => {
  it('yields each text part as a delta, then the response with the LAST event\'s usage', async () => {
    const events = sseEvents('stream-text.sse');
    // The recording's point: an earlier event's provisional prompt count differs from the final one.
    expect(events[0].usageMetadata.promptTokenCount).not.toBe(events.at(-1).usageMetadata.promptTokenCount);
    server.enqueue(streamPath('gemini-2.0-flash-exp'), await exchange('stream-text.sse'));
    const chunks = await collect(model('gemini-2.0-flash-exp').stream({ messages: [{ role: 'user', content: 'What is the capital of France?' }], tools: [] }));
    expect(deltas(chunks, 'text-delta')).toEqual(partsOf(...events).map((p) => p.text));
    const res = final(chunks);
    expect(res.text).toBe(partsOf(...events).map((p) => p.text).join(''));
    expect(res.usage).toEqual(semconvUsage(events.at(-1).usageMetadata));
    expect(res.id).toBe(events[0].responseId);
    expect(res.model).toBe(events[0].modelVersion);
    expect(res.finishReason).toBe('stop');
    expect(server.requests[0]?.path).toBe(streamPath('gemini-2.0-flash-exp'));
  });

  it.each([
    ['between two events', (sse: string) => sse.indexOf('data:', sse.indexOf('data:') + 1)],
    ['inside an event', (sse: string) => sse.indexOf('data:', sse.indexOf('data:') + 1) + 40],
  ])('fails as a connection error, not a partial answer, when the body is cut %s', async (_where, cutAt) => {
    const sse = sseText('stream-text.sse');
    server.enqueue(streamPath('gemini-2.0-flash-exp'), { sse, cutAfterBytes: Buffer.byteLength(sse.slice(0, cutAt(sse))) });
    const chunks: ModelStreamChunk[] = [];
    const err = await (async () => {
      for await (const chunk of model('gemini-2.0-flash-exp').stream({ messages: [{ role: 'user', content: 'q' }], tools: [] })) chunks.push(chunk);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as ModelCallError).kind).toBe('connection');
    expect((err as ModelCallError).retryable).toBe(true);
    expect(chunks.map((c) => c.type)).toEqual(['text-delta']);
  });
});

describe('stream: an error event after text (composed: no recording has one midway)', () => {
  it('maps the error event to its status and kind, after the text deltas already yielded', async () => {
    // The first event of a real stream, then the recorded 503 body as an SSE event: the SDK
    // raises an error event of the stream as an ApiError with the body's code.
    const first = sseText('stream-text.sse').split('\r\n\r\n')[0];
    const unavailable = JSON.stringify(body('error-503-unavailable.json'));
    server.enqueue(streamPath('gemini-2.0-flash-exp'), { sse: `${first}\r\n\r\ndata: ${unavailable}\r\n\r\n` });
    const chunks: ModelStreamChunk[] = [];
    const err = await (async () => {
      for await (const chunk of model('gemini-2.0-flash-exp').stream({ messages: [{ role: 'user', content: 'q' }], tools: [] })) chunks.push(chunk);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(chunks).toEqual([{ type: 'text-delta', text: partsOf(sseEvents('stream-text.sse')[0])[0].text }]);
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as ModelCallError).status).toBe(503);
    expect((err as ModelCallError).kind).toBe('server_error');
    expect((err as ModelCallError).message).toContain('The model is overloaded');
  });
});

const capitalTool: ToolDefinition = {
  name: 'get_capital',
  description: 'Get the capital of a country.',
  parameters: { type: 'object', properties: { country: { type: 'string', description: 'The country name.' } }, required: ['country'] },
};

describe('stream: function calls without ids (pydantic-ai test_google_model_iter_stream, gemini-2.0-flash)', () => {
  it('yields tool-call-start and the arguments as one JSON delta, with a made id', async () => {
    const [event] = sseEvents('stream-tools-1.sse');
    const [part] = partsOf(event);
    server.enqueue(streamPath('gemini-2.0-flash'), await exchange('stream-tools-1.sse'));
    const chunks = await collect(model('gemini-2.0-flash').stream({ messages: [{ role: 'user', content: 'What is the temperature of the capital of France?' }], tools: [capitalTool] }));
    const res = final(chunks);
    expect(res.toolCalls).toEqual([{ id: expect.stringMatching(/^gemini_/), name: part.functionCall.name, arguments: part.functionCall.args }]);
    const id = res.toolCalls[0]!.id;
    expect(chunks.slice(0, -1)).toEqual([
      { type: 'tool-call-start', index: 0, id, name: part.functionCall.name },
      { type: 'tool-call-delta', index: 0, argumentsDelta: JSON.stringify(part.functionCall.args) },
    ]);
    expect(res.finishReason).toBe('tool_calls');
    expect(res.usage).toEqual(semconvUsage(event.usageMetadata));
  });
});

describe('stream: a signed function call, then the answer (pydantic-ai test_google_streaming_tool_call_thought_signature, gemini-3-pro-preview)', () => {
  it('keeps the signature and sends it back unchanged on the next streamed call', async () => {
    const first = sseEvents('stream-signature-1.sse');
    const second = sseEvents('stream-signature-2.sse');
    const signed = partsOf(...first).find((p) => p.functionCall);
    expect(signed.thoughtSignature).toBeTruthy();
    server.enqueue(streamPath('gemini-3-pro-preview'), await exchange('stream-signature-1.sse'), await exchange('stream-signature-2.sse'));
    const m = model('gemini-3-pro-preview');
    const countryTool: ToolDefinition = { name: 'get_country', description: '', parameters: { additionalProperties: false, properties: {}, type: 'object' } };
    const question: Message = { role: 'user', content: 'What is the capital of the user country? Call the tool' };

    const turn1 = final(await collect(m.stream({ messages: [question], tools: [countryTool] })));
    expect(turn1.toolCalls).toEqual([{ id: expect.any(String), name: 'get_country', arguments: {}, signature: signed.thoughtSignature }]);
    expect(turn1.usage).toEqual(semconvUsage(first.at(-1).usageMetadata));
    expect(turn1.usage.reasoningTokens).toBe(first.at(-1).usageMetadata.thoughtsTokenCount);

    const call = turn1.toolCalls[0]!;
    const turn2 = final(
      await collect(
        m.stream({
          messages: [question, { role: 'assistant', content: turn1.text, toolCalls: turn1.toolCalls }, { role: 'tool', toolCallId: call.id, toolName: call.name, content: 'Mexico' }],
          tools: [countryTool],
        }),
      ),
    );
    expect(sent(1).contents[1]).toEqual({ role: 'model', parts: [{ functionCall: { id: call.id, name: 'get_country', args: {} }, thoughtSignature: signed.thoughtSignature }] });
    expect(turn2.text).toBe(partsOf(...second).map((p) => p.text).join(''));
    // 55 prompt tokens in the earlier events, 257 in the last: the last is the one billed.
    expect(turn2.usage).toEqual(semconvUsage(second.at(-1).usageMetadata));
  });
});

describe('stream: thought summaries (pydantic-ai test_google_model_thinking_part_iter, gemini-2.5-pro)', () => {
  it('yields thought parts as reasoning deltas and the answer as text deltas; thoughts are output tokens', async () => {
    const events = sseEvents('stream-thoughts.sse');
    const parts = partsOf(...events);
    server.enqueue(streamPath('gemini-2.5-pro'), await exchange('stream-thoughts.sse'));
    const m = google('gemini-2.5-pro', { baseURL: server.url, apiKey: 'gemini-test-key', thinkingConfig: { includeThoughts: true } });
    const chunks = await collect(m.stream({ system: 'You are a helpful assistant.', messages: [{ role: 'user', content: 'How do I cross the street?' }], tools: [] }));
    const thoughts = parts.filter((p) => p.thought === true).map((p) => p.text);
    expect(thoughts.length).toBeGreaterThan(1);
    expect(deltas(chunks, 'reasoning-delta')).toEqual(thoughts);
    const res = final(chunks);
    expect(res.reasoning).toEqual([{ text: thoughts.join('') }]);
    expect(res.text).toBe(parts.filter((p) => p.thought !== true).map((p) => p.text).join(''));
    const u = events.at(-1).usageMetadata;
    expect(res.usage).toEqual(semconvUsage(u));
    expect(res.usage.inputTokens + res.usage.outputTokens).toBe(u.totalTokenCount);
    expect(sent().generationConfig.thinkingConfig).toEqual({ includeThoughts: true });
  });
});
