/**
 * Tool approvals: a call whose tool needs approval interrupts the run (checkpointed as
 * `interrupted`) after the step's other calls ran; `resume` with decisions runs the approved
 * calls, answers the denied ones with an error result (the tool never runs) and leaves calls
 * without a decision waiting. Real OTel SDK spans, the memory store, scripted models.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import type { Message } from '../../src/messages.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { memoryStore } from '../../src/state/memory.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT, SPAN_NAME } from '../../src/tracing/attributes.js';

const usage = { inputTokens: 100, outputTokens: 20 };

/** Tools that count their executions: `lookup` runs freely, `refund` needs approval (or per `rule`). */
function tools(rule: boolean | ((args: { order: string; usd: number }) => boolean) = true) {
  const ran = { lookup: [] as string[], refund: [] as string[] };
  const lookup = tool({
    name: 'lookup',
    description: 'Looks an order up.',
    parameters: z.object({ order: z.string() }),
    execute: ({ order }) => {
      ran.lookup.push(order);
      return { order, paid: 120 };
    },
  });
  const refund = tool({
    name: 'refund',
    description: 'Refunds an order.',
    parameters: z.object({ order: z.string(), usd: z.number() }),
    needsApproval: rule,
    execute: ({ order, usd }) => {
      ran.refund.push(order);
      return `refunded ${usd} USD on ${order}`;
    },
  });
  return { ran, lookup, refund };
}

/** Answers a request with tool results by quoting them; else asks for `calls`. */
function support(calls: ScriptedResponse['toolCalls'], options: { store?: ReturnType<typeof memoryStore>; rule?: Parameters<typeof tools>[0] } = {}) {
  const spans = collectSpans();
  const store = options.store ?? memoryStore();
  const model = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const results = request.messages.filter((m) => m.role === 'tool');
      return results.length ? { text: `done: ${results.map((m) => m.content).join(' | ')}`, usage } : { toolCalls: calls, usage };
    },
  });
  const t = tools(options.rule);
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true, store });
  const a = agent({ name: 'support', instructions: 'Help.', model, tools: [t.lookup, t.refund] });
  return { spans, store, model, runtime, agent: a, ran: t.ran };
}

const toolResults = (messages: readonly Message[]) => messages.filter((m) => m.role === 'tool').map((m) => [m.toolCallId, m.content, m.isError ?? false]);

