/**
 * Sub-agents as tools (`agent.asTool()`): a sub-run goes through the parent's runtime chain, so it
 * is traced under the tool call's span, budgeted within the parent's `runCostUsd`, counted in the
 * parent's totals, streamed through the parent's `stream()` and stopped with the parent.
 */
import { describe, expect, it } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { agent } from '../../src/agent.js';
import { RunAbortedError } from '../../src/errors.js';
import type { Model, ModelRequest } from '../../src/providers/model.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { memoryStore } from '../../src/state/memory.js';
import { encodeRunEvent } from '../../src/state/run-store.js';
import { ModelCallError } from '../../src/providers/errors.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';
import { tool } from '../../src/tool.js';
import { z } from 'zod';

// gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
const priced = { provider: 'openai', modelId: 'gpt-4o-mini' } as const;

/** A parent model that asks `researcher` `calls` times in parallel, then answers with what it got. */
function parentModel(calls: number, outputTokens: number) {
  return scriptedModel({
    ...priced,
    respond: (request: ModelRequest): ScriptedResponse => {
      const last = request.messages.at(-1);
      if (last?.role === 'tool') return { text: 'done', usage: { inputTokens: 0, outputTokens } };
      const toolCalls = Array.from({ length: calls }, (_, i) => ({ id: `c${i}`, name: 'researcher', arguments: { input: `topic ${i}` } }));
      return { toolCalls, usage: { inputTokens: 0, outputTokens } };
    },
  });
}

/** A child model whose answer spends every output token it was granted (so the budget's grant is what it costs). */
const childModel = () =>
  scriptedModel({ ...priced, respond: (request) => ({ text: `found ${String(request.messages[0]?.content)}`, usage: { inputTokens: 0, outputTokens: request.maxOutputTokens ?? 0 } }) });

const chatCost = (spans: readonly ReadableSpan[], traceId: string) =>
  spans.filter((s) => s.name.startsWith('chat') && s.spanContext().traceId === traceId).reduce((sum, s) => sum + Number(s.attributes[ATTR.costAmount] ?? 0), 0);

