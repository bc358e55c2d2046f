import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunAbortedError, RunError, RunTimeoutError } from '../../src/errors.js';
import { ModelCallError } from '../../src/providers/errors.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel, type ScriptedModelOptions, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import type { RunEvent } from '../../src/runtime/events.js';

const add = tool({
  name: 'add',
  description: 'Adds two numbers.',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: ({ a, b }) => a + b,
});

const usage = { inputTokens: 100, outputTokens: 20 };
const callAdd = (id: string, a: unknown = 1, b: unknown = 2): ScriptedResponse => ({
  toolCalls: [{ id, name: 'add', arguments: { a, b } }],
  usage,
});

function setup(respond: ScriptedModelOptions['respond'], extra: Partial<Parameters<typeof agent>[0]> = {}) {
  const spans = collectSpans();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true, retry: { initialDelayMs: 1 } });
  const a = agent({ name: 'calc', instructions: 'Use the tools.', model, tools: [add], ...extra });
  return { spans, model, runtime, agent: a };
}

describe('the loop', () => {
  it('runs tool calls then answers, with the span tree of DESIGN.md', async () => {
    const { spans, runtime, agent: a, model } = setup([
      { toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 1, b: 2 } }, { id: 'c2', name: 'add', arguments: { a: 3, b: 4 } }], usage },
      { text: 'The sums are 3 and 7.', usage: { inputTokens: 150, outputTokens: 10, cacheReadTokens: 50 } },
    ]);
    const result = await runtime.run(a, 'Add 1+2 and 3+4');
    expect(result.stopReason).toBe('final');
    expect(result.output).toBe('The sums are 3 and 7.');
    expect(result.steps).toBe(2);
    expect(result.toolCalls).toBe(2);
    expect(result.usage).toEqual({ inputTokens: 250, outputTokens: 30, cacheReadTokens: 50, cacheWriteTokens: 0, reasoningTokens: 0 });
    // gpt-4o-mini: $0.15/MTok input, $0.075 cached input, $0.60 output (genai-prices data).
    const expected = (100 * 0.15 + 20 * 0.6 + 100 * 0.15 + 50 * 0.075 + 10 * 0.6) / 1e6;
    expect(result.costUsd).toBeCloseTo(expected, 12);

    // The second request carries both results, answering the right call ids.
    const second = model.requests[1]!;
    expect(second.messages.filter((m) => m.role === 'tool')).toEqual([
      { role: 'tool', toolCallId: 'c1', toolName: 'add', content: '3' },
      { role: 'tool', toolCallId: 'c2', toolName: 'add', content: '7' },
    ]);

    const all = spans.spans();
    const byName = (n: string) => all.filter((s) => s.name === n);
    const [run] = byName('invoke_agent calc');
    expect(run).toBeDefined();
    expect(run!.parentSpanContext).toBeUndefined();
    expect(run!.attributes[ATTR.stopReason]).toBe('final');
    expect(run!.attributes[ATTR.usageInputTokens]).toBe(250);
    expect(run!.attributes[ATTR.runCostUsd]).toBeCloseTo(expected, 12);
    // The run's total is no gen_ai.usage.cost.* amount: a backend summing those over a trace's
    // spans would count it twice (semantic-conventions-genai PR #443 keeps them on model calls).
    for (const key of [ATTR.costAmount, ATTR.costCurrency, ATTR.costSource]) expect(run!.attributes[key]).toBeUndefined();
    // The input and the answer as semconv messages (replay reads them back). Langfuse's keys are
    // written only with its exporter on (tests/export/langfuse.test.ts).
    const runInput = [{ role: 'user', parts: [{ type: 'text', content: 'Add 1+2 and 3+4' }] }];
    expect(JSON.parse(String(run!.attributes[ATTR.inputMessages]))).toEqual(runInput);
    expect(JSON.parse(String(run!.attributes[ATTR.outputMessages]))).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'The sums are 3 and 7.' }], finish_reason: 'stop' },
    ]);
    for (const key of Object.keys(run!.attributes)) expect(key.startsWith('langfuse.')).toBe(false);
    const steps = all.filter((s) => s.name.startsWith('step '));
    expect(steps.map((s) => s.name).sort()).toEqual(['step 1', 'step 2']);
    for (const s of steps) expect(s.parentSpanContext?.spanId).toBe(run!.spanContext().spanId);
    const chats = byName('chat gpt-4o-mini');
    expect(chats).toHaveLength(2);
    for (const c of chats) expect(c.kind).toBe(SpanKind.CLIENT);
    // The output message's finish reason is the semconv schema's `tool_call`.
    const outputs = chats.map((c) => JSON.parse(String(c.attributes[ATTR.outputMessages])) as { finish_reason: string }[]);
    expect(outputs.map((o) => o[0]!.finish_reason).sort()).toEqual(['stop', 'tool_call']);
    // No limit needs a count before the call: utilization comes from the reported input tokens
    // over gpt-4o-mini's 128,000-token window (genai-prices data).
    expect(chats.map((c) => c.attributes[ATTR.contextUtilization]).sort()).toEqual([100 / 128_000, 150 / 128_000]);
    const tools = byName('execute_tool add');
    expect(tools).toHaveLength(2);
    const step1 = steps.find((s) => s.name === 'step 1')!;
    for (const t of tools) expect(t.parentSpanContext?.spanId).toBe(step1.spanContext().spanId);
    expect(tools.map((t) => t.attributes[ATTR.toolCallResult]).sort()).toEqual(['3', '7']);
    expect(step1.attributes[ATTR.stepFinish]).toBe('tool_calls');
    expect(all.every((s) => s.ended)).toBe(true);
  });

  it('sends invalid arguments and tool errors back to the model as error results', async () => {
    const boom = tool({
      name: 'boom',
      description: 'Always fails.',
      parameters: z.object({}),
      execute: () => {
        throw new Error('disk on fire');
      },
    });
    const { spans, runtime, model } = setup([
      { toolCalls: [{ id: 'c1', name: 'add', arguments: { a: 'one', b: 2 } }, { id: 'c2', name: 'boom', arguments: {} }, { id: 'c3', name: 'nope', arguments: {} }], usage },
      { text: 'Sorry.', usage },
    ]);
    const a = agent({ name: 'calc', instructions: '', model, tools: [add, boom] });
    const result = await runtime.run(a, 'go');
    const results = result.messages.filter((m) => m.role === 'tool');
    expect(results.map((m) => m.role === 'tool' && m.isError)).toEqual([true, true, true]);
    expect(results[0]!.content).toMatch(/Invalid arguments for tool "add": a: /);
    expect(results[1]!.content).toBe('Error: disk on fire');
    expect(results[2]!.content).toMatch(/Unknown tool "nope"/);
    const toolSpans = spans.spans().filter((s) => s.name.startsWith('execute_tool'));
    expect(toolSpans.map((s) => [s.name, s.status.code, s.attributes[ATTR.errorType]]).sort()).toEqual([
      ['execute_tool add', SpanStatusCode.ERROR, 'invalid_arguments'],
      ['execute_tool boom', SpanStatusCode.ERROR, 'Error'],
      ['execute_tool nope', SpanStatusCode.ERROR, 'unknown_tool'],
    ]);
  });

  it('stops at maxSteps and maxToolCalls with the stop reason on the run span', async () => {
    const looping = setup((_req, call) => callAdd(`c${call}`), { budget: { maxSteps: 3 } });
    const r1 = await looping.runtime.run(looping.agent, 'loop');
    expect(r1.stopReason).toBe('max_steps');
    expect(r1.steps).toBe(3);
    const run1 = looping.spans.spans().find((s) => s.name === 'invoke_agent calc')!;
    expect(run1.attributes[ATTR.stopReason]).toBe('max_steps');

    const capped = setup((_req, call) => callAdd(`c${call}`), { budget: { maxToolCalls: 2 } });
    const r2 = await capped.runtime.run(capped.agent, 'loop');
    expect(r2.stopReason).toBe('max_tool_calls');
    expect(r2.toolCalls).toBe(2);
    expect(r2.steps).toBe(3);
  });

  it('retries transient errors, each attempt visible, and fails after the retry budget', async () => {
    const rateLimited = new ModelCallError('slow down', { kind: 'rate_limit', provider: 'openai', status: 429, retryAfterMs: 5 });
    const ok = setup([{ error: rateLimited }, { text: 'done', usage }]);
    const r = await ok.runtime.run(ok.agent, 'hi');
    expect(r.output).toBe('done');
    const chat = ok.spans.spans().find((s) => s.name.startsWith('chat'))!;
    expect(chat.attributes[ATTR.retryAttempts]).toBe(1);
    expect(chat.events.filter((e) => e.name === EVENT.retry).map((e) => e.attributes)).toEqual([
      expect.objectContaining({ attempt: 1, 'error.type': 'rate_limit', delay_ms: 5 }),
    ]);

    const down = new ModelCallError('boom', { kind: 'server_error', provider: 'openai', status: 500 });
    const bad = setup([{ error: down }, { error: down }, { error: down }, { text: 'never' }]);
    const failure = await bad.runtime.run(bad.agent, 'hi').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RunError);
    expect((failure as RunError).stopReason).toBe('error');
    expect((failure as RunError).cause).toBe(down);
    expect(bad.model.requests).toHaveLength(3);
    const run = bad.spans.spans().find((s) => s.name === 'invoke_agent calc')!;
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(run.attributes[ATTR.stopReason]).toBe('error');
    expect(bad.spans.spans().every((s) => s.ended)).toBe(true);

    const auth = new ModelCallError('bad key', { kind: 'authentication', provider: 'openai', status: 401 });
    const noRetry = setup([{ error: auth }, { text: 'never' }]);
    await expect(noRetry.runtime.run(noRetry.agent, 'hi')).rejects.toBeInstanceOf(RunError);
    expect(noRetry.model.requests).toHaveLength(1);
  });

  it('aborts and times out with typed errors, partial usage, and every span ended', async () => {
    let toolStarted!: () => void;
    const started = new Promise<void>((resolve) => (toolStarted = resolve));
    const slow = tool({
      name: 'slow',
      description: 'Waits for the signal.',
      parameters: z.object({}),
      execute: (_args, { signal }) => {
        toolStarted();
        return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
    });
    const s = setup([{ toolCalls: [{ id: 'c1', name: 'slow', arguments: {} }], usage }, { text: 'never' }], {});
    const a = agent({ name: 'calc', instructions: '', model: s.model, tools: [slow] });
    const controller = new AbortController();
    const run = s.runtime.run(a, 'go', { signal: controller.signal }).catch((e: unknown) => e);
    // Aborted inside the tool call, after the first model call's usage (not 20 ms in, which a
    // loaded machine may spend before that call).
    await started;
    controller.abort();
    const aborted = await run;
    expect(aborted).toBeInstanceOf(RunAbortedError);
    expect((aborted as RunAbortedError).progress.usage.inputTokens).toBe(100);
    expect(s.spans.spans().every((x) => x.ended)).toBe(true);
    expect(s.spans.spans().find((x) => x.name === 'invoke_agent calc')!.attributes[ATTR.stopReason]).toBe('aborted');

    const t = setup([{ toolCalls: [{ id: 'c1', name: 'slow', arguments: {} }], usage }, { text: 'never' }]);
    const b = agent({ name: 'calc', instructions: '', model: t.model, tools: [slow] });
    const timedOut = await t.runtime.run(b, 'go', { timeoutMs: 20 }).catch((e: unknown) => e);
    expect(timedOut).toBeInstanceOf(RunTimeoutError);
    expect((timedOut as RunTimeoutError).stopReason).toBe('timeout');
  });

  it('enforces a tool timeout and gives the tool an aborted signal', async () => {
    let sawAbort = false;
    const slow = tool({
      name: 'slow',
      description: 'Too slow.',
      parameters: z.object({}),
      timeoutMs: 10,
      execute: (_args, { signal }) =>
        new Promise((resolve) => signal.addEventListener('abort', () => { sawAbort = true; resolve('late'); })),
    });
    const s = setup([{ toolCalls: [{ id: 'c1', name: 'slow', arguments: {} }], usage }, { text: 'ok', usage }]);
    const a = agent({ name: 'calc', instructions: '', model: s.model, tools: [slow] });
    const result = await s.runtime.run(a, 'go');
    expect(sawAbort).toBe(true);
    const toolMessage = result.messages.find((m) => m.role === 'tool')!;
    expect(toolMessage.content).toMatch(/timed out after 10 ms/);
    const span = s.spans.spans().find((x) => x.name === 'execute_tool slow')!;
    expect(span.attributes[ATTR.errorType]).toBe('timeout');
    expect(span.attributes[ATTR.toolTimeoutMs]).toBe(10);
  });

  it('streams typed events in order and reports the same usage as run()', async () => {
    const script = [callAdd('c1'), { text: 'It is 3.', usage }];
    const s = setup(script);
    const events: RunEvent[] = [];
    for await (const e of s.runtime.stream(s.agent, 'add')) events.push(e);
    expect(events.map((e) => e.type)).toEqual([
      'run-start', 'step-start', 'usage', 'tool-call-start', 'tool-call-end', 'step-end',
      'step-start', 'text-delta', 'text-delta', 'text-delta', 'usage', 'step-end', 'run-end',
    ]);
    const end = events.at(-1) as Extract<RunEvent, { type: 'run-end' }>;
    const plain = setup(script);
    const r = await plain.runtime.run(plain.agent, 'add');
    expect(end.result.usage).toEqual(r.usage);
    expect(end.result.costUsd).toBe(r.costUsd);
  });

  it('runs hooks around model and tool calls', async () => {
    const seen: string[] = [];
    const spans = collectSpans();
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [callAdd('c1'), { text: 'ok', usage }] });
    const runtime = tracedRuntime({
      tracerProvider: spans.tracerProvider,
      hooks: {
        beforeModelCall: ({ step, request }) => { seen.push(`model>${step}`); return { ...request, temperature: 0.2 }; },
        afterModelCall: ({ step }) => { seen.push(`model<${step}`); },
        beforeToolCall: ({ toolCall }) => { seen.push(`tool>${toolCall.id}`); },
        afterToolCall: ({ outcome }) => { seen.push(`tool<${outcome.content}`); },
      },
    });
    await runtime.run(agent({ name: 'calc', instructions: '', model, tools: [add] }), 'go');
    expect(seen).toEqual(['model>1', 'model<1', 'tool>c1', 'tool<3', 'model>2', 'model<2']);
    expect(model.requests[0]!.temperature).toBe(0.2);
  });

  it('records no cost and a warning event for a model without a known price', async () => {
    const spans = collectSpans();
    const model = scriptedModel({ provider: 'openai', modelId: 'my-finetune-xyz', respond: [{ text: 'hi', usage }] });
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider });
    const result = await runtime.run(agent({ name: 'x', instructions: '', model }), 'hi');
    expect(result.costUsd).toBeUndefined();
    const chat = spans.spans().find((s) => s.name === 'chat my-finetune-xyz')!;
    expect(chat.attributes[ATTR.costAmount]).toBeUndefined();
    expect(chat.events.map((e) => e.name)).toContain(EVENT.priceUnknown);
    const priced = tracedRuntime({ tracerProvider: spans.tracerProvider, prices: { 'my-finetune-xyz': { inputPerMTok: 1, outputPerMTok: 2 } } });
    const again = await priced.run(agent({ name: 'x', instructions: '', model: scriptedModel({ provider: 'openai', modelId: 'my-finetune-xyz', respond: [{ text: 'hi', usage }] }) }), 'hi');
    expect(again.costUsd).toBeCloseTo((100 * 1 + 20 * 2) / 1e6, 12);
  });

  it('puts the agent name and the conversation id on every span', async () => {
    const { spans, runtime, agent: a } = setup([callAdd('c1'), { text: 'ok', usage }]);
    await runtime.run(a, 'go', { conversationId: 'conv-42' });
    const all = spans.spans();
    // run, 2 steps, 2 chats, 1 tool, and the conversation's load and save
    expect(all).toHaveLength(8);
    for (const span of all) {
      expect(span.attributes[ATTR.agentName]).toBe('calc');
      expect(span.attributes[ATTR.conversationId]).toBe('conv-42');
    }
  });
});
