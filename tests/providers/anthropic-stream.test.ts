import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { ModelCallError } from '../../src/providers/errors.js';
import type { ModelResponse, ModelStreamChunk, ToolDefinition } from '../../src/providers/model.js';
import type { Message } from '../../src/messages.js';
import { MESSAGES, collect, exchange, sseEvents, sseText } from './anthropic-helpers.js';

let server: RecordedServer;
beforeAll(async () => {
  server = await startRecordedServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

const model = () => anthropic('claude-haiku-4-5', { baseURL: server.url, apiKey: 'sk-ant-test' });
const ask = (content = 'hi', tools: ToolDefinition[] = []) => ({ messages: [{ role: 'user', content } as Message], tools });
const last = (chunks: ModelStreamChunk[]): ModelResponse => {
  const end = chunks.at(-1);
  if (end?.type !== 'response') throw new Error('stream did not end with a response chunk');
  return end.response;
};
const deltas = (chunks: ModelStreamChunk[], type: 'text-delta' | 'reasoning-delta') =>
  chunks.flatMap((c) => (c.type === type ? [c.text] : []));

/** Final usage as the recording states it: message_start's counts, overridden by the last message_delta. */
function recordedUsage(name: string) {
  const events = sseEvents(name);
  const start = events.find((e) => e.type === 'message_start').message.usage;
  const delta = events.filter((e) => e.type === 'message_delta').at(-1).usage;
  return { start, delta };
}

describe('stream: text (llm-anthropic test_prompt)', () => {
  it('yields the text deltas, then one response whose output tokens come from message_delta', async () => {
    server.enqueue(MESSAGES, await exchange('stream-text.sse'));
    const chunks = await collect(model().stream(ask()));
    const events = sseEvents('stream-text.sse');
    const texts = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text);
    expect(deltas(chunks, 'text-delta')).toEqual(texts.filter((t: string) => t !== ''));
    expect(chunks.filter((c) => c.type === 'response')).toHaveLength(1);
    const res = last(chunks);
    const { start, delta } = recordedUsage('stream-text.sse');
    expect(delta.output_tokens).not.toBe(start.output_tokens); // the placeholder differs, so this can fail
    expect(res.text).toBe(texts.join(''));
    expect(res.usage.outputTokens).toBe(delta.output_tokens);
    expect(res.usage.inputTokens).toBe(start.input_tokens);
    expect(res.id).toBe(events[0].message.id);
    expect(res.model).toBe(events[0].message.model);
    expect(res.finishReason).toBe('stop');
    expect(server.requests[0]?.body).toMatchObject({ stream: true, max_tokens: 4096 });
  });
});

describe('stream: tool call with partial JSON (Anthropic streaming docs, "Streaming request with tool use")', () => {
  it('yields tool-call-start and tool-call-deltas, and parses the accumulated input', async () => {
    server.enqueue(MESSAGES, await exchange('docs-stream-tool-use.sse'));
    const chunks = await collect(model().stream(ask('What is the weather like in San Francisco?')));
    const events = sseEvents('docs-stream-tool-use.sse');
    const toolStart = events.find((e) => e.content_block?.type === 'tool_use').content_block;
    const partials = events.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta.partial_json as string);

    expect(chunks.filter((c) => c.type === 'tool-call-start')).toEqual([{ type: 'tool-call-start', index: 0, id: toolStart.id, name: toolStart.name }]);
    const argDeltas = chunks.flatMap((c) => (c.type === 'tool-call-delta' ? [c.argumentsDelta] : []));
    expect(argDeltas.join('')).toBe(partials.join(''));
    const res = last(chunks);
    expect(res.toolCalls).toEqual([{ id: toolStart.id, name: toolStart.name, arguments: JSON.parse(partials.join('')) }]);
    expect(res.finishReason).toBe('tool_calls');
    expect(res.usage.outputTokens).toBe(events.find((e) => e.type === 'message_delta').usage.output_tokens);
  });
});

const fixedVersion: ToolDefinition = {
  name: 'fixed_version',
  description: 'Return a fixed test version string',
  parameters: { properties: {}, type: 'object' },
};