describe('sub-agents as tools', () => {
  it('nests the sub-run under the tool span, rolls its cost up, and streams its events tagged', async () => {
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: memoryStore() });
    const researcher = agent({ name: 'researcher', instructions: 'Research.', model: childModel(), maxOutputTokens: 200 });
    const lead = agent({ name: 'lead', instructions: 'Lead.', model: parentModel(1, 50), tools: [researcher.asTool()] });

    const events: RunEvent[] = [];
    for await (const event of runtime.stream(lead, 'Go', { runId: 'parent-1' })) events.push(event);
    const end = events.at(-1);
    if (end?.type !== 'run-end') throw new Error(`expected run-end, got ${end?.type}`);
    const result = end.result;

    const all = spans.spans();
    const tool = all.find((s) => s.name === SPAN_NAME.tool('researcher'))!;
    const sub = all.find((s) => s.name === SPAN_NAME.run('researcher'))!;
    const parent = all.find((s) => s.name === SPAN_NAME.run('lead'))!;
    expect(sub.parentSpanContext?.spanId).toBe(tool.spanContext().spanId);
    expect(sub.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(sub.attributes[ATTR.parentRunId]).toBe('parent-1');
    expect(parent.attributes[ATTR.parentRunId]).toBeUndefined();
    const subSteps = all.filter((s) => s.parentSpanContext?.spanId === sub.spanContext().spanId);
    expect(subSteps.map((s) => s.name)).toEqual([SPAN_NAME.step(1)]);

    // Parent: 2 calls x 50 output tokens; child: 1 call x 200 output tokens.
    const expected = (2 * 50 + 200) * 0.6e-6;
    expect(result.costUsd).toBeCloseTo(expected, 12);
    expect(result.usage.outputTokens).toBe(300);
    expect(chatCost(all, result.traceId)).toBeCloseTo(result.costUsd!, 12);
    expect(parent.attributes[ATTR.runCostUsd]).toBeCloseTo(expected, 12);
    expect(sub.attributes[ATTR.runCostUsd]).toBeCloseTo(200 * 0.6e-6, 12);
    expect(result.output).toBe('done');
    expect(result.messages.find((m) => m.role === 'tool')?.content).toBe('found topic 0');

    const tagged = events.filter((e) => e.type === 'sub-agent');
    // The streamed child's deltas, one per scripted chunk, read as one kind here.
    const kinds = tagged.map((e) => e.event.type).filter((t, i, all) => t !== all[i - 1]);
    expect(kinds).toEqual(['run-start', 'step-start', 'text-delta', 'usage', 'step-end', 'run-end']);
    for (const e of tagged) expect(e).toMatchObject({ agent: 'researcher', toolCallId: 'c0' });
    // The sub-run is part of the parent's tool call, not a durable run of its own.
    const subRunId = (tagged[0] as Extract<RunEvent, { type: 'sub-agent' }>).runId;
    expect(await runtime.runs.get(subRunId)).toBeUndefined();
    expect((await runtime.runs.list()).map((r) => r.runId)).toEqual(['parent-1']);
    expect(spans.open()).toEqual([]);
  });

  it("keeps the spend of every parent and its sub-runs within the parent's runCostUsd, 10 parents at once", async () => {
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: memoryStore() });
    const limit = 0.002;
    const researcher = agent({ name: 'researcher', instructions: 'Research.', model: childModel(), maxOutputTokens: 1000 });
    // 5 children at up to $0.0006 each would be $0.003: only about 3 fit.
    const lead = agent({ name: 'lead', instructions: 'Lead.', model: parentModel(5, 50), tools: [researcher.asTool()], maxOutputTokens: 50, budget: { runCostUsd: limit } });
    const results = await Promise.all(Array.from({ length: 10 }, () => runtime.run(lead, 'Go')));
    const all = spans.spans();
    for (const result of results) {
      const spent = chatCost(all, result.traceId);
      expect(spent).toBeLessThanOrEqual(limit + 1e-12);
      expect(result.costUsd).toBeCloseTo(spent, 12);
      const toolResults = result.messages.filter((m) => m.role === 'tool');
      expect(toolResults).toHaveLength(5);
      // Some children were granted, and at least one was refused and answered as an error result.
      expect(toolResults.some((m) => !m.isError)).toBe(true);
      expect(toolResults.some((m) => m.isError && m.content.includes('budget'))).toBe(true);
    }
    expect(spans.open()).toEqual([]);
  });

  it("answers the parent's model with a budget error result when the sub-run's call is refused", async () => {
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: memoryStore() });
    const child = childModel();
    const researcher = agent({ name: 'researcher', instructions: 'Research.', model: child, maxOutputTokens: 1000 });
    const lead = parentModel(1, 10);
    // $0.0001 leaves room for the parent's 10-token calls, not for the child's 256-token minimum.
    const a = agent({ name: 'lead', instructions: 'Lead.', model: lead, tools: [researcher.asTool()], maxOutputTokens: 10, budget: { runCostUsd: 0.0001 } });
    const result = await runtime.run(a, 'Go');
    expect(result.stopReason).toBe('final');
    expect(child.requests).toHaveLength(0);
    const answer = lead.requests[1]?.messages.at(-1);
    expect(answer).toMatchObject({ role: 'tool', toolName: 'researcher', isError: true });
    expect(answer?.content).toContain('budget');
    const tool = spans.spans().find((s) => s.name === SPAN_NAME.tool('researcher'))!;
    expect(tool.attributes[ATTR.errorType]).toBe('budget_exceeded');
    const sub = spans.spans().find((s) => s.name === SPAN_NAME.run('researcher'))!;
    expect(sub.attributes[ATTR.stopReason]).toBe('budget_exceeded');
  });

  it("spends a sub-run's tenant window for the parent's tenant, and counts and bounds its costed tools in the parent", async () => {
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: memoryStore() });
    const ran: string[] = [];
    const search = tool({
      name: 'search',
      description: 'Paid search.',
      parameters: z.object({ q: z.string() }),
      costUsd: 0.004,
      execute: ({ q }) => {
        ran.push(q);
        return `result ${q}`;
      },
    });
    const searcherModel = scriptedModel({
      ...priced,
      respond: (request, call) =>
        request.messages.at(-1)?.role === 'tool'
          ? { text: String(request.messages.at(-1)?.content), usage: { inputTokens: 0, outputTokens: 10 } }
          : { toolCalls: [{ id: `s${call}`, name: 'search', arguments: { q: String(request.messages[0]?.content) } }], usage: { inputTokens: 0, outputTokens: 10 } },
    });
    // The child's own budget is a per-tenant window: without the parent's tenant it could not be keyed.
    const researcher = agent({ name: 'researcher', instructions: 'Research.', model: searcherModel, tools: [search], maxOutputTokens: 10, budget: { spend: { usd: 1, window: '1h', per: 'tenant' } } });
    // $0.01 holds the parent's two calls and two $0.004 searches, not a third search.
    const lead = agent({ name: 'lead', instructions: 'Lead.', model: parentModel(3, 10), tools: [researcher.asTool()], maxOutputTokens: 10, budget: { runCostUsd: 0.01 } });
    const result = await runtime.run(lead, 'Go', { tenant: 'acme' });
    expect(ran).toHaveLength(2);
    const all = spans.spans();
    const subRuns = all.filter((s) => s.name === SPAN_NAME.run('researcher'));
    expect(subRuns).toHaveLength(3);
    for (const sub of subRuns) expect(sub.attributes[ATTR.tenant]).toBe('acme');
    const toolCost = all.filter((s) => s.name === SPAN_NAME.tool('search')).reduce((sum, s) => sum + Number(s.attributes[ATTR.toolCostUsd] ?? 0), 0);
    expect(toolCost).toBeCloseTo(0.008, 12);
    expect(result.costUsd).toBeCloseTo(chatCost(all, result.traceId) + toolCost, 12);
    expect(result.costUsd).toBeLessThanOrEqual(0.01);
    const refused = all.find((s) => s.name === SPAN_NAME.tool('search') && s.attributes[ATTR.errorType] === 'budget_exceeded');
    expect(refused).toBeDefined();
    expect(spans.open()).toEqual([]);
  });

  it('stops the sub-run when the parent is aborted, leaving no open span', async () => {
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, store: memoryStore() });
    let started!: () => void;
    const childStarted = new Promise<void>((resolve) => (started = resolve));
    let childSignal: AbortSignal | undefined;
    const hanging: Model = {
      ...priced,
      generate(request) {
        childSignal = request.signal;
        started();
        return new Promise(() => {});
      },
      stream() {
        throw new Error('not streamed');
      },
    };
    const researcher = agent({ name: 'researcher', instructions: 'Research.', model: hanging });
    const a = agent({ name: 'lead', instructions: 'Lead.', model: parentModel(1, 10), tools: [researcher.asTool()] });
    const controller = new AbortController();
    const run = runtime.run(a, 'Go', { signal: controller.signal });
    await childStarted;
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(RunAbortedError);
    expect(childSignal?.aborted).toBe(true);
    expect(spans.open()).toEqual([]);
    const sub = spans.spans().find((s) => s.name === SPAN_NAME.run('researcher'))!;
    expect(sub.attributes[ATTR.stopReason]).toBe('aborted');
  });

  it('passes a custom schema as JSON text, and an `input` argument as is', async () => {
    const { z } = await import('zod');
    const runtime = tracedRuntime({ store: memoryStore() });
    const child = childModel();
    const researcher = agent({ name: 'researcher', instructions: 'Research.', model: child });
    const byTopic = researcher.asTool({ name: 'by_topic', description: 'Research a topic.', parameters: z.object({ topic: z.string(), depth: z.number() }) });
    expect(byTopic.definition.parameters).toMatchObject({ required: ['topic', 'depth'] });
    const model = scriptedModel({
      ...priced,
      respond: [{ toolCalls: [{ id: 'c1', name: 'by_topic', arguments: { topic: 'owls', depth: 2 } }] }, { text: 'ok' }],
    });
    await runtime.run(agent({ name: 'lead', instructions: 'Lead.', model, tools: [byTopic] }), 'Go');
    expect(child.requests[0]?.messages[0]?.content).toBe('{"topic":"owls","depth":2}');
  });

  it("logs a sub-run's retry error as { type, message }, as a top run's", () => {
    const error = new ModelCallError('slow down', { kind: 'rate_limit', provider: 'openai' });
    const retry: RunEvent = { type: 'retry', step: 1, attempt: 1, delayMs: 10, error };
    const wrapped: RunEvent = { type: 'sub-agent', agent: 'researcher', runId: 'r', toolCallId: 'c1', event: retry };
    expect(JSON.parse(encodeRunEvent(wrapped)).event.error).toEqual(JSON.parse(encodeRunEvent(retry)).error);
    expect(JSON.parse(encodeRunEvent(wrapped)).event.error).toMatchObject({ type: 'rate_limit' });
  });
});
