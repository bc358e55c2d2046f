/**
 * Conversations across runs: a run with a `conversationId` sees the earlier turns, saves its own
 * in one write when it resolves and nothing when it rejects; runs of one conversation never
 * interleave (in one process, and across processes sharing SQLite or Redis); the load and save
 * are traced and open to middleware; `runtime.conversations` reads and forgets them. The model is
 * scripted except in the wire test, where the official openai SDK talks to a local server.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { RunError } from '../../src/errors.js';
import type { Message } from '../../src/messages.js';
import { openai } from '../../src/providers/openai.js';
import type { Middleware } from '../../src/runtime/middleware.js';
import { ConversationBusyError } from '../../src/state/errors.js';
import { memoryStore } from '../../src/state/memory.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import type { Store } from '../../src/state/store.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { startRecordedServer } from '../../src/testing/recorded-server.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';
import { body, exchange } from '../integration/support.js';
import { LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { storeClock } from '../support/store-clock.js';
import type { ConversationWorkerConfig } from './conversation-worker.js';

let redis: RedisServer;
let dir: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'tracebound-conversation-runs-'));
});

afterAll(async () => {
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const usage = { inputTokens: 10, outputTokens: 5 };

/** A model that answers each request with `re: <its last message>`, after `delayMs`. */
function echoModel(delayMs = 0) {
  const scripted = scriptedModel({ respond: (request) => ({ text: `re: ${request.messages.at(-1)?.content}`, usage }) });
  return {
    ...scripted,
    async generate(request: Parameters<typeof scripted.generate>[0]) {
      if (delayMs) await sleep(delayMs);
      return scripted.generate(request);
    },
  };
}

const text = (messages: readonly Message[]) => messages.map((m) => `${m.role}: ${m.content}`);

