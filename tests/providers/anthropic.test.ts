import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { agent } from '../../src/agent.js';
import { RunError } from '../../src/errors.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { AuthenticationError } from '../../src/providers/errors.js';
import { createRuntime } from '../../src/create-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { ATTR, EVENT, TRACER_NAME } from '../../src/tracing/attributes.js';
import type { Message } from '../../src/messages.js';
import type { ModelRequest, ToolDefinition } from '../../src/providers/model.js';
import { MESSAGES, body, exchange } from './anthropic-helpers.js';

let server: RecordedServer;
beforeAll(async () => {
  server = await startRecordedServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

const model = (id = 'claude-sonnet-4-0', maxTokens?: number) =>
  anthropic(id, { baseURL: server.url, apiKey: 'sk-ant-test', ...(maxTokens ? { maxTokens } : {}) });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sent = (i = 0): any => server.requests[i]?.body;

describe('anthropic() factory', () => {
  it('needs no API key to be defined and reports the default server', () => {
    const m = anthropic('claude-sonnet-4-5');
    expect(m.provider).toBe('anthropic');
    expect(m.modelId).toBe('claude-sonnet-4-5');
    if (process.env['ANTHROPIC_BASE_URL'] === undefined) expect(m.server).toEqual({ address: 'api.anthropic.com', port: 443 });
  });

  it('fails at once without an API key, naming ANTHROPIC_API_KEY: no retry, no request sent', async () => {
    const saved = { key: process.env['ANTHROPIC_API_KEY'], token: process.env['ANTHROPIC_AUTH_TOKEN'] };
    delete process.env['ANTHROPIC_API_KEY'];
    delete process.env['ANTHROPIC_AUTH_TOKEN'];
    try {
      const spans = collectSpans();
      const runtime = createRuntime({ tracer: spans.tracerProvider.getTracer(TRACER_NAME), retry: { initialDelayMs: 1 } });
      const keyless = agent({ name: 'keyless', instructions: 'Answer.', model: anthropic('claude-sonnet-4-6', { baseURL: server.url }) });
      const error = await runtime.run(keyless, 'Hi').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RunError);
      const cause = (error as RunError).cause;
      expect(cause).toBeInstanceOf(AuthenticationError);
      expect((cause as AuthenticationError).retryable).toBe(false);
      expect((cause as Error).message).toBe('anthropic authentication: no API key: set ANTHROPIC_API_KEY, or pass anthropic(model, { apiKey })');
      expect(server.requests).toHaveLength(0);
      const chat = spans.spans().filter((s) => s.name === 'chat claude-sonnet-4-6');
      expect(chat).toHaveLength(1);
      expect(chat[0]!.events.filter((e) => e.name === EVENT.retry)).toEqual([]);
      expect(chat[0]!.attributes[ATTR.errorType]).toBe('authentication');
    } finally {
      if (saved.key !== undefined) process.env['ANTHROPIC_API_KEY'] = saved.key;
      if (saved.token !== undefined) process.env['ANTHROPIC_AUTH_TOKEN'] = saved.token;
    }
  });

  it('reports host and port of a custom base URL', () => {
    const port = Number(new URL(server.url).port);
    expect(model().server).toEqual({ address: '127.0.0.1', port });
  });
});

describe('generate: text answer (pydantic-ai test_anthropic_model_instructions)', () => {
  it('maps text, id, model, finish reason and usage from the recorded body', async () => {
    const recorded = body('text.json');
    server.enqueue(MESSAGES, await exchange('text.json'));
    const res = await model('claude-3-opus-latest').generate({
      system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      tools: [],
    });
    expect(res.text).toBe(recorded.content[0].text);
    expect(res.id).toBe(recorded.id);
    expect(res.model).toBe(recorded.model);
    expect(res.finishReason).toBe('stop'); // recorded stop_reason: end_turn
    expect(res.toolCalls).toEqual([]);
    expect(res.reasoning).toBeUndefined();
    expect(res.usage).toEqual({
      inputTokens: recorded.usage.input_tokens,
      outputTokens: recorded.usage.output_tokens,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
    });
  });

  it('sends model, max_tokens (default 4096), system and the user turn; no tools, no stream', async () => {
    server.enqueue(MESSAGES, await exchange('text.json'));
    await model('claude-3-opus-latest').generate({
      system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      tools: [],
    });
    expect(server.requests[0]?.path).toBe(MESSAGES);
    expect(sent()).toEqual({
      model: 'claude-3-opus-latest',
      max_tokens: 4096,
      system: 'You are a helpful assistant.',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      stream: false,
    });
  });

  it('takes max_tokens from the request, then from the factory option; sends temperature and tool_choice none', async () => {
    server.enqueue(MESSAGES, await exchange('text.json'), await exchange('text.json'));
    const request: ModelRequest = { messages: [{ role: 'user', content: 'hi' }], tools: [], temperature: 0.2, toolChoice: 'none' };
    await model('m', 1234).generate({ ...request, maxOutputTokens: 77 });
    await model('m', 1234).generate(request);
    expect(sent(0).max_tokens).toBe(77);
    expect(sent(1).max_tokens).toBe(1234);
    expect(sent(0).temperature).toBe(0.2);
    expect(sent(0).tool_choice).toEqual({ type: 'none' });
  });
});

const countryTool: ToolDefinition = {
  name: 'get_user_country',
  description: '',
  parameters: { additionalProperties: false, properties: {}, type: 'object' },
};

describe('generate: one tool call with extended thinking, then the answer (pydantic-ai test_anthropic_tool_with_thinking)', () => {
  it('returns the thinking block with its signature, the text and the tool call', async () => {
    const recorded = body('tool-thinking-1.json');
    server.enqueue(MESSAGES, await exchange('tool-thinking-1.json'));
    const res = await model().generate({
      messages: [{ role: 'user', content: 'What is the largest city in the user country?' }],
      tools: [countryTool],
    });
    const [thinking, text, toolUse] = recorded.content;
    expect(res.reasoning).toEqual([{ text: thinking.thinking, signature: thinking.signature }]);
    expect(res.text).toBe(text.text);
    expect(res.toolCalls).toEqual([{ id: toolUse.id, name: toolUse.name, arguments: toolUse.input }]);
    expect(res.finishReason).toBe('tool_calls');
    expect(res.usage.inputTokens).toBe(recorded.usage.input_tokens);
    expect(res.usage.outputTokens).toBe(recorded.usage.output_tokens);
    expect(sent().tools).toEqual([{ name: 'get_user_country', description: '', input_schema: countryTool.parameters }]);
  });

  it('sends the thinking block back first, then text and tool_use, and the tool result as a user turn', async () => {
    const first = body('tool-thinking-1.json');
    const second = body('tool-thinking-2.json');
    server.enqueue(MESSAGES, await exchange('tool-thinking-1.json'), await exchange('tool-thinking-2.json'));
    const m = model();
    const question: Message = { role: 'user', content: 'What is the largest city in the user country?' };
    const turn1 = await m.generate({ messages: [question], tools: [countryTool] });
    const call = turn1.toolCalls[0];
    expect(call).toBeDefined();
    const history: Message[] = [
      question,
      { role: 'assistant', content: turn1.text, toolCalls: turn1.toolCalls, reasoning: turn1.reasoning },
      { role: 'tool', toolCallId: call?.id ?? '', toolName: call?.name ?? '', content: 'Mexico' },
    ];
    const turn2 = await m.generate({ messages: history, tools: [countryTool] });

    // The recorded second request of the same conversation is what a correct client sends.
    expect(sent(1).messages).toEqual([
      { role: 'user', content: question.content },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: first.content[2].id, content: 'Mexico', is_error: false }] },
    ]);
    expect(turn2.text).toBe(second.content[0].text);
    expect(turn2.finishReason).toBe('stop');
    expect(turn2.usage.inputTokens).toBe(second.usage.input_tokens);
  });
});

