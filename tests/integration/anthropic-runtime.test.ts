/**
 * The whole runtime (loop, retries, tools, tracing, pricing) over the real `@anthropic-ai/sdk`,
 * against recorded Anthropic traffic (tests/fixtures/anthropic, see SOURCES.md). Expected numbers
 * come from the recorded bodies and from the pricing module, never from the test.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunAbortedError, RunError } from '../../src/errors.js';
import { AuthenticationError, ContextLengthExceededError, ModelCallError } from '../../src/providers/errors.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { DEFAULT_RETRY } from '../../src/runtime/retry.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import {
  afterEvents,
  anthropicFinish,
  anthropicStream,
  body,
  drain,
  exchange,
  expectAllEnded,
  expectChatSpan,
  expectRunTotals,
  harness,
  mostAbortListeners,
  priced,
  recordedUsage,
  recordingSignals,
  spanTree,
  sseData,
  sseText,
  streamedText,
  type Harness,
  type Json,
} from './support.js';
import { rejection } from '../support/rejection.js';

const MESSAGES = '/v1/messages';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const claude = (modelId: string) => anthropic(modelId, { baseURL: h.server.url, apiKey: 'sk-ant-test' });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sent = (i: number): any => h.server.requests[i]?.body;

/** What a recorded Messages API body says of the call. */
function messageCall(name: string) {
  const b = body('anthropic', name);
  return {
    usage: recordedUsage.anthropic(b.usage),
    responseId: b.id as string,
    responseModel: b.model as string,
    finishReason: anthropicFinish[b.stop_reason] as string,
  };
}

/** What a recorded stream says of the call: message_start's id and model, the final usage and stop reason. */
function streamCall(name: string) {
  const { message, usage, stopReason } = anthropicStream(name);
  return {
    usage: recordedUsage.anthropic(usage),
    responseId: message.id as string,
    responseModel: message.model as string,
    finishReason: anthropicFinish[stopReason] as string,
  };
}

/** `get_user_country` of pydantic-ai's recording (no parameters). */
const countryTool = (execute: (signal: AbortSignal) => Promise<string> | string, timeoutMs?: number) =>
  tool({
    name: 'get_user_country',
    description: 'The country of the user.',
    parameters: z.object({}),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    execute: (_args, { signal }) => execute(signal),
  });

