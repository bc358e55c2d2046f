/**
 * The whole runtime (loop, retries, tools, tracing, pricing) over the real `openai` SDK, against
 * recorded OpenAI traffic (tests/fixtures/openai, see SOURCES.md). Expected numbers come from the
 * recorded bodies and from the pricing module, never from the test.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunAbortedError, RunError } from '../../src/errors.js';
import { AuthenticationError, ContextLengthExceededError, ModelCallError } from '../../src/providers/errors.js';
import { openai } from '../../src/providers/openai.js';
import { DEFAULT_RETRY } from '../../src/runtime/retry.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT, EVENT_ATTR } from '../../src/tracing/attributes.js';
import {
  afterEvents,
  body,
  chatStreamUsage,
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
  responsesCompleted,
  spanTree,
  sseData,
  streamedText,
  traceSpans,
  type Harness,
  type Json,
} from './support.js';
import { rejection } from '../support/rejection.js';

const CHAT = '/v1/chat/completions';
const RESPONSES = '/v1/responses';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const chatModel = (modelId: string) => openai(modelId, { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test' });
const responsesModel = (modelId: string) => openai(modelId, { baseURL: `${h.server.url}/v1`, apiKey: 'sk-test', api: 'responses' });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sent = (i: number): any => h.server.requests[i]?.body;

/** `get_capital` as pydantic-ai's recordings declare it; records what it was called with. */
function getCapital(answer: string, calls: unknown[] = [], timeoutMs?: number) {
  return tool({
    name: 'get_capital',
    description: 'Get the capital of a country.',
    parameters: z.object({ country: z.string() }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    execute: (args, { toolCallId }) => {
      calls.push({ args, toolCallId });
      return answer;
    },
  });
}

/** What a Chat Completions body says of its one choice. */
function chatCall(name: string) {
  const b = body('openai', name);
  return {
    usage: recordedUsage.openaiChat(b.usage),
    responseId: b.id as string,
    responseModel: b.model as string,
    finishReason: b.choices[0].finish_reason as string,
  };
}

/** What a Chat Completions stream says: id and model of its chunks, its finish reason and usage chunk. */
function chatStreamCall(name: string) {
  const events = sseData('openai', name);
  return {
    usage: recordedUsage.openaiChat(chatStreamUsage(name)),
    responseId: events[0].id as string,
    responseModel: events[0].model as string,
    finishReason: events.map((e) => e.choices[0]?.finish_reason).find((f) => f) as string,
  };
}

/** What a Responses object says; it has no finish reason: a function call means `tool_calls`. */
function responsesCall(response: Json) {
  return {
    usage: recordedUsage.openaiResponses(response.usage),
    responseId: response.id as string,
    responseModel: response.model as string,
    finishReason: response.output.some((o: Json) => o.type === 'function_call') ? 'tool_calls' : 'stop',
  };
}

describe('openai chat through the runtime', () => {
  it('answers with text: span tree, cached tokens, cost and response attributes (chat-cached.json, gpt-4.1)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-cached.json'));
    const recorded = body('openai', 'chat-cached.json');
    const call = chatCall('chat-cached.json');
    expect(call.usage.cacheReadTokens).toBeGreaterThan(0);
    const a = agent({ name: 'greeter', instructions: 'You are a helpful assistant.', model: chatModel('gpt-4.1') });

    const result = await h.runtime.run(a, 'Say hello in one word.');
    expect(result.output).toBe(recorded.choices[0].message.content);
    expect(result.stopReason).toBe('final');
    expect(result.usage).toEqual(call.usage);
    expect(result.costUsd).toBeCloseTo(priced('openai', 'gpt-4.1', call.usage), 12);

    const tree = spanTree(h.collector.spans(), 'greeter', 'gpt-4.1');
    expect(tree.steps).toHaveLength(1);
    expect(tree.steps[0]?.attributes[ATTR.stepFinish]).toBe('final');
    expectChatSpan(tree.chats[0]!, 'openai', 'gpt-4.1', h.server, call);
    // Written only for a streamed call.
    expect(tree.chats[0]?.attributes[ATTR.requestStream]).toBeUndefined();
    expectRunTotals(tree.run, 'openai', 'gpt-4.1', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);

    expect(h.server.requests).toHaveLength(1);
    expect(sent(0).messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Say hello in one word.' },
    ]);
    expect(sent(0)).not.toHaveProperty('stream');
  });

  it('runs one tool call, then answers; the follow-up answers the recorded tool_call_id (pydantic-ai, gpt-4o-mini)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-tool-call.json'), await exchange('openai', 'chat-tool-answer.json'));
    const recordedCall = body('openai', 'chat-tool-call.json').choices[0].message.tool_calls[0];
    const calls: unknown[] = [];
    const a = agent({ name: 'capitals', instructions: 'Use the tool.', model: chatModel('gpt-4o-mini'), tools: [getCapital('London', calls)] });

    const result = await h.runtime.run(a, 'What is the capital of England?');
    expect(result.output).toBe(body('openai', 'chat-tool-answer.json').choices[0].message.content);
    expect(result.stopReason).toBe('final');
    expect(result.steps).toBe(2);
    expect(result.toolCalls).toBe(1);
    expect(calls).toEqual([{ args: JSON.parse(recordedCall.function.arguments), toolCallId: recordedCall.id }]);

    const tree = spanTree(h.collector.spans(), 'capitals', 'gpt-4o-mini');
    expect(tree.steps.map((s) => s.attributes[ATTR.stepFinish])).toEqual(['tool_calls', 'final']);
    expect(tree.tools.map((t) => t.length)).toEqual([1, 0]);
    const toolSpan = tree.tools[0]![0]!;
    expect(toolSpan.name).toBe(`execute_tool ${recordedCall.function.name}`);
    expect(toolSpan.attributes[ATTR.toolCallId]).toBe(recordedCall.id);
    expect(JSON.parse(String(toolSpan.attributes[ATTR.toolCallArguments]))).toEqual(JSON.parse(recordedCall.function.arguments));
    expect(toolSpan.attributes[ATTR.toolCallResult]).toBe('London');
    const expected = [chatCall('chat-tool-call.json'), chatCall('chat-tool-answer.json')];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'openai', 'gpt-4o-mini', h.server, expected[i]!));
    const totals = expectRunTotals(tree.run, 'openai', 'gpt-4o-mini', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: 1 });
    expect(result.usage).toEqual(totals.usage);
    expect(result.costUsd).toBeCloseTo(totals.usd, 12);
    expectAllEnded(h);

    expect(h.server.requests).toHaveLength(2);
    expect(sent(0).tools.map((t: Json) => t.function.name)).toEqual(['get_capital']);
    const followUp = sent(1).messages as Json[];
    expect(followUp.find((m) => m.role === 'assistant').tool_calls).toEqual([
      { id: recordedCall.id, type: 'function', function: { name: recordedCall.function.name, arguments: recordedCall.function.arguments } },
    ]);
    expect(followUp.filter((m) => m.role === 'tool')).toEqual([{ role: 'tool', tool_call_id: recordedCall.id, content: 'London' }]);
  });

  it('runs parallel tool calls at once, then answers; each result answers its call id (crewAI, gpt-4o-mini)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-parallel-tool-calls.json'), await exchange('openai', 'chat-parallel-answer.json'));
    const recorded = body('openai', 'chat-parallel-tool-calls.json').choices[0].message.tool_calls as Json[];
    expect(recorded.length).toBeGreaterThanOrEqual(2);
    let running = 0;
    let mostAtOnce = 0;
    const tools = recorded.map((c) =>
      tool({
        name: c.function.name as string,
        description: 'Local search tool for concurrency testing.',
        parameters: z.object({ query: z.string() }),
        execute: async ({ query }) => {
          mostAtOnce = Math.max(mostAtOnce, ++running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
          return `results for ${query}`;
        },
      }),
    );
    const a = agent({ name: 'searcher', instructions: 'Search in parallel.', model: chatModel('gpt-4o-mini'), tools });

    const result = await h.runtime.run(a, 'Search three times in parallel.');
    expect(result.output).toBe(body('openai', 'chat-parallel-answer.json').choices[0].message.content);
    expect(result.toolCalls).toBe(recorded.length);
    expect(mostAtOnce).toBe(recorded.length);

    const tree = spanTree(h.collector.spans(), 'searcher', 'gpt-4o-mini');
    expect(tree.tools.map((t) => t.length)).toEqual([recorded.length, 0]);
    expect(tree.tools[0]!.map((t) => [t.name, t.attributes[ATTR.toolCallId]]).sort()).toEqual(
      recorded.map((c) => [`execute_tool ${c.function.name}`, c.id]).sort(),
    );
    const expected = [chatCall('chat-parallel-tool-calls.json'), chatCall('chat-parallel-answer.json')];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'openai', 'gpt-4o-mini', h.server, expected[i]!));
    expectRunTotals(tree.run, 'openai', 'gpt-4o-mini', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: recorded.length });
    expectAllEnded(h);

    const toolTurns = (sent(1).messages as Json[]).filter((m) => m.role === 'tool');
    expect(toolTurns).toEqual(
      recorded.map((c) => ({ role: 'tool', tool_call_id: c.id, content: `results for ${JSON.parse(c.function.arguments).query}` })),
    );
  });

  it('reports reasoning tokens as a part of output tokens (pydantic-ai, o3-mini)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-reasoning.json'));
    const call = chatCall('chat-reasoning.json');
    expect(call.usage.reasoningTokens).toBeGreaterThan(0);
    const a = agent({ name: 'thinker', instructions: '', model: chatModel('o3-mini'), maxOutputTokens: 100 });

    const result = await h.runtime.run(a, 'hello');
    expect(result.usage).toEqual(call.usage);
    const tree = spanTree(h.collector.spans(), 'thinker', 'o3-mini');
    expectChatSpan(tree.chats[0]!, 'openai', 'o3-mini', h.server, call);
    expect(tree.chats[0]?.attributes[ATTR.requestMaxTokens]).toBe(100);
    expectRunTotals(tree.run, 'openai', 'o3-mini', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
    expect(sent(0).max_completion_tokens).toBe(100);
  });

  it('streams text with include_usage: deltas, usage event, spans (chat-stream-cached.sse, gpt-4.1)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-stream-cached.sse'));
    const call = chatStreamCall('chat-stream-cached.sse');
    expect(call.usage.cacheReadTokens).toBeGreaterThan(0);
    const recordedText = sseData('openai', 'chat-stream-cached.sse').map((e) => e.choices[0]?.delta.content ?? '').join('');
    const a = agent({ name: 'greeter', instructions: 'You are a helpful assistant.', model: chatModel('gpt-4.1') });

    const { events, error } = await drain(h.runtime.stream(a, 'Say hello in one word.'));
    expect(error).toBeUndefined();
    expect(streamedText(events)).toBe(recordedText);
    const usage = events.filter((e) => e.type === 'usage');
    expect(usage).toHaveLength(1);
    expect(usage[0]?.type === 'usage' && usage[0].usage).toEqual(call.usage);
    expect(usage[0]?.type === 'usage' && usage[0].costUsd).toBeCloseTo(priced('openai', 'gpt-4.1', call.usage), 12);
    const end = events.at(-1);
    expect(end?.type).toBe('run-end');
    expect(end?.type === 'run-end' && end.result.output).toBe(recordedText);

    const tree = spanTree(h.collector.spans(), 'greeter', 'gpt-4.1');
    expectChatSpan(tree.chats[0]!, 'openai', 'gpt-4.1', h.server, call);
    expect(tree.chats[0]?.attributes[ATTR.requestStream]).toBe(true);
    expect(tree.chats[0]?.attributes[ATTR.responseTimeToFirstChunk]).toBeGreaterThanOrEqual(0);
    expectRunTotals(tree.run, 'openai', 'gpt-4.1', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
    expect(sent(0).stream).toBe(true);
    expect(sent(0).stream_options).toEqual({ include_usage: true });
  });

  it('reports the same usage and cost streamed as unstreamed (crewAI pair: chat-cached.json / chat-stream-cached.sse)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-cached.json'), await exchange('openai', 'chat-stream-cached.sse'));
    const a = agent({ name: 'greeter', instructions: 'You are a helpful assistant.', model: chatModel('gpt-4.1') });
    const plain = await h.runtime.run(a, 'Say hello in one word.');
    const { events, error } = await drain(h.runtime.stream(a, 'Say hello in one word.'));
    expect(error).toBeUndefined();
    const end = events.at(-1);
    if (end?.type !== 'run-end') throw new Error('the stream did not end with run-end');
    const streamed = end.result;
    expect(streamed.traceId).not.toBe(plain.traceId);

    expect(streamed.usage).toEqual(plain.usage);
    expect(streamed.costUsd).toBe(plain.costUsd);
    expect(streamed.output).toBe(plain.output);
    const plainTree = spanTree(traceSpans(h, plain.traceId), 'greeter', 'gpt-4.1');
    const streamTree = spanTree(traceSpans(h, streamed.traceId), 'greeter', 'gpt-4.1');
    const numbers = (attrs: Json) =>
      [ATTR.usageInputTokens, ATTR.usageOutputTokens, ATTR.usageCacheReadTokens, ATTR.usageCacheCreationTokens, ATTR.usageReasoningTokens, ATTR.costAmount].map(
        (k) => attrs[k],
      );
    expect(numbers(streamTree.chats[0]!.attributes)).toEqual(numbers(plainTree.chats[0]!.attributes));
    expect(numbers(streamTree.run.attributes)).toEqual(numbers(plainTree.run.attributes));
    expect(plainTree.chats[0]?.attributes[ATTR.costAmount]).toBeCloseTo(priced('openai', 'gpt-4.1', chatCall('chat-cached.json').usage), 12);
    expectAllEnded(h);
  });

  it('streams a tool call, then the answer; both requests ask for usage (pydantic-ai, gpt-4o-mini)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-stream-tool-call.sse'), await exchange('openai', 'chat-stream-tool-answer.sse'));
    const first = sseData('openai', 'chat-stream-tool-call.sse')[0].choices[0].delta.tool_calls[0];
    const calls: unknown[] = [];
    const a = agent({ name: 'capitals', instructions: 'Use the tool.', model: chatModel('gpt-4o-mini'), tools: [getCapital('London', calls)] });

    const { events, error } = await drain(h.runtime.stream(a, 'What is the capital of the UK? Use the tool, then answer.'));
    expect(error).toBeUndefined();
    expect(calls).toEqual([{ args: { country: 'UK' }, toolCallId: first.id }]);
    const toolEnd = events.find((e) => e.type === 'tool-call-end');
    expect(toolEnd?.type === 'tool-call-end' && [toolEnd.toolCall.id, toolEnd.result]).toEqual([first.id, 'London']);
    const answerText = sseData('openai', 'chat-stream-tool-answer.sse').map((e) => e.choices[0]?.delta.content ?? '').join('');
    expect(streamedText(events)).toBe(answerText);
    const end = events.at(-1);
    expect(end?.type === 'run-end' && end.result.stopReason).toBe('final');

    const tree = spanTree(h.collector.spans(), 'capitals', 'gpt-4o-mini');
    expect(tree.tools.map((t) => t.map((s) => s.attributes[ATTR.toolCallId]))).toEqual([[first.id], []]);
    const expected = [chatStreamCall('chat-stream-tool-call.sse'), chatStreamCall('chat-stream-tool-answer.sse')];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'openai', 'gpt-4o-mini', h.server, expected[i]!));
    expectRunTotals(tree.run, 'openai', 'gpt-4o-mini', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: 1 });
    expectAllEnded(h);

    for (const i of [0, 1]) expect(sent(i).stream_options).toEqual({ include_usage: true });
    expect((sent(1).messages as Json[]).filter((m) => m.role === 'tool')).toEqual([{ role: 'tool', tool_call_id: first.id, content: 'London' }]);
  });

  it('streams parallel tool calls and runs each; stops at maxSteps 1 (pydantic-ai, gpt-4o; no recorded follow-up)', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-stream-parallel-tool-calls.sse'));
    const starts = sseData('openai', 'chat-stream-parallel-tool-calls.sse')
      .flatMap((e) => e.choices[0]?.delta.tool_calls ?? [])
      .filter((t: Json) => t.id !== undefined);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    const ran: string[] = [];
    const tools = starts.map((t: Json) =>
      tool({ name: t.function.name as string, description: 'Recorded tool.', parameters: z.object({}), execute: (_args, { toolCallId }) => ran.push(toolCallId) }),
    );
    const a = agent({ name: 'shop', instructions: '', model: chatModel('gpt-4o'), tools, budget: { maxSteps: 1 } });

    const { events, error } = await drain(h.runtime.stream(a, 'Tell me.'));
    expect(error).toBeUndefined();
    expect(ran.sort()).toEqual(starts.map((t: Json) => t.id).sort());
    const end = events.at(-1);
    expect(end?.type === 'run-end' && end.result.stopReason).toBe('max_steps');
    const tree = spanTree(h.collector.spans(), 'shop', 'gpt-4o');
    expect(tree.tools[0]!.map((t) => t.attributes[ATTR.toolCallId]).sort()).toEqual(starts.map((t: Json) => t.id).sort());
    const call = chatStreamCall('chat-stream-parallel-tool-calls.sse');
    expectChatSpan(tree.chats[0]!, 'openai', 'gpt-4o', h.server, call);
    expectRunTotals(tree.run, 'openai', 'gpt-4o', [call.usage], { stopReason: 'max_steps', steps: 1, toolCalls: starts.length });
    expectAllEnded(h);
    expect(h.server.requests).toHaveLength(1);
  });
});