const entityTool: ToolDefinition = {
  name: 'retrieve_entity_info',
  description: 'Get the knowledge about the given entity.',
  parameters: { additionalProperties: false, properties: { name: { type: 'string' } }, required: ['name'], type: 'object' },
};

describe('generate: parallel tool calls and the follow-up (pydantic-ai test_multiple_parallel_tool_calls)', () => {
  it('returns every tool_use block as a call, and merges the results into ONE user turn', async () => {
    const first = body('parallel-tools-1.json');
    const second = body('parallel-tools-2.json');
    server.enqueue(MESSAGES, await exchange('parallel-tools-1.json'), await exchange('parallel-tools-2.json'));
    const m = model('claude-haiku-4-5');
    const question: Message = { role: 'user', content: 'Alice, Bob, Charlie and Daisy are a family. Who is the youngest?' };
    const turn1 = await m.generate({ messages: [question], tools: [entityTool] });

    const uses = first.content.filter((b: { type: string }) => b.type === 'tool_use');
    expect(uses.length).toBeGreaterThanOrEqual(2);
    expect(turn1.toolCalls).toEqual(uses.map((b: { id: string; name: string; input: unknown }) => ({ id: b.id, name: b.name, arguments: b.input })));
    expect(turn1.text).toBe(first.content[0].text);

    const results = ['alice is bob\'s wife', 'bob is alice\'s husband', 'charlie is alice\'s son', 'daisy is bob\'s daughter and charlie\'s younger sister'];
    const history: Message[] = [
      question,
      { role: 'assistant', content: turn1.text, toolCalls: turn1.toolCalls },
      ...turn1.toolCalls.map((c, i): Message => ({ role: 'tool', toolCallId: c.id, toolName: c.name, content: results[i] ?? '' })),
    ];
    const turn2 = await m.generate({ messages: history, tools: [entityTool] });
    const toolTurn = sent(1).messages[2];
    expect(sent(1).messages).toHaveLength(3);
    expect(toolTurn.role).toBe('user');
    expect(toolTurn.content.map((b: { tool_use_id: string }) => b.tool_use_id)).toEqual(uses.map((b: { id: string }) => b.id));
    expect(turn2.text).toBe(second.content[0].text);
    expect(turn2.usage.outputTokens).toBe(second.usage.output_tokens);
  });
});