describe('anthropic through the runtime', () => {
  it('answers with text: span tree, tokens, cost and response attributes (pydantic-ai, claude-3-opus)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'text.json'));
    const recorded = body('anthropic', 'text.json');
    const call = messageCall('text.json');
    const a = agent({ name: 'geo', instructions: 'You are a helpful assistant.', model: claude('claude-3-opus-latest') });

    const result = await h.runtime.run(a, 'What is the capital of France?');
    expect(result.output).toBe(recorded.content[0].text);
    expect(result.usage).toEqual(call.usage);
    expect(result.costUsd).toBeCloseTo(priced('anthropic', 'claude-3-opus-latest', call.usage), 12);
    const tree = spanTree(h.collector.spans(), 'geo', 'claude-3-opus-latest');
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-3-opus-latest', h.server, call);
    expectRunTotals(tree.run, 'anthropic', 'claude-3-opus-latest', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
    expect(sent(0).system).toBe('You are a helpful assistant.');
    expect(sent(0).stream).toBe(false);
  });

  it('runs one tool call (with signed thinking), then answers; the follow-up sends the blocks back and one tool_result (pydantic-ai)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'tool-thinking-1.json'), await exchange('anthropic', 'tool-thinking-2.json'));
    const first = body('anthropic', 'tool-thinking-1.json');
    const use = first.content.find((b: Json) => b.type === 'tool_use');
    const a = agent({ name: 'locator', instructions: '', model: claude('claude-sonnet-4-0'), tools: [countryTool(() => 'Mexico')] });

    const question = 'What is the largest city in the user country?';
    const result = await h.runtime.run(a, question);
    expect(result.output).toBe(body('anthropic', 'tool-thinking-2.json').content[0].text);
    expect(result.steps).toBe(2);
    const tree = spanTree(h.collector.spans(), 'locator', 'claude-sonnet-4-0');
    expect(tree.tools.map((t) => t.map((s) => [s.name, s.attributes[ATTR.toolCallId], s.attributes[ATTR.toolCallResult]]))).toEqual([
      [[`execute_tool ${use.name}`, use.id, 'Mexico']],
      [],
    ]);
    const expected = [messageCall('tool-thinking-1.json'), messageCall('tool-thinking-2.json')];
    expect(expected.map((e) => e.finishReason)).toEqual(['tool_calls', 'stop']);
    tree.chats.forEach((c, i) => expectChatSpan(c, 'anthropic', 'claude-sonnet-4-0', h.server, expected[i]!));
    expectRunTotals(tree.run, 'anthropic', 'claude-sonnet-4-0', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: 1 });
    expectAllEnded(h);

    expect(sent(1).messages).toEqual([
      { role: 'user', content: question },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'Mexico', is_error: false }] },
    ]);
  });

  it('runs parallel tool calls at once; the results go back in ONE user message, by tool_use_id (pydantic-ai, claude-haiku-4-5)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'parallel-tools-1.json'), await exchange('anthropic', 'parallel-tools-2.json'));
    const uses = body('anthropic', 'parallel-tools-1.json').content.filter((b: Json) => b.type === 'tool_use') as Json[];
    expect(uses.length).toBeGreaterThanOrEqual(2);
    let running = 0;
    let mostAtOnce = 0;
    const entity = tool({
      name: 'retrieve_entity_info',
      description: 'Get the knowledge about the given entity.',
      parameters: z.object({ name: z.string() }),
      execute: async ({ name }) => {
        mostAtOnce = Math.max(mostAtOnce, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return `${name} is family`;
      },
    });
    const a = agent({ name: 'family', instructions: '', model: claude('claude-haiku-4-5'), tools: [entity] });

    const result = await h.runtime.run(a, 'Alice, Bob, Charlie and Daisy are a family. Who is the youngest?');
    expect(result.output).toBe(body('anthropic', 'parallel-tools-2.json').content[0].text);
    expect(result.toolCalls).toBe(uses.length);
    expect(mostAtOnce).toBe(uses.length);
    const tree = spanTree(h.collector.spans(), 'family', 'claude-haiku-4-5');
    expect(tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId]).sort()).toEqual(uses.map((u) => u.id).sort());
    const expected = [messageCall('parallel-tools-1.json'), messageCall('parallel-tools-2.json')];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'anthropic', 'claude-haiku-4-5', h.server, expected[i]!));
    expectRunTotals(tree.run, 'anthropic', 'claude-haiku-4-5', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: uses.length });
    expectAllEnded(h);

    const followUp = sent(1).messages as Json[];
    expect(followUp.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(followUp[2].content).toEqual(
      uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: `${u.input.name} is family`, is_error: false })),
    );
  });

  it('adds cache reads and cache writes to input tokens, and prices each at its rate (pydantic-ai, claude-sonnet-4-5)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'cache-read-write.json'));
    const { usage: raw } = body('anthropic', 'cache-read-write.json');
    expect(raw.cache_read_input_tokens).toBeGreaterThan(0);
    expect(raw.cache_creation_input_tokens).toBeGreaterThan(0);
    const call = messageCall('cache-read-write.json');
    const a = agent({ name: 'cached', instructions: '', model: claude('claude-sonnet-4-5') });

    const result = await h.runtime.run(a, 'x');
    const tree = spanTree(h.collector.spans(), 'cached', 'claude-sonnet-4-5');
    const chat = tree.chats[0]!;
    expect(chat.attributes[ATTR.usageInputTokens]).toBe(raw.input_tokens + raw.cache_read_input_tokens + raw.cache_creation_input_tokens);
    expect(chat.attributes[ATTR.usageCacheReadTokens]).toBe(raw.cache_read_input_tokens);
    expect(chat.attributes[ATTR.usageCacheCreationTokens]).toBe(raw.cache_creation_input_tokens);
    expectChatSpan(chat, 'anthropic', 'claude-sonnet-4-5', h.server, call);
    expectRunTotals(tree.run, 'anthropic', 'claude-sonnet-4-5', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expect(result.usage).toEqual(call.usage);
    expectAllEnded(h);
  });

  it('reports thinking tokens as reasoning output tokens (pydantic-ai, claude-sonnet-4-5)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'thinking-tokens.json'));
    const call = messageCall('thinking-tokens.json');
    expect(call.usage.reasoningTokens).toBeGreaterThan(0);
    const a = agent({ name: 'thinker', instructions: '', model: claude('claude-sonnet-4-5') });
    const result = await h.runtime.run(a, 'x');
    expect(result.usage).toEqual(call.usage);
    const tree = spanTree(h.collector.spans(), 'thinker', 'claude-sonnet-4-5');
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-sonnet-4-5', h.server, call);
    expectRunTotals(tree.run, 'anthropic', 'claude-sonnet-4-5', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
  });

  it('streams text: deltas, usage event and spans, output tokens from message_delta (llm-anthropic)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'stream-text.sse'));
    const call = streamCall('stream-text.sse');
    const texts = sseData('anthropic', 'stream-text.sse').filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text as string);
    const a = agent({ name: 'pirate', instructions: '', model: claude('claude-sonnet-4-5') });

    const { events, error } = await drain(h.runtime.stream(a, 'hi'));
    expect(error).toBeUndefined();
    expect(streamedText(events)).toBe(texts.join(''));
    const usage = events.filter((e) => e.type === 'usage');
    expect(usage.map((e) => e.type === 'usage' && e.usage)).toEqual([call.usage]);
    expect(usage[0]?.type === 'usage' && usage[0].costUsd).toBeCloseTo(priced('anthropic', 'claude-sonnet-4-5', call.usage), 12);
    const tree = spanTree(h.collector.spans(), 'pirate', 'claude-sonnet-4-5');
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-sonnet-4-5', h.server, call);
    expect(tree.chats[0]?.attributes[ATTR.requestStream]).toBe(true);
    expectRunTotals(tree.run, 'anthropic', 'claude-sonnet-4-5', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
    expect(sent(0).stream).toBe(true);
  });

  it('streams a tool call, then the answer; the tool_result answers the streamed tool_use id (llm-anthropic)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'stream-tool-1.sse'), await exchange('anthropic', 'stream-tool-2.sse'));
    const use = sseData('anthropic', 'stream-tool-1.sse').find((e) => e.content_block?.type === 'tool_use').content_block;
    const version = tool({
      name: 'fixed_version',
      description: 'Return a fixed test version string',
      parameters: z.object({}),
      execute: () => '0.32a0',
    });
    const a = agent({ name: 'versions', instructions: '', model: claude('claude-haiku-4-5'), tools: [version] });

    const { events, error } = await drain(h.runtime.stream(a, 'Use the fixed_version tool. Then tell me the version and make one short joke about it.'));
    expect(error).toBeUndefined();
    const answer = sseData('anthropic', 'stream-tool-2.sse').filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text).join('');
    expect(streamedText(events)).toBe(answer);
    const tree = spanTree(h.collector.spans(), 'versions', 'claude-haiku-4-5');
    expect(tree.tools.map((t) => t.map((s) => s.attributes[ATTR.toolCallId]))).toEqual([[use.id], []]);
    const expected = [streamCall('stream-tool-1.sse'), streamCall('stream-tool-2.sse')];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'anthropic', 'claude-haiku-4-5', h.server, expected[i]!));
    expectRunTotals(tree.run, 'anthropic', 'claude-haiku-4-5', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: 1 });
    expectAllEnded(h);
    const followUp = sent(1).messages as Json[];
    expect(followUp.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(followUp[2].content).toEqual([{ type: 'tool_result', tool_use_id: use.id, content: '0.32a0', is_error: false }]);
  });

  it('streams thinking and a tool call: reasoning deltas and thinking tokens; stops at maxSteps 1 (llm-anthropic, no recorded follow-up)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'stream-thinking-tool-1.sse'));
    const call = streamCall('stream-thinking-tool-1.sse');
    expect(call.usage.reasoningTokens).toBeGreaterThan(0);
    const thinking = sseData('anthropic', 'stream-thinking-tool-1.sse').filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join('');
    const version = tool({ name: 'fixed_version', description: 'Return a fixed test version string', parameters: z.object({}), execute: () => '0.32a0' });
    const a = agent({ name: 'versions', instructions: '', model: claude('claude-haiku-4-5'), tools: [version], budget: { maxSteps: 1 } });

    const { events, error } = await drain(h.runtime.stream(a, 'x'));
    expect(error).toBeUndefined();
    expect(events.flatMap((e) => (e.type === 'reasoning-delta' ? [e.text] : [])).join('')).toBe(thinking);
    const end = events.at(-1);
    expect(end?.type === 'run-end' && end.result.stopReason).toBe('max_steps');
    const tree = spanTree(h.collector.spans(), 'versions', 'claude-haiku-4-5');
    expect(tree.tools[0]).toHaveLength(1);
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-haiku-4-5', h.server, call);
    // The thinking is kept as a semconv `reasoning` part, before the tool call; the finish reason
    // is the output messages schema's `tool_call`.
    const [output] = JSON.parse(String(tree.chats[0]!.attributes[ATTR.outputMessages])) as { parts: { type: string; content?: string }[]; finish_reason: string }[];
    expect(output!.parts.map((p) => p.type)).toEqual(['reasoning', 'tool_call']);
    expect(output!.parts[0]!.content).toBe(thinking);
    expect(output!.finish_reason).toBe('tool_call');
    expectRunTotals(tree.run, 'anthropic', 'claude-haiku-4-5', [call.usage], { stopReason: 'max_steps', steps: 1, toolCalls: 1 });
    expectAllEnded(h);
  });

  it('streams parallel tool_use blocks and runs each (llm-anthropic test_tools, no recorded follow-up)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'stream-parallel-tools.sse'));
    const uses = sseData('anthropic', 'stream-parallel-tools.sse').filter((e) => e.content_block?.type === 'tool_use').map((e) => e.content_block);
    expect(uses.length).toBeGreaterThanOrEqual(2);
    const ran: string[] = [];
    const pelican = tool({
      name: uses[0].name as string,
      description: 'Generate a pelican name.',
      parameters: z.object({}),
      execute: (_args, { toolCallId }) => ran.push(toolCallId),
    });
    const a = agent({ name: 'pelicans', instructions: '', model: claude('claude-haiku-4-5'), tools: [pelican], budget: { maxSteps: 1 } });

    const { error } = await drain(h.runtime.stream(a, 'names'));
    expect(error).toBeUndefined();
    expect(ran.sort()).toEqual(uses.map((u) => u.id).sort());
    const tree = spanTree(h.collector.spans(), 'pelicans', 'claude-haiku-4-5');
    expect(tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId]).sort()).toEqual(uses.map((u) => u.id).sort());
    const call = streamCall('stream-parallel-tools.sse');
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-haiku-4-5', h.server, call);
    expectRunTotals(tree.run, 'anthropic', 'claude-haiku-4-5', [call.usage], { stopReason: 'max_steps', steps: 1, toolCalls: uses.length });
    expectAllEnded(h);
  });
});