describe('a conversation across runs', () => {
  it("shows the model every earlier turn, and keeps each turn's input, answers, tool calls and results", async () => {
    const add = tool({
      name: 'add',
      description: 'Adds.',
      parameters: z.object({ a: z.number(), b: z.number() }),
      execute: async ({ a, b }) => a + b,
    });
    const model = scriptedModel({
      respond: [
        { text: 'Hello Ada.', usage },
        { toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }], usage },
        { text: 'Ada, it is 3.', usage },
      ],
    });
    const runtime = createRuntime();
    const chat = agent({ name: 'chat', instructions: 'Be brief.', model, tools: [add] });
    await runtime.run(chat, 'My name is Ada.', { conversationId: 'c-1' });
    const second = await runtime.run(chat, 'What is 1 + 2, and who am I?', { conversationId: 'c-1' });

    expect(text(model.requests[1]?.messages ?? [])).toEqual(['user: My name is Ada.', 'assistant: Hello Ada.', 'user: What is 1 + 2, and who am I?']);
    expect(second.output).toBe('Ada, it is 3.');
    const stored = await runtime.conversations.get('c-1');
    expect(stored).toMatchObject({ id: 'c-1', agent: 'chat' });
    expect(stored?.messages).toEqual([
      { role: 'user', content: 'My name is Ada.' },
      { role: 'assistant', content: 'Hello Ada.' },
      { role: 'user', content: 'What is 1 + 2, and who am I?' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }] },
      { role: 'tool', toolCallId: 'call_1', toolName: 'add', content: '3' },
      { role: 'assistant', content: 'Ada, it is 3.' },
    ]);
    expect(second.messages).toEqual(stored?.messages);
    // A run without a conversation id neither loads nor saves.
    await runtime.run(chat, 'Alone.').catch(() => undefined);
    expect((await runtime.conversations.list()).map((c) => c.id)).toEqual(['c-1']);
  });

  it('sends turn 1 to the provider in turn 2 (the official openai SDK against a local server)', async () => {
    const server = await startRecordedServer();
    try {
      const answer = await exchange('openai', 'chat-tool-answer.json');
      server.enqueue('/v1/chat/completions', answer, answer);
      const recorded = body('openai', 'chat-tool-answer.json').choices[0].message.content as string;
      const runtime = createRuntime({ store: sqliteStore({ path: join(dir, `${randomUUID()}.db`) }) });
      const chat = agent({ name: 'chat', instructions: 'Be brief.', model: openai('gpt-4o-mini', { baseURL: `${server.url}/v1`, apiKey: 'sk-test' }) });
      await runtime.run(chat, 'My name is Ada.', { conversationId: 'wire' });
      await runtime.run(chat, 'Who am I?', { conversationId: 'wire' });
      const sent = server.requests[1]?.body as { messages: { role: string; content: string }[] };
      expect(sent.messages.map((m) => [m.role, m.content])).toEqual([
        ['system', 'Be brief.'],
        ['user', 'My name is Ada.'],
        ['assistant', recorded],
        ['user', 'Who am I?'],
      ]);
    } finally {
      await server.close();
    }
  });

  it('saves nothing of a run that rejects, and lets the next run go on at once', async () => {
    let fail = false;
    const scripted = echoModel();
    const model = {
      ...scripted,
      async generate(request: Parameters<typeof scripted.generate>[0]) {
        if (fail) throw new Error('the model broke');
        return scripted.generate(request);
      },
    };
    const runtime = createRuntime({ retry: { maxRetries: 0 }, conversationWaitMs: 1_000 });
    const chat = agent({ name: 'chat', instructions: '', model });
    await runtime.run(chat, 'first', { conversationId: 'c-fail' });
    fail = true;
    await expect(runtime.run(chat, 'lost', { conversationId: 'c-fail' })).rejects.toBeInstanceOf(RunError);
    expect(text((await runtime.conversations.get('c-fail'))?.messages ?? [])).toEqual(['user: first', 'assistant: re: first']);
    fail = false;
    await runtime.run(chat, 'second', { conversationId: 'c-fail' });
    expect(text((await runtime.conversations.get('c-fail'))?.messages ?? [])).toEqual([
      'user: first',
      'assistant: re: first',
      'user: second',
      'assistant: re: second',
    ]);
  });

  it('forgets a deleted conversation: the next run starts afresh', async () => {
    const model = echoModel();
    const runtime = createRuntime();
    const chat = agent({ name: 'chat', instructions: '', model });
    await runtime.run(chat, 'secret', { conversationId: 'c-del' });
    expect(await runtime.conversations.delete('c-del')).toBe(true);
    expect(await runtime.conversations.get('c-del')).toBeUndefined();
    await runtime.run(chat, 'fresh', { conversationId: 'c-del' });
    expect(text(model.requests.at(-1)?.messages ?? [])).toEqual(['user: fresh']);
  });

  it('keeps at most conversationMaxMessages, from a user message on, and forgets after conversationTtlMs', async () => {
    const add = tool({ name: 'add', description: 'Adds.', parameters: z.object({ a: z.number(), b: z.number() }), execute: async ({ a, b }) => a + b });
    const model = scriptedModel({
      respond: (request) =>
        request.messages.at(-1)?.content === 'add'
          ? { toolCalls: [{ id: `call_${request.messages.length}`, name: 'add', arguments: { a: 1, b: 2 } }] }
          : { text: `re: ${request.messages.at(-1)?.content}` },
    });
    // A minute to live on a clock the test moves: the four runs fit in it however slow the machine.
    const clock = storeClock('memory');
    const runtime = createRuntime({ store: memoryStore({ now: clock.now }), conversationMaxMessages: 5, conversationTtlMs: 60_000 });
    const chat = agent({ name: 'chat', instructions: '', model, tools: [add] });
    for (const input of ['one', 'add', 'three']) await runtime.run(chat, input, { conversationId: 'c-kept' });
    // 2 + 4 + 2 messages; keeping 5 would open with an assistant's tool call, so the history starts at 'three'.
    expect(text((await runtime.conversations.get('c-kept'))?.messages ?? [])).toEqual(['user: three', 'assistant: re: three']);
    await runtime.run(chat, 'four', { conversationId: 'c-kept' });
    expect(text(model.requests.at(-1)?.messages ?? [])).toEqual(['user: three', 'assistant: re: three', 'user: four']);
    expect((await runtime.conversations.get('c-kept'))?.messages).toHaveLength(4);
    await clock.pass(61_000);
    expect(await runtime.conversations.get('c-kept')).toBeUndefined();
  });

  it('keeps a summary of the history with the conversation, and later turns load it instead of what it covers', async () => {
    // Long turns against a small context: each run's prompt is over the limit unless the history
    // is summarised; the scripted model answers a summarising call with a numbered summary.
    const long = (word: string) => `${word} ${'x'.repeat(800)}`;
    let summaries = 0;
    const model = scriptedModel({
      respond: (request) =>
        request.system?.startsWith('Summarize')
          ? { text: `summary #${++summaries}` }
          : { text: long(`re: ${String(request.messages.at(-1)?.content).split(' ')[0]}`) },
    });
    const store = sqliteStore({ path: join(dir, `${randomUUID()}.db`) });
    const runtime = createRuntime({ store });
    const chat = agent({ name: 'chat', instructions: '', model, budget: { contextTokens: 400, contextStrategy: ['summarize'] } });
    const sent = () => text(model.requests.filter((r) => !r.system?.startsWith('Summarize')).at(-1)?.messages ?? []);

    await runtime.run(chat, long('one'), { conversationId: 'c-sum' });
    await runtime.run(chat, long('two'), { conversationId: 'c-sum' });
    // Turn 2 was over the limit: the history (turn 1) was summarised, and the summary kept.
    expect(summaries).toBe(1);
    expect(sent()).toEqual(['user: Summary of the earlier conversation:\nsummary #1', `user: ${long('two')}`]);
    const stored = await runtime.conversations.get('c-sum');
    expect(stored?.messages).toHaveLength(4);
    expect(stored?.summary).toEqual({ content: 'Summary of the earlier conversation:\nsummary #1', covers: 2 });

    // Turn 3 loads the summary and turn 2 (over the limit again), so it summarises those: the
    // new summary covers all 4 stored messages.
    await runtime.run(chat, long('three'), { conversationId: 'c-sum' });
    expect(summaries).toBe(2);
    // What turn 3 had summarised: the stored summary, then turn 2, not turn 1's messages.
    const summarised = String(model.requests.filter((r) => r.system?.startsWith('Summarize')).at(-1)?.messages[0]?.content);
    expect(summarised).toContain('summary #1');
    expect(summarised).toContain('two x');
    expect(summarised).not.toContain('one x');
    expect(sent()).toEqual(['user: Summary of the earlier conversation:\nsummary #2', `user: ${long('three')}`]);
    expect((await runtime.conversations.get('c-sum'))?.summary).toEqual({ content: 'Summary of the earlier conversation:\nsummary #2', covers: 4 });
    await store.close();
  });

  it('fails a run with ConversationBusyError when another run holds the conversation past the wait', async () => {
    const store = memoryStore();
    await store.conversations.acquire('c-busy', { owner: 'elsewhere', ttlMs: 60_000 });
    const model = echoModel();
    const runtime = createRuntime({ store, conversationWaitMs: 50 });
    const error = await runtime.run(agent({ name: 'chat', instructions: '', model }), 'hi', { conversationId: 'c-busy' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConversationBusyError);
    expect(error).toMatchObject({ conversationId: 'c-busy', kind: 'conversation_busy' });
    expect((error as Error).message).toContain('conversationWaitMs');
    expect(model.requests).toHaveLength(0);
  });

  it('traces the load and the save under the run span, with message counts, the store and the conversation id', async () => {
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: sqliteStore({ path: join(dir, `${randomUUID()}.db`) }) });
    const chat = agent({ name: 'chat', instructions: '', model: echoModel() });
    await runtime.run(chat, 'one', { conversationId: 'c-traced' });
    spans.reset();
    await runtime.run(chat, 'two', { conversationId: 'c-traced' });
    const all = spans.spans();
    const run = all.find((s) => s.name === SPAN_NAME.run('chat'));
    const load = all.find((s) => s.name === 'load_conversation');
    const save = all.find((s) => s.name === 'save_conversation');
    for (const span of [load, save]) {
      expect(span?.parentSpanContext?.spanId).toBe(run?.spanContext().spanId);
      expect(span?.attributes).toMatchObject({ [ATTR.conversationId]: 'c-traced', [ATTR.store]: 'sqlite', [ATTR.agentName]: 'chat' });
    }
    expect(load?.attributes[ATTR.conversationMessages]).toBe(2);
    expect(save?.attributes[ATTR.conversationMessages]).toBe(2);
    // The load ends before the first step starts; the save starts after the step ends.
    const step = all.find((s) => s.name === SPAN_NAME.step(1));
    const ns = (t: [number, number] | undefined) => (t ? BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]) : -1n);
    expect(ns(load?.endTime) <= ns(step?.startTime)).toBe(true);
    expect(ns(step?.endTime) <= ns(save?.startTime)).toBe(true);
  });

  it('lets middleware filter the loaded history and redact the saved turn', async () => {
    const redact: Middleware = {
      name: 'redact',
      wrapLoadConversation: async (_ctx, next) => (await next()).filter((m) => m.role !== 'assistant'),
      wrapSaveConversation: (ctx, next) => next(ctx.messages.map((m) => ({ ...m, content: m.content.replace(/\d{4}-\d{4}/g, '[card]') }))),
    };
    const spans = collectSpans();
    const model = echoModel();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, middleware: [redact] });
    const chat = agent({ name: 'chat', instructions: '', model });
    await runtime.run(chat, 'card 1234-5678', { conversationId: 'c-redact' });
    await runtime.run(chat, 'again', { conversationId: 'c-redact' });
    expect(text((await runtime.conversations.get('c-redact'))?.messages ?? [])).toEqual([
      'user: card [card]',
      'assistant: re: card [card]',
      'user: again',
      'assistant: re: again',
    ]);
    expect(text(model.requests[1]?.messages ?? [])).toEqual(['user: card [card]', 'user: again']);
    const loads = spans.spans().filter((s) => s.name === 'load_conversation');
    expect(loads.map((s) => s.attributes[ATTR.conversationMessages])).toEqual([0, 1]);
  });
});