describe('generate: usage with prompt caching (pydantic-ai test_anthropic_cache_real_api)', () => {
  it('adds cache reads and cache writes to input tokens and reports them apart', async () => {
    const { usage } = body('cache-read-write.json');
    expect(usage.cache_read_input_tokens).toBeGreaterThan(0);
    expect(usage.cache_creation_input_tokens).toBeGreaterThan(0);
    server.enqueue(MESSAGES, await exchange('cache-read-write.json'));
    const res = await model().generate({ messages: [{ role: 'user', content: 'x' }], tools: [] });
    expect(res.usage).toEqual({
      inputTokens: usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens,
      outputTokens: usage.output_tokens,
      cacheReadTokens: usage.cache_read_input_tokens,
      cacheWriteTokens: usage.cache_creation_input_tokens,
      reasoningTokens: 0,
    });
  });
});

describe('generate: extended thinking', () => {
  it('maps a thinking block with its signature (pydantic-ai test_anthropic_model_thinking_part)', async () => {
    const recorded = body('thinking.json');
    server.enqueue(MESSAGES, await exchange('thinking.json'));
    const res = await model().generate({ messages: [{ role: 'user', content: 'How do I cross the street?' }], tools: [] });
    const thinking = recorded.content.find((b: { type: string }) => b.type === 'thinking');
    expect(res.reasoning).toEqual([{ text: thinking.thinking, signature: thinking.signature }]);
    expect(res.usage.reasoningTokens).toBe(0); // this recording has no output_tokens_details
  });

  it('takes reasoning tokens from output_tokens_details.thinking_tokens when the API reports them', async () => {
    const { usage } = body('thinking-tokens.json');
    server.enqueue(MESSAGES, await exchange('thinking-tokens.json'));
    const res = await model().generate({ messages: [{ role: 'user', content: 'x' }], tools: [] });
    expect(res.usage.reasoningTokens).toBe(usage.output_tokens_details.thinking_tokens);
    expect(res.usage.outputTokens).toBe(usage.output_tokens);
  });

  it('maps redacted_thinking and sends it back as redacted_thinking (pydantic-ai ..._thinking_part_redacted)', async () => {
    const recorded = body('redacted-thinking.json');
    server.enqueue(MESSAGES, await exchange('redacted-thinking.json'), await exchange('text.json'));
    const m = model();
    const res = await m.generate({ messages: [{ role: 'user', content: 'q' }], tools: [] });
    const redacted = recorded.content.find((b: { type: string }) => b.type === 'redacted_thinking');
    expect(res.reasoning).toEqual([{ text: '', redacted: redacted.data }]);
    await m.generate({
      messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: res.text, reasoning: res.reasoning }, { role: 'user', content: 'more' }],
      tools: [],
    });
    expect(sent(1).messages[1].content[0]).toEqual({ type: 'redacted_thinking', data: redacted.data });
  });
});