describe('anthropic errors through the runtime', () => {
  const simple = () => agent({ name: 'geo', instructions: 'You are a helpful assistant.', model: claude('claude-3-opus-latest') });

  it('retries a 429 and succeeds: retry.attempts 1, one tracebound.retry event (rate_limit)', async () => {
    const limited = await exchange('anthropic', 'error-429-rate-limit.json');
    // The retry-after header is set by the test: the recording kept none (see SOURCES.md).
    h.server.enqueue(MESSAGES, { ...limited, headers: { ...limited.headers, 'retry-after': '0' } }, await exchange('anthropic', 'text.json'));
    const call = messageCall('text.json');

    const result = await h.runtime.run(simple(), 'What is the capital of France?');
    expect(result.stopReason).toBe('final');
    expect(h.server.requests).toHaveLength(2);
    const tree = spanTree(h.collector.spans(), 'geo', 'claude-3-opus-latest');
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-3-opus-latest', h.server, call, 1);
    const retry = tree.chats[0]!.events.find((e) => e.name === EVENT.retry);
    expect(retry?.attributes?.[EVENT_ATTR.errorType]).toBe('rate_limit');
    expect(retry?.attributes?.[EVENT_ATTR.delayMs]).toBe(0);
    expectRunTotals(tree.run, 'anthropic', 'claude-3-opus-latest', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
  });

  it('retries a 529 overloaded and succeeds (freeideas/vecsum log)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'error-529-overloaded.json'), await exchange('anthropic', 'text.json'));
    const call = messageCall('text.json');
    const result = await h.runtime.run(simple(), 'What is the capital of France?');
    expect(result.output).toBe(body('anthropic', 'text.json').content[0].text);
    expect(h.server.requests).toHaveLength(2);
    const tree = spanTree(h.collector.spans(), 'geo', 'claude-3-opus-latest');
    expectChatSpan(tree.chats[0]!, 'anthropic', 'claude-3-opus-latest', h.server, call, 1);
    expect(tree.chats[0]!.events.find((e) => e.name === EVENT.retry)?.attributes?.[EVENT_ATTR.errorType]).toBe('overloaded');
    expectAllEnded(h);
  });

  it('gives up on 500 after the retry budget: RunError, maxRetries+1 requests, ERROR spans (gptme log)', async () => {
    const failing = await exchange('anthropic', 'error-500-api-error.json');
    const attempts = DEFAULT_RETRY.maxRetries + 1;
    // One more answer than the budget allows, a success: a further retry would make the run pass.
    h.server.enqueue(MESSAGES, ...Array.from({ length: attempts }, () => failing), await exchange('anthropic', 'text.json'));

    const error = await rejection(h.runtime.run(simple(), 'hi'));
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).stopReason).toBe('error');
    expect(((error as RunError).cause as ModelCallError).kind).toBe('server_error');
    expect(h.server.requests).toHaveLength(attempts);
    const tree = spanTree(h.collector.spans(), 'geo', 'claude-3-opus-latest');
    for (const span of [tree.run, tree.steps[0]!, tree.chats[0]!]) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes[ATTR.errorType]).toBe('server_error');
    }
    expect(tree.run.attributes[ATTR.stopReason]).toBe('error');
    expect(tree.chats[0]!.attributes[ATTR.retryAttempts]).toBe(DEFAULT_RETRY.maxRetries);
    expect(tree.chats[0]!.events.filter((e) => e.name === EVENT.retry)).toHaveLength(DEFAULT_RETRY.maxRetries);
    expectAllEnded(h);
  });

  it('does not retry a 401: one request, RunError caused by AuthenticationError (bare status: no recorded body, see SOURCES.md)', async () => {
    h.server.enqueue(MESSAGES, { status: 401 }, await exchange('anthropic', 'text.json'));
    const error = await rejection(h.runtime.run(simple(), 'hi'));
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).cause).toBeInstanceOf(AuthenticationError);
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'geo', 'claude-3-opus-latest');
    expect(tree.chats[0]!.attributes[ATTR.errorType]).toBe('authentication');
    expect(tree.chats[0]!.attributes[ATTR.retryAttempts]).toBe(0);
    expectAllEnded(h);
  });

  it('does not retry a 400 prompt too long: RunError caused by ContextLengthExceededError (Troll-LLM log)', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'error-400-prompt-too-long.json'), await exchange('anthropic', 'text.json'));
    const error = await rejection(h.runtime.run(simple(), 'hi'));
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).cause).toBeInstanceOf(ContextLengthExceededError);
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'geo', 'claude-3-opus-latest');
    expect(tree.run.attributes[ATTR.errorType]).toBe('context_length_exceeded');
    expectAllEnded(h);
  });

  it('does not retry an error event after text was streamed (stream-text.sse head + docs error event)', async () => {
    // As in the adapter tests: no recording has an error event midway, so the docs' error event
    // follows the first five events (two text deltas) of a real recording.
    const head = sseText('anthropic', 'stream-text.sse').split('\n\n').slice(0, 5).join('\n\n') + '\n\n';
    // A whole stream is queued next: a retry would make the run succeed.
    h.server.enqueue(MESSAGES, { sse: head + sseText('anthropic', 'docs-stream-error-event.sse') }, await exchange('anthropic', 'stream-text.sse'));
    const a = agent({ name: 'pirate', instructions: '', model: claude('claude-sonnet-4-5') });

    const { events, error } = await drain(h.runtime.stream(a, 'hi'));
    expect(streamedText(events).length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(RunError);
    const cause = (error as RunError).cause as ModelCallError;
    expect(cause.kind).toBe('overloaded');
    expect(cause.retryable).toBe(true); // retryable in itself: only the delivered text forbids a retry
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'pirate', 'claude-sonnet-4-5');
    expect(tree.chats[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(tree.chats[0]!.attributes[ATTR.errorType]).toBe('overloaded');
    expect(tree.run.attributes[ATTR.stopReason]).toBe('error');
    expectAllEnded(h);
  });

  it('does not retry a stream cut midway after thinking was streamed (stream-thinking.sse)', async () => {
    const full = await exchange('anthropic', 'stream-thinking.sse');
    h.server.enqueue(MESSAGES, { ...full, cutAfterBytes: Math.floor(Buffer.byteLength(full.sse!) / 2) }, full);
    const a = agent({ name: 'thinker', instructions: '', model: claude('claude-sonnet-4-0') });

    const { events, error } = await drain(h.runtime.stream(a, 'How do I cross the street?'));
    expect(events.some((e) => e.type === 'reasoning-delta')).toBe(true);
    expect(error).toBeInstanceOf(RunError);
    const cause = (error as RunError).cause as ModelCallError;
    expect(cause.kind).toBe('connection');
    expect(cause.retryable).toBe(true);
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'thinker', 'claude-sonnet-4-0');
    expect(tree.chats[0]!.attributes[ATTR.errorType]).toBe('connection');
    expectAllEnded(h);
  });

  it('aborts mid-stream after the first text delta: RunAbortedError, stop_reason aborted, every span ended', async () => {
    const full = await exchange('anthropic', 'stream-text.sse');
    // Cut after the first two text deltas, so the connection stays open (for 20 ms) mid-answer.
    h.server.enqueue(MESSAGES, { ...full, cutAfterBytes: afterEvents(full.sse!, 5) }, full);
    const a = agent({ name: 'pirate', instructions: '', model: claude('claude-sonnet-4-5') });
    const controller = new AbortController();

    const { events, error } = await drain(h.runtime.stream(a, 'hi', { signal: controller.signal }), (e) => {
      if (e.type === 'text-delta') controller.abort();
    });
    expect(events.some((e) => e.type === 'text-delta')).toBe(true);
    expect(error).toBeInstanceOf(RunAbortedError);
    expect((error as RunAbortedError).stopReason).toBe('aborted');
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'pirate', 'claude-sonnet-4-5');
    expect(tree.run.attributes[ATTR.stopReason]).toBe('aborted');
    expectAllEnded(h);
  });

  it('times out a tool that never settles: error.type timeout, an is_error tool_result for its id, the run ends final', async () => {
    h.server.enqueue(MESSAGES, await exchange('anthropic', 'tool-thinking-1.json'), await exchange('anthropic', 'tool-thinking-2.json'));
    const use = body('anthropic', 'tool-thinking-1.json').content.find((b: Json) => b.type === 'tool_use');
    const hanging = countryTool((signal) => new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))), 20);
    const a = agent({ name: 'locator', instructions: '', model: claude('claude-sonnet-4-0'), tools: [hanging] });

    const result = await h.runtime.run(a, 'What is the largest city in the user country?');
    expect(result.stopReason).toBe('final');
    const tree = spanTree(h.collector.spans(), 'locator', 'claude-sonnet-4-0');
    const toolSpan = tree.tools[0]![0]!;
    expect(toolSpan.attributes[ATTR.toolCallId]).toBe(use.id);
    expect(toolSpan.attributes[ATTR.errorType]).toBe('timeout');
    expect(toolSpan.status.code).toBe(SpanStatusCode.ERROR);
    expectAllEnded(h);
    const results = (sent(1).messages as Json[]).at(-1).content as Json[];
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ type: 'tool_result', tool_use_id: use.id, is_error: true });
    expect(results[0].content).toMatch(/timed out after 20 ms/);
  });
});

describe('anthropic: resources of finished runs', () => {
  it('leaves no abort listeners piling up on one signal across runs that have no signal of their own', async () => {
    const runs = 3;
    for (let i = 0; i < runs; i++) h.server.enqueue(MESSAGES, await exchange('anthropic', 'text.json'));
    const signals: AbortSignal[] = [];
    const a = agent({ name: 'geo', instructions: '', model: recordingSignals(claude('claude-3-opus-latest'), signals) });
    for (let i = 0; i < runs; i++) await h.runtime.run(a, 'What is the capital of France?');
    expect(h.server.requests).toHaveLength(runs);
    // @anthropic-ai/sdk removes its per-request 'abort' listener (the openai SDK does not); this
    // guards the runtime's side: every run gets a signal of its own, shared by nothing.
    expect(mostAbortListeners(signals)).toBeLessThanOrEqual(1);
  });
});