const stores: [string, () => Store][] = [
  ['memory', () => memoryStore()],
  ['sqlite', () => sqliteStore({ path: join(dir, `${randomUUID()}.db`) })],
  ['redis', () => redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS })],
];

describe.each(stores)('runs of one conversation on the %s store', (_name, make) => {
  it('never interleave: 5 concurrent runs leave 10 strictly alternating messages, each run seeing all before it', async () => {
    const store = make();
    try {
      const model = echoModel(15);
      const runtime = createRuntime({ store });
      const chat = agent({ name: 'chat', instructions: '', model });
      const id = `c-${randomUUID()}`;
      await Promise.all(Array.from({ length: 5 }, (_, i) => runtime.run(chat, `q${i}`, { conversationId: id })));
      const messages = (await runtime.conversations.get(id))?.messages ?? [];
      expect(messages).toHaveLength(10);
      messages.forEach((m, i) => {
        expect(m.role).toBe(i % 2 === 0 ? 'user' : 'assistant');
        if (m.role === 'assistant') expect(m.content).toBe(`re: ${messages[i - 1]?.content}`);
      });
      expect(new Set(messages.filter((m) => m.role === 'user').map((m) => m.content))).toEqual(new Set(['q0', 'q1', 'q2', 'q3', 'q4']));
      expect(model.requests.map((r) => r.messages.length)).toEqual([1, 3, 5, 7, 9]);
    } finally {
      await store.close();
    }
  });
});