describe('stream: tool call then the answer (llm-anthropic test_fixed_version_tool_chain_regression)', () => {
  it('assembles a parameterless tool call, then streams the answer to its result', async () => {
    server.enqueue(MESSAGES, await exchange('stream-tool-1.sse'), await exchange('stream-tool-2.sse'));
    const m = model();
    const question: Message = { role: 'user', content: 'Use the fixed_version tool. Then tell me the version and make one short joke about it.' };
    const turn1 = last(await collect(m.stream({ messages: [question], tools: [fixedVersion] })));
    const toolStart = sseEvents('stream-tool-1.sse').find((e) => e.content_block?.type === 'tool_use').content_block;
    expect(turn1.toolCalls).toEqual([{ id: toolStart.id, name: 'fixed_version', arguments: {} }]);
    expect(turn1.finishReason).toBe('tool_calls');

    const chunks = await collect(
      m.stream({
        messages: [
          question,
          { role: 'assistant', content: turn1.text, toolCalls: turn1.toolCalls },
          { role: 'tool', toolCallId: toolStart.id, toolName: 'fixed_version', content: '0.32a0' },
        ],
        tools: [fixedVersion],
      }),
    );
    // What the recorded client sent for this turn.
    expect(server.requests[1]?.body).toMatchObject({
      messages: [
        { role: 'user' },
        { role: 'assistant', content: [{ type: 'tool_use', id: toolStart.id, name: 'fixed_version', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolStart.id, content: '0.32a0' }] },
      ],
      tools: [{ name: 'fixed_version', description: fixedVersion.description, input_schema: fixedVersion.parameters }],
    });
    const texts = sseEvents('stream-tool-2.sse').filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text);
    const res = last(chunks);
    expect(res.text).toBe(texts.join(''));
    const { delta } = recordedUsage('stream-tool-2.sse');
    expect(res.usage).toEqual({ inputTokens: delta.input_tokens, outputTokens: delta.output_tokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 });
  });

  it('gives every streamed tool_use block its own index (llm-anthropic test_tools)', async () => {
    server.enqueue(MESSAGES, await exchange('stream-parallel-tools.sse'));
    const chunks = await collect(model().stream(ask('names')));
    const ids = sseEvents('stream-parallel-tools.sse').filter((e) => e.content_block?.type === 'tool_use').map((e) => e.content_block.id);
    expect(ids.length).toBe(2);
    expect(chunks.filter((c) => c.type === 'tool-call-start').map((c) => c.type === 'tool-call-start' && [c.index, c.id])).toEqual([
      [0, ids[0]],
      [1, ids[1]],
    ]);
    expect(last(chunks).toolCalls.map((c) => c.id)).toEqual(ids);
  });
});

describe('stream: extended thinking', () => {
  it('yields reasoning deltas and keeps the signature from signature_delta (pydantic-ai ..._thinking_part_stream)', async () => {
    server.enqueue(MESSAGES, await exchange('stream-thinking.sse'));
    const chunks = await collect(model().stream(ask('How do I cross the street?')));
    const events = sseEvents('stream-thinking.sse');
    const thinking = events.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking as string);
    const signature = events.filter((e) => e.delta?.type === 'signature_delta').map((e) => e.delta.signature as string).join('');
    expect(deltas(chunks, 'reasoning-delta')).toEqual(thinking.filter((t) => t !== ''));
    expect(last(chunks).reasoning).toEqual([{ text: thinking.join(''), signature }]);
    expect(signature.length).toBeGreaterThan(0);
  });

  it('reads thinking tokens from message_delta output_tokens_details (llm-anthropic ..._thinking_display_regression)', async () => {
    server.enqueue(MESSAGES, await exchange('stream-thinking-tool-1.sse'));
    const res = last(await collect(model().stream(ask('x', [fixedVersion]))));
    const { delta } = recordedUsage('stream-thinking-tool-1.sse');
    expect(res.usage.reasoningTokens).toBe(delta.output_tokens_details.thinking_tokens);
    expect(res.usage.outputTokens).toBe(delta.output_tokens);
    expect(res.reasoning?.[0]?.signature).toBeTruthy();
    expect(res.toolCalls).toHaveLength(1);
  });

  it('lets message_delta input and cache counts replace message_start ones (pydantic-ai ..._compaction_usage_with_cache_streaming)', async () => {
    server.enqueue(MESSAGES, await exchange('stream-compaction-cache.sse'));
    const res = last(await collect(model().stream(ask())));
    const { start, delta } = recordedUsage('stream-compaction-cache.sse');
    expect(start.cache_read_input_tokens).not.toBe(delta.cache_read_input_tokens);
    expect(res.usage).toEqual({
      inputTokens: delta.input_tokens + delta.cache_read_input_tokens + delta.cache_creation_input_tokens,
      outputTokens: delta.output_tokens,
      cacheReadTokens: delta.cache_read_input_tokens,
      cacheWriteTokens: delta.cache_creation_input_tokens,
      reasoningTokens: 0,
    });
  });
});

describe('stream: failures midway', () => {
  it('throws ModelCallError(overloaded) on an SSE error event after some text', async () => {
    // No public recording has an error event in the middle of a stream: the test splices the
    // error event of Anthropic's streaming docs after the first five events of a real recording.
    const head = sseText('stream-text.sse').split('\n\n').slice(0, 5).join('\n\n') + '\n\n';
    server.enqueue(MESSAGES, { sse: head + sseText('docs-stream-error-event.sse') });
    const seen: ModelStreamChunk[] = [];
    const err = await (async () => {
      for await (const chunk of model().stream(ask())) seen.push(chunk);
    })().catch((e: unknown) => e);
    expect(seen.some((c) => c.type === 'text-delta')).toBe(true);
    expect(seen.some((c) => c.type === 'response')).toBe(false);
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as ModelCallError).kind).toBe('overloaded');
    expect((err as ModelCallError).retryable).toBe(true);
  });

  it('throws ModelCallError when the connection is cut midway', async () => {
    const full = await exchange('stream-thinking.sse');
    server.enqueue(MESSAGES, { ...full, cutAfterBytes: Math.floor(sseText('stream-thinking.sse').length / 2) });
    const err = await collect(model().stream(ask())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelCallError);
    expect((err as ModelCallError).kind).toBe('connection');
    expect((err as ModelCallError).cause).toBeDefined();
  });
});