describe('a tool call that needs approval', () => {
  it('interrupts the run after the calls that need none ran; the checkpoint shows what it waits on', async () => {
    const { runtime, agent: a, ran } = support([
      { id: 'c1', name: 'lookup', arguments: { order: '4711' } },
      { id: 'c2', name: 'refund', arguments: { order: '4711', usd: 120 } },
    ]);
    const r = await runtime.run(a, 'Refund order 4711', { runId: 'r-4711' });
    expect(r.stopReason).toBe('interrupted');
    expect(r.runId).toBe('r-4711');
    expect(r.interruptions).toEqual([{ kind: 'tool_approval', toolCallId: 'c2', toolName: 'refund', arguments: { order: '4711', usd: 120 } }]);
    expect(ran).toEqual({ lookup: ['4711'], refund: [] });
    expect(r.toolCalls).toBe(1);
    // No half step in the messages: the answer asking for both calls, no result yet.
    expect(r.messages.at(-1)).toMatchObject({ role: 'assistant', toolCalls: [{ id: 'c1' }, { id: 'c2' }] });
    const info = await runtime.runs.get('r-4711');
    expect(info).toMatchObject({ runId: 'r-4711', agent: 'support', status: 'interrupted', step: 1, interruptions: r.interruptions });
    expect(Date.parse(info!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(info!.createdAt));
  });

  it('runs on approval, without running again what ran before; the resumed run continues the trace', async () => {
    const { runtime, agent: a, ran, spans, model } = support([
      { id: 'c1', name: 'lookup', arguments: { order: '4711' } },
      { id: 'c2', name: 'refund', arguments: { order: '4711', usd: 120 } },
    ]);
    const first = await runtime.run(a, 'Refund order 4711', { runId: 'r-approve' });
    const events: RunEvent[] = [];
    const off = runtime.subscribe('r-approve', (event) => events.push(event));
    const done = await runtime.resume(a, 'r-approve', { approvals: { c2: true } });
    off();
    expect(done.stopReason).toBe('final');
    expect(ran).toEqual({ lookup: ['4711'], refund: ['4711'] });
    expect(done.toolCalls).toBe(2);
    expect(done.steps).toBe(2);
    expect(done.usage.inputTokens).toBe(200);
    // Both results, in the calls' order, reach the model in one request.
    expect(toolResults(model.requests.at(-1)!.messages)).toEqual([
      ['c1', '{"order":"4711","paid":120}', false],
      ['c2', 'refunded 120 USD on 4711', false],
    ]);
    expect(done.output).toBe('done: {"order":"4711","paid":120} | refunded 120 USD on 4711');
    expect(await runtime.runs.get('r-approve')).toMatchObject({ status: 'completed', step: 2, result: { stopReason: 'final', output: done.output } });
    expect(events.filter((e) => e.type === 'approval')).toEqual([{ type: 'approval', step: 1, toolCallId: 'c2', toolName: 'refund', approved: true }]);

    const runSpans = spans.spans().filter((s) => s.name === SPAN_NAME.run('support'));
    expect(runSpans).toHaveLength(2);
    const [original, resumed] = runSpans as [(typeof runSpans)[0], (typeof runSpans)[0]];
    expect(done.traceId).toBe(first.traceId);
    expect(resumed.spanContext().traceId).toBe(original.spanContext().traceId);
    expect(resumed.parentSpanContext?.spanId).toBe(original.spanContext().spanId);
    expect(resumed.links.map((l) => l.context.spanId)).toEqual([original.spanContext().spanId]);
    expect(resumed.attributes[ATTR.resumeFromStep]).toBe(1);
    expect(original.attributes[ATTR.resumeFromStep]).toBeUndefined();
    expect(original.attributes[ATTR.runId]).toBe('r-approve');
    expect(resumed.attributes[ATTR.runId]).toBe('r-approve');
    expect(original.attributes[ATTR.stopReason]).toBe('interrupted');
    expect(resumed.attributes[ATTR.stopReason]).toBe('final');
    expect(resumed.events.filter((e) => e.name === EVENT.approval).map((e) => e.attributes)).toEqual([{ tool_call_id: 'c2', approved: true }]);
    const refundSpans = spans.spans().filter((s) => s.name === SPAN_NAME.tool('refund'));
    expect(refundSpans).toHaveLength(1);
    expect(refundSpans[0]!.attributes[ATTR.approval]).toBe('approved');
    expect(spans.spans().find((s) => s.name === SPAN_NAME.tool('lookup'))!.attributes[ATTR.approval]).toBeUndefined();
    // The resumed step's span (step 1 again) is the refund's parent, under the resumed run span.
    const step = spans.spans().find((s) => s.spanContext().spanId === refundSpans[0]!.parentSpanContext?.spanId)!;
    expect(step.name).toBe(SPAN_NAME.step(1));
    expect(step.parentSpanContext?.spanId).toBe(resumed.spanContext().spanId);
    expect(spans.open()).toEqual([]);
  });

  it('denied: answers the model with an error naming the reason, and never runs', async () => {
    const { runtime, agent: a, ran, spans, model } = support([{ id: 'c2', name: 'refund', arguments: { order: '4711', usd: 120 } }]);
    await runtime.run(a, 'Refund order 4711', { runId: 'r-deny' });
    const done = await runtime.resume(a, 'r-deny', { approvals: { c2: { approved: false, reason: 'not eligible' } } });
    expect(done.stopReason).toBe('final');
    expect(ran.refund).toEqual([]);
    expect(done.toolCalls).toBe(0);
    const [result] = toolResults(model.requests.at(-1)!.messages);
    expect(result).toEqual(['c2', 'Tool call "refund" was denied by the approver: not eligible. It did not run.', true]);
    const refund = spans.spans().find((s) => s.name === SPAN_NAME.tool('refund'))!;
    expect(refund.attributes[ATTR.approval]).toBe('denied');
    expect(refund.attributes[ATTR.errorType]).toBe('approval_denied');
    const resumed = spans.spans().filter((s) => s.name === SPAN_NAME.run('support'))[1]!;
    expect(resumed.events.find((e) => e.name === EVENT.approval)?.attributes).toEqual({ tool_call_id: 'c2', approved: false, reason: 'not eligible' });
  });

  it('partial decisions: the undecided call keeps the run interrupted; parallel calls with and without approval', async () => {
    const { runtime, agent: a, ran } = support([
      { id: 'c1', name: 'lookup', arguments: { order: 'a' } },
      { id: 'c2', name: 'refund', arguments: { order: 'a', usd: 10 } },
      { id: 'c3', name: 'refund', arguments: { order: 'b', usd: 20 } },
      { id: 'c4', name: 'lookup', arguments: { order: 'b' } },
    ]);
    const first = await runtime.run(a, 'Refund a and b', { runId: 'r-partial' });
    expect(first.interruptions?.map((i) => i.toolCallId)).toEqual(['c2', 'c3']);
    expect(ran).toEqual({ lookup: ['a', 'b'], refund: [] });

    const second = await runtime.resume(a, 'r-partial', { approvals: { c3: true } });
    expect(second.stopReason).toBe('interrupted');
    expect(second.interruptions?.map((i) => i.toolCallId)).toEqual(['c2']);
    expect(ran).toEqual({ lookup: ['a', 'b'], refund: ['b'] });
    expect((await runtime.runs.get('r-partial'))?.interruptions?.map((i) => i.toolCallId)).toEqual(['c2']);

    const third = await runtime.resume(a, 'r-partial', { approvals: { c2: { approved: false } } });
    expect(third.stopReason).toBe('final');
    expect(ran).toEqual({ lookup: ['a', 'b'], refund: ['b'] });
    expect(toolResults(third.messages).map(([id, , isError]) => [id, isError])).toEqual([
      ['c1', false],
      ['c2', true],
      ['c3', false],
      ['c4', false],
    ]);
    expect(third.toolCalls).toBe(3);
  });

  it('a needsApproval function decides per call from the validated arguments; invalid arguments need none', async () => {
    const { runtime, agent: a, ran } = support(
      [
        { id: 'small', name: 'refund', arguments: { order: 's', usd: 5 } },
        { id: 'big', name: 'refund', arguments: { order: 'b', usd: 500 } },
        { id: 'bad', name: 'refund', arguments: { order: 'x', usd: 'lots' } },
      ],
      { rule: ({ usd }) => usd > 100 },
    );
    const r = await runtime.run(a, 'Refund');
    expect(r.interruptions?.map((i) => i.toolCallId)).toEqual(['big']);
    expect(ran.refund).toEqual(['s']);
    const done = await runtime.resume(a, r.runId, { approvals: { big: true } });
    expect(ran.refund).toEqual(['s', 'b']);
    expect(toolResults(done.messages).find(([id]) => id === 'bad')?.[2]).toBe(true);
  });

  it('a decision for a call the run does not wait on is refused, and the run stays as it was', async () => {
    const { runtime, agent: a, ran } = support([{ id: 'c2', name: 'refund', arguments: { order: '1', usd: 1 } }]);
    await runtime.run(a, 'Refund', { runId: 'r-typo' });
    const typo = runtime.resume(a, 'r-typo', { approvals: { c9: true } });
    await expect(typo).rejects.toThrow(/no tool call "c9" waiting for approval \(waiting: c2\)/);
    await expect(typo).rejects.toMatchObject({ name: 'ResumeError', kind: 'unknown_tool_call', runId: 'r-typo' });
    expect((await runtime.runs.get('r-typo'))?.status).toBe('interrupted');
    // The lease was given back: a resume with the right id goes on.
    expect((await runtime.resume(a, 'r-typo', { approvals: { c2: true } })).stopReason).toBe('final');
    expect(ran.refund).toEqual(['1']);
  });
});

describe('an interrupted run of a conversation', () => {
  it('saves no half turn; the resumed run saves the whole turn, without loading the history again', async () => {
    const { runtime, agent: a, spans, model } = support([{ id: 'c2', name: 'refund', arguments: { order: '4711', usd: 120 } }]);
    const first = await runtime.run(a, 'Refund 4711', { conversationId: 'conv-1', runId: 'turn-1' });
    expect(first.stopReason).toBe('interrupted');
    expect(await runtime.conversations.get('conv-1')).toBeUndefined();
    const done = await runtime.resume(a, 'turn-1', { approvals: { c2: true } });
    expect(done.stopReason).toBe('final');
    const saved = await runtime.conversations.get('conv-1');
    expect(saved?.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(saved?.messages[0]?.content).toBe('Refund 4711');
    // The resumed run's model call saw the history once.
    expect(model.requests.at(-1)!.messages.filter((m) => m.role === 'user')).toHaveLength(1);
    expect(spans.spans().filter((s) => s.name === SPAN_NAME.loadConversation())).toHaveLength(1);
    expect(spans.spans().filter((s) => s.name === SPAN_NAME.saveConversation())).toHaveLength(1);
  });
});

describe('the run budget of a resumed run', () => {
  it('counts what the run spent before it was interrupted', async () => {
    const spans = collectSpans();
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request) =>
        request.messages.some((m) => m.role === 'tool')
          ? { text: 'refunded', usage }
          : // $0.21 at gpt-4o-mini's $0.15 per million input tokens: over the run's $0.20.
            { toolCalls: [{ id: 'c2', name: 'refund', arguments: { order: '1', usd: 1 } }], usage: { inputTokens: 1_400_000, outputTokens: 0 } },
    });
    const { refund, lookup } = tools();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: memoryStore() });
    const a = agent({ name: 'support', instructions: 'Help.', model, tools: [lookup, refund], maxOutputTokens: 100, budget: { runCostUsd: 0.2 } });
    const first = await runtime.run(a, 'Refund', { runId: 'r-budget' });
    expect(first.stopReason).toBe('interrupted');
    expect(first.costUsd).toBeCloseTo(0.21, 10);
    const done = await runtime.resume(a, 'r-budget', { approvals: { c2: true } });
    // Had the spend not carried over, the $0.20 would have room for the next call.
    expect(done.stopReason).toBe('budget_exceeded');
    expect(done.costUsd).toBeCloseTo(0.21, 10);
    expect(done.usage.inputTokens).toBe(1_400_000);
    expect(model.requests).toHaveLength(1);
    const resumed = spans.spans().filter((s) => s.name === SPAN_NAME.run('support'))[1]!;
    expect(resumed.attributes[ATTR.budgetRunCostSpent]).toBeCloseTo(0.21, 10);
    expect(resumed.attributes[ATTR.runCostUsd]).toBeCloseTo(0.21, 10);
  });
});
