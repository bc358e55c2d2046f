/**
 * User middleware around the loop's calls (README, "Middleware"): a guardrail that blocks a tool
 * call, a cache of model responses, the chain's order, the run state as plain data at every step,
 * and run events for observers. Real OpenTelemetry SDK spans throughout.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { ModelCallError } from '../../src/providers/errors.js';
import type { RunEvent } from '../../src/runtime/events.js';
import type { Middleware } from '../../src/runtime/middleware.js';
import type { ModelCallOutcome } from '../../src/runtime/outcomes.js';
import type { RunState } from '../../src/runtime/run-state.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

const usage = { inputTokens: 100, outputTokens: 20 };

function refundAgent(executed: string[]) {
  const refund = tool({
    name: 'refund',
    description: 'Refunds an order.',
    parameters: z.object({ order: z.string(), usd: z.number() }),
    execute: ({ order }) => {
      executed.push(order);
      return `refunded ${order}`;
    },
  });
  const model = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) =>
      request.messages.some((m) => m.role === 'tool')
        ? { text: 'Done.', usage }
        : {
            toolCalls: [
              { id: 'call_small', name: 'refund', arguments: { order: 'A-1', usd: 20 } },
              { id: 'call_big', name: 'refund', arguments: { order: 'B-2', usd: 5_000 } },
            ],
            usage,
          },
  });
  return { model, agent: agent({ name: 'support', instructions: 'Refund orders.', model, tools: [refund] }) };
}

describe('middleware', () => {
  it('a guardrail blocks one tool call: the tool never runs, its span says why, the model is told', async () => {
    const executed: string[] = [];
    const { model, agent: support } = refundAgent(executed);
    const guardrail: Middleware = {
      name: 'refund-limit',
      wrapToolCall: (ctx, next) => {
        const args = ctx.call.arguments as { usd?: number };
        if (ctx.call.name === 'refund' && (args.usd ?? 0) > 1_000) {
          return Promise.resolve({ content: 'Blocked: refunds over $1,000 need a person.', isError: true, errorType: 'guardrail' });
        }
        return next();
      },
    };
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, middleware: [guardrail] });
    const result = await runtime.run(support, 'Refund A-1 and B-2');

    expect(result.stopReason).toBe('final');
    expect(executed).toEqual(['A-1']);
    const toolResults = model.requests[1]!.messages.filter((m) => m.role === 'tool');
    expect(toolResults).toEqual([
      { role: 'tool', toolCallId: 'call_small', toolName: 'refund', content: 'refunded A-1' },
      { role: 'tool', toolCallId: 'call_big', toolName: 'refund', content: 'Blocked: refunds over $1,000 need a person.', isError: true },
    ]);
    const blocked = spans.spans().find((s) => s.name === 'execute_tool refund' && s.attributes[ATTR.toolCallId] === 'call_big')!;
    expect(blocked.attributes[ATTR.errorType]).toBe('guardrail');
    expect(spans.open()).toEqual([]);
  });

  it('a cache answers a repeated model call: no provider call, no chat span, nothing spent', async () => {
    const cache = new Map<string, ModelCallOutcome>();
    const caching: Middleware = {
      name: 'cache',
      async wrapModelCall(ctx, next) {
        const key = JSON.stringify([ctx.request.system, ctx.request.messages]);
        const hit = cache.get(key);
        if (hit?.kind === 'response') return { ...hit, cost: undefined };
        const outcome = await next(ctx.request);
        if (outcome.kind === 'response') cache.set(key, outcome);
        return outcome;
      },
    };
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'Paris.', usage }) });
    const a = agent({ name: 'geo', instructions: 'Answer.', model, budget: { runCostUsd: 0.01 } });
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, middleware: [caching] });

    const first = await runtime.run(a, 'Capital of France?');
    const second = await runtime.run(a, 'Capital of France?');
    expect(first.output).toBe('Paris.');
    expect(second.output).toBe('Paris.');
    expect(model.requests).toHaveLength(1);
    expect(first.costUsd).toBeGreaterThan(0);
    expect(second.costUsd).toBe(0);
    expect(spans.spans().filter((s) => s.name === 'chat gpt-4o-mini')).toHaveLength(1);
    expect(spans.spans().filter((s) => s.name === 'invoke_agent geo')).toHaveLength(2);
  });

  it('runs in the order given, outermost first, inside the tracing spans and outside the budget', async () => {
    const seen: string[] = [];
    const named = (name: string): Middleware => ({
      name,
      async wrapModelCall(ctx, next) {
        seen.push(`${name} in (max tokens ${ctx.request.maxOutputTokens ?? 'unset'})`);
        const outcome = await next(ctx.request);
        seen.push(`${name} out`);
        return outcome;
      },
    });
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'ok', usage }) });
    // A run budget the worst case does not fit: the budget lowers max output tokens, inside the user's middleware.
    const a = agent({ name: 'order', instructions: '', model, maxOutputTokens: 100_000, budget: { runCostUsd: 0.001 } });
    await createRuntime({ middleware: [named('a'), named('b')] }).run(a, 'hi');
    expect(seen).toEqual(['a in (max tokens 100000)', 'b in (max tokens 100000)', 'b out', 'a out']);
    expect(model.requests[0]!.maxOutputTokens).toBeLessThan(100_000);
  });

  it('sees the run state as plain data that round-trips through JSON after every step', async () => {
    const snapshots: RunState[] = [];
    const checkpointing: Middleware = {
      async wrapStep(ctx, next) {
        const outcome = await next();
        snapshots.push(JSON.parse(JSON.stringify(ctx.run.state)) as RunState);
        expect(snapshots.at(-1)).toEqual(ctx.run.state);
        return outcome;
      },
    };
    const executed: string[] = [];
    const { agent: support } = refundAgent(executed);
    const result = await createRuntime({ middleware: [checkpointing] }).run(support, 'Refund A-1 and B-2', { runId: 'r-1' });
    expect(snapshots.map((s) => s.step)).toEqual([1, 2]);
    expect(snapshots[0]).toMatchObject({ runId: 'r-1', agent: 'support', step: 1, pendingToolCalls: [], totals: { toolCalls: 2 } });
    expect(snapshots[1]!.messages).toEqual(result.messages);
    expect(snapshots[1]!.totals.usage).toEqual(result.usage);
  });

  it('observes run events, run() as stream() emits them: a retry reaches onEvent as it happens', async () => {
    const events: RunEvent['type'][] = [];
    const observer: Middleware = { onEvent: (_run, event) => void events.push(event.type) };
    let calls = 0;
    const flaky = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: () => {
        calls++;
        return calls === 1
          ? { error: new ModelCallError('openai: 503 overloaded', { kind: 'server_error', provider: 'openai', status: 503 }) }
          : { text: 'ok', usage };
      },
    });
    const a = agent({ name: 'flaky', instructions: '', model: flaky });
    const result = await createRuntime({ middleware: [observer], retry: { initialDelayMs: 1 } }).run(a, 'hi');
    expect(result.stopReason).toBe('final');
    expect(events).toEqual(['run-start', 'step-start', 'retry', 'usage', 'step-end', 'run-end']);
  });
});