describe('openai responses through the runtime', () => {
  it('answers with text (pydantic-ai, gpt-4o)', async () => {
    h.server.enqueue(RESPONSES, await exchange('openai', 'responses-text.json'));
    const recorded = body('openai', 'responses-text.json');
    const call = responsesCall(recorded);
    const a = agent({ name: 'geo', instructions: 'Answer briefly.', model: responsesModel('gpt-4o') });
    const result = await h.runtime.run(a, 'What is the capital of France?');
    expect(result.output).toBe(recorded.output.find((o: Json) => o.type === 'message').content[0].text);
    const tree = spanTree(h.collector.spans(), 'geo', 'gpt-4o');
    expectChatSpan(tree.chats[0]!, 'openai', 'gpt-4o', h.server, call);
    expectRunTotals(tree.run, 'openai', 'gpt-4o', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
    expect(h.server.requests.map((r) => r.path)).toEqual([RESPONSES]);
  });

  it('runs a function call, then answers; function_call_output answers the recorded call_id (pydantic-ai, gpt-4o)', async () => {
    h.server.enqueue(RESPONSES, await exchange('openai', 'responses-function-call.json'), await exchange('openai', 'responses-function-answer.json'));
    const first = body('openai', 'responses-function-call.json');
    const second = body('openai', 'responses-function-answer.json');
    const fc = first.output.find((o: Json) => o.type === 'function_call');
    const calls: unknown[] = [];
    const a = agent({ name: 'geo', instructions: '', model: responsesModel('gpt-4o'), tools: [getCapital('Potato City', calls)] });

    const result = await h.runtime.run(a, 'What is the capital of PotatoLand?');
    expect(result.output).toBe(second.output.find((o: Json) => o.type === 'message').content[0].text);
    expect(calls).toEqual([{ args: JSON.parse(fc.arguments), toolCallId: fc.call_id }]);
    const tree = spanTree(h.collector.spans(), 'geo', 'gpt-4o');
    expect(tree.tools.map((t) => t.map((s) => s.attributes[ATTR.toolCallId]))).toEqual([[fc.call_id], []]);
    const expected = [responsesCall(first), responsesCall(second)];
    expect(expected.map((e) => e.finishReason)).toEqual(['tool_calls', 'stop']);
    tree.chats.forEach((c, i) => expectChatSpan(c, 'openai', 'gpt-4o', h.server, expected[i]!));
    expectRunTotals(tree.run, 'openai', 'gpt-4o', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: 1 });
    expectAllEnded(h);
    expect((sent(1).input as Json[]).filter((i) => i.type === 'function_call_output')).toEqual([
      { type: 'function_call_output', call_id: fc.call_id, output: 'Potato City' },
    ]);
  });

  it('reports reasoning tokens (pydantic-ai, gpt-5)', async () => {
    h.server.enqueue(RESPONSES, await exchange('openai', 'responses-reasoning.json'));
    const call = responsesCall(body('openai', 'responses-reasoning.json'));
    expect(call.usage.reasoningTokens).toBeGreaterThan(0);
    const a = agent({ name: 'thinker', instructions: '', model: responsesModel('gpt-5') });
    const result = await h.runtime.run(a, 'How do I cross the street?');
    expect(result.usage).toEqual(call.usage);
    const tree = spanTree(h.collector.spans(), 'thinker', 'gpt-5');
    expectChatSpan(tree.chats[0]!, 'openai', 'gpt-5', h.server, call);
    expectRunTotals(tree.run, 'openai', 'gpt-5', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
  });

  it('streams a function call, then the answer, with usage from response.completed (pydantic-ai, gpt-4o)', async () => {
    h.server.enqueue(RESPONSES, await exchange('openai', 'responses-stream-function-call.sse'), await exchange('openai', 'responses-stream-answer.sse'));
    const first = responsesCompleted('responses-stream-function-call.sse');
    const second = responsesCompleted('responses-stream-answer.sse');
    const fc = first.output.find((o: Json) => o.type === 'function_call');
    const calls: unknown[] = [];
    const a = agent({ name: 'geo', instructions: '', model: responsesModel('gpt-4o'), tools: [getCapital('Paris', calls)] });

    const { events, error } = await drain(h.runtime.stream(a, 'What is the capital of France?'));
    expect(error).toBeUndefined();
    expect(calls).toEqual([{ args: JSON.parse(fc.arguments), toolCallId: fc.call_id }]);
    expect(streamedText(events)).toBe(second.output.find((o: Json) => o.type === 'message').content[0].text);
    const tree = spanTree(h.collector.spans(), 'geo', 'gpt-4o');
    const expected = [responsesCall(first), responsesCall(second)];
    tree.chats.forEach((c, i) => expectChatSpan(c, 'openai', 'gpt-4o', h.server, expected[i]!));
    expectRunTotals(tree.run, 'openai', 'gpt-4o', expected.map((e) => e.usage), { stopReason: 'final', steps: 2, toolCalls: 1 });
    expectAllEnded(h);
    expect([sent(0).stream, sent(1).stream]).toEqual([true, true]);
    expect((sent(1).input as Json[]).at(-1)).toEqual({ type: 'function_call_output', call_id: fc.call_id, output: 'Paris' });
  });
});

describe('openai errors through the runtime', () => {
  const simple = () => agent({ name: 'greeter', instructions: 'You are a helpful assistant.', model: chatModel('gpt-4.1') });

  it('retries a 429 and succeeds: retry.attempts 1 and one tracebound.retry event (rate_limit)', async () => {
    const limited = await exchange('openai', 'chat-error-429.json');
    // The retry-after header is set by the test (0 s, so the retry is immediate).
    h.server.enqueue(CHAT, { ...limited, headers: { ...limited.headers, 'retry-after': '0' } }, await exchange('openai', 'chat-cached.json'));
    const call = chatCall('chat-cached.json');

    const result = await h.runtime.run(simple(), 'Say hello in one word.');
    expect(result.stopReason).toBe('final');
    expect(result.usage).toEqual(call.usage);
    expect(h.server.requests).toHaveLength(2);
    const tree = spanTree(h.collector.spans(), 'greeter', 'gpt-4.1');
    expectChatSpan(tree.chats[0]!, 'openai', 'gpt-4.1', h.server, call, 1);
    const retry = tree.chats[0]!.events.find((e) => e.name === EVENT.retry);
    expect(retry?.attributes?.[EVENT_ATTR.errorType]).toBe('rate_limit');
    expect(retry?.attributes?.[EVENT_ATTR.attempt]).toBe(1);
    expect(retry?.attributes?.[EVENT_ATTR.delayMs]).toBe(0);
    expectRunTotals(tree.run, 'openai', 'gpt-4.1', [call.usage], { stopReason: 'final', steps: 1, toolCalls: 0 });
    expectAllEnded(h);
  });

  it('gives up on 500 after the retry budget: RunError, maxRetries+1 requests, ERROR spans', async () => {
    const failing = await exchange('openai', 'chat-error-500.json');
    const attempts = DEFAULT_RETRY.maxRetries + 1;
    // One more answer than the budget allows, a success: a further retry would make the run pass.
    h.server.enqueue(CHAT, ...Array.from({ length: attempts }, () => failing), await exchange('openai', 'chat-cached.json'));

    const error = await rejection(h.runtime.run(simple(), 'Say hello in one word.'));
    expect(error).toBeInstanceOf(RunError);
    const runError = error as RunError;
    expect(runError.stopReason).toBe('error');
    expect(runError.cause).toBeInstanceOf(ModelCallError);
    expect((runError.cause as ModelCallError).kind).toBe('server_error');
    expect(runError.progress.steps).toBe(1);
    expect(h.server.requests).toHaveLength(attempts);

    const tree = spanTree(h.collector.spans(), 'greeter', 'gpt-4.1');
    for (const span of [tree.run, tree.steps[0]!, tree.chats[0]!]) {
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes[ATTR.errorType]).toBe('server_error');
    }
    expect(tree.run.attributes[ATTR.stopReason]).toBe('error');
    expect(tree.chats[0]!.attributes[ATTR.retryAttempts]).toBe(DEFAULT_RETRY.maxRetries);
    const retries = tree.chats[0]!.events.filter((e) => e.name === EVENT.retry);
    expect(retries.map((e) => e.attributes?.[EVENT_ATTR.errorType])).toEqual(Array(DEFAULT_RETRY.maxRetries).fill('server_error'));
    expectAllEnded(h);
  });

  it('does not retry a 401: one request, RunError caused by AuthenticationError', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-error-401.json'), await exchange('openai', 'chat-cached.json'));
    const error = await rejection(h.runtime.run(simple(), 'hi'));
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).stopReason).toBe('error');
    expect((error as RunError).cause).toBeInstanceOf(AuthenticationError);
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'greeter', 'gpt-4.1');
    expect(tree.chats[0]!.attributes[ATTR.errorType]).toBe('authentication');
    expect(tree.chats[0]!.attributes[ATTR.retryAttempts]).toBe(0);
    expect(tree.run.status.code).toBe(SpanStatusCode.ERROR);
    expectAllEnded(h);
  });

  it('does not retry a 400 context_length_exceeded: RunError caused by ContextLengthExceededError', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-error-400-context-length.json'), await exchange('openai', 'chat-cached.json'));
    const error = await rejection(h.runtime.run(simple(), 'hi'));
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).cause).toBeInstanceOf(ContextLengthExceededError);
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'greeter', 'gpt-4.1');
    expect(tree.chats[0]!.attributes[ATTR.errorType]).toBe('context_length_exceeded');
    expect(tree.run.attributes[ATTR.errorType]).toBe('context_length_exceeded');
    expectAllEnded(h);
  });

  it('does not retry a stream cut after chunks were delivered (chat-stream-tool-answer.sse cut midway)', async () => {
    const full = await exchange('openai', 'chat-stream-tool-answer.sse');
    // A second, whole answer is queued: a retry would make the run succeed.
    h.server.enqueue(CHAT, { ...full, cutAfterBytes: afterEvents(full.sse!, 4) }, full);
    const a = agent({ name: 'capitals', instructions: '', model: chatModel('gpt-4o-mini') });

    const { events, error } = await drain(h.runtime.stream(a, 'hi'));
    expect(streamedText(events).length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).stopReason).toBe('error');
    const cause = (error as RunError).cause as ModelCallError;
    expect(cause).toBeInstanceOf(ModelCallError);
    // The failure itself is retryable: only the delivered chunks keep it from being retried.
    expect(cause.retryable).toBe(true);
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'capitals', 'gpt-4o-mini');
    expect(tree.chats[0]!.status.code).toBe(SpanStatusCode.ERROR);
    expect(tree.chats[0]!.attributes[ATTR.errorType]).toBe(cause.kind);
    expect(tree.chats[0]!.attributes[ATTR.retryAttempts]).toBe(0);
    expectAllEnded(h);
  });

  it('aborts mid-stream after the first text delta: RunAbortedError, stop_reason aborted, every span ended', async () => {
    const full = await exchange('openai', 'chat-stream-tool-answer.sse');
    // Cut so the connection stays open (for 20 ms) after the first deltas arrived.
    h.server.enqueue(CHAT, { ...full, cutAfterBytes: afterEvents(full.sse!, 3) }, full);
    const a = agent({ name: 'capitals', instructions: '', model: chatModel('gpt-4o-mini') });
    const controller = new AbortController();

    const { events, error } = await drain(h.runtime.stream(a, 'hi', { signal: controller.signal }), (e) => {
      if (e.type === 'text-delta') controller.abort();
    });
    expect(events.filter((e) => e.type === 'text-delta').length).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(RunAbortedError);
    expect((error as RunAbortedError).stopReason).toBe('aborted');
    expect(h.server.requests).toHaveLength(1);
    const tree = spanTree(h.collector.spans(), 'capitals', 'gpt-4o-mini');
    expect(tree.run.attributes[ATTR.stopReason]).toBe('aborted');
    expect(tree.run.status.code).toBe(SpanStatusCode.ERROR);
    expectAllEnded(h);
  });

  it('times out a tool that never settles: error.type timeout, the error result answers its call id, the run ends final', async () => {
    h.server.enqueue(CHAT, await exchange('openai', 'chat-tool-call.json'), await exchange('openai', 'chat-tool-answer.json'));
    const recordedCall = body('openai', 'chat-tool-call.json').choices[0].message.tool_calls[0];
    const hanging = tool({
      name: 'get_capital',
      description: 'Get the capital of a country.',
      parameters: z.object({ country: z.string() }),
      timeoutMs: 20,
      execute: (_args, { signal }) => new Promise<string>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    });
    const a = agent({ name: 'capitals', instructions: '', model: chatModel('gpt-4o-mini'), tools: [hanging] });

    const result = await h.runtime.run(a, 'What is the capital of England?');
    expect(result.stopReason).toBe('final');
    expect(result.output).toBe(body('openai', 'chat-tool-answer.json').choices[0].message.content);
    const tree = spanTree(h.collector.spans(), 'capitals', 'gpt-4o-mini');
    const toolSpan = tree.tools[0]![0]!;
    expect(toolSpan.attributes[ATTR.toolCallId]).toBe(recordedCall.id);
    expect(toolSpan.attributes[ATTR.errorType]).toBe('timeout');
    expect(toolSpan.attributes[ATTR.toolTimeoutMs]).toBe(20);
    expect(toolSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(tree.run.status.code).not.toBe(SpanStatusCode.ERROR);
    expectAllEnded(h);
    const toolTurns = (sent(1).messages as Json[]).filter((m) => m.role === 'tool');
    expect(toolTurns).toHaveLength(1);
    expect(toolTurns[0].tool_call_id).toBe(recordedCall.id);
    expect(toolTurns[0].content).toMatch(/timed out after 20 ms/);
  });
});

describe('openai: resources of finished runs', () => {
  it('leaves no abort listeners piling up on one signal across runs that have no signal of their own', async () => {
    const runs = 3;
    for (let i = 0; i < runs; i++) h.server.enqueue(CHAT, await exchange('openai', 'chat-cached.json'));
    const signals: AbortSignal[] = [];
    const a = agent({ name: 'greeter', instructions: '', model: recordingSignals(chatModel('gpt-4.1'), signals) });
    for (let i = 0; i < runs; i++) await h.runtime.run(a, 'Say hello in one word.');
    expect(h.server.requests).toHaveLength(runs);
    // The openai SDK adds an 'abort' listener to the signal of every request and never removes
    // it; a signal shared by every run therefore grows by one listener per model call, forever.
    expect(mostAbortListeners(signals)).toBeLessThanOrEqual(1);
  });
});