describe.each([
  ['SQLite file', () => join(dir, `${randomUUID()}.db`)],
  ['Redis server', () => redis.url],
])('runs of one conversation in 2 processes sharing a %s', (_name, where) => {
  const worker = fileURLToPath(new URL('./conversation-worker.ts', import.meta.url));

  function runWorker(config: ConversationWorkerConfig): Promise<number[]> {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return new Promise((resolve, reject) =>
      child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`conversation worker exited ${code}`)))),
    );
  }

  it('never interleave: 2 x 3 concurrent runs leave 12 alternating messages, each run seeing all before it', { timeout: 60_000 }, async () => {
    const store = where();
    const conversationId = `c-${randomUUID()}`;
    const seen = await Promise.all(['a', 'b'].map((name) => runWorker({ conversationId, store, turns: 3, name })));
    expect(seen.flat().sort((x, y) => x - y)).toEqual([1, 3, 5, 7, 9, 11]);
    const reader = store.startsWith('redis://') ? redisStore({ url: store, timeoutMs: LOADED_REPLY_TIMEOUT_MS }) : sqliteStore({ path: store });
    try {
      const messages = (await reader.conversations.get(conversationId))?.messages ?? [];
      expect(messages).toHaveLength(12);
      messages.forEach((m, i) => {
        expect(m.role).toBe(i % 2 === 0 ? 'user' : 'assistant');
        if (m.role === 'assistant') expect(m.content).toBe(`re: ${messages[i - 1]?.content}`);
      });
    } finally {
      await reader.close();
    }
  });
});
