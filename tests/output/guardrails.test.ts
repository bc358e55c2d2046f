/**
 * Guardrails through the runtime, traced with the real OTel SDK (collectSpans): an input
 * guardrail stops a run before any model call, an output guardrail stops it on its answer (typed
 * or text), a guardrail's own model call is a priced `chat` span under its `guardrail` span, and
 * a check that throws fails the run.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { DefinitionError, RunError } from '../../src/errors.js';
import type { Guardrail } from '../../src/guardrail.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { memoryStore } from '../../src/state/memory.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { recordRun } from '../../src/testing/record.js';
import { scriptedModel, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { renderTraces } from '../../src/tracing/tree.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { ATTR } from '../../src/tracing/attributes.js';

const usage = { inputTokens: 100, outputTokens: 20 };
const EMAIL = /[\w.+-]+@[\w-]+\.[\w.]+/;
const noEmail: Guardrail = { name: 'no_email', check: (text) => (EMAIL.test(text) ? { ok: false, reason: 'contains an email address' } : { ok: true }) };

function setup(responses: ScriptedResponse[]) {
  const spans = collectSpans();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: responses });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true, store: memoryStore() });
  return { spans, model, runtime };
}

describe('guardrails: input', () => {
  it('stops the run before any model call with stopReason guardrail, on the result, the run span and a guardrail span', async () => {
    const { spans, model, runtime } = setup([{ text: 'never sent', usage }]);
    const a = agent({ name: 'support', instructions: 'Help.', model, guardrails: { input: [noEmail] } });
    const result = await runtime.run(a, 'Write to ada@example.com about my order', { runId: 'r-in' });

    expect(result.stopReason).toBe('guardrail');
    expect(result.guardrail).toEqual({ name: 'no_email', stage: 'input', reason: 'contains an email address' });
    expect(result.output).toBe('');
    expect(result.steps).toBe(0);
    expect(model.requests).toHaveLength(0);

    const all = spans.spans();
    const run = all.find((s) => s.name === 'invoke_agent support')!;
    expect(run.attributes[ATTR.stopReason]).toBe('guardrail');
    expect(run.attributes[ATTR.guardrailName]).toBe('no_email');
    expect(run.attributes[ATTR.guardrailStage]).toBe('input');
    expect(run.attributes[ATTR.guardrailReason]).toBe('contains an email address');
    expect(run.status.code).toBe(SpanStatusCode.UNSET);
    const check = all.find((s) => s.name === 'guardrail no_email')!;
    expect(check.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
    expect(check.attributes).toMatchObject({
      [ATTR.operation]: 'guardrail',
      [ATTR.guardrailName]: 'no_email',
      [ATTR.guardrailStage]: 'input',
      [ATTR.guardrailResult]: 'fail',
      [ATTR.guardrailReason]: 'contains an email address',
    });
    expect(all.filter((s) => s.name.startsWith('chat ') || s.name.startsWith('step '))).toEqual([]);
    // A result, not an error: the durable record says completed.
    expect((await runtime.runs.get('r-in'))?.status).toBe('completed');
    await runtime.shutdown();
  });

  it('lets a clean input through: each check is a passing span, then the run goes on', async () => {
    const { spans, model, runtime } = setup([{ text: 'Your order ships tomorrow.', usage }]);
    const calls: string[] = [];
    const async: Guardrail = { name: 'length', check: async (text, info) => (calls.push(`${info.stage}:${info.agent}:${text}`), { ok: true }) };
    const a = agent({ name: 'support', instructions: 'Help.', model, guardrails: { input: [noEmail, async] } });
    const result = await runtime.run(a, 'Where is my order?');
    expect(result.stopReason).toBe('final');
    expect(result.output).toBe('Your order ships tomorrow.');
    expect(model.requests).toHaveLength(1);
    expect(calls).toEqual(['input:support:Where is my order?']);
    const checks = spans.spans().filter((s) => s.name.startsWith('guardrail '));
    expect(checks.map((s) => [s.name, s.attributes[ATTR.guardrailResult]])).toEqual([
      ['guardrail no_email', 'pass'],
      ['guardrail length', 'pass'],
    ]);
    // Before the first model call: the checks end before the first step starts.
    const step = spans.spans().find((s) => s.name === 'step 1')!;
    for (const c of checks) expect(c.endTime[0] * 1e9 + c.endTime[1]).toBeLessThanOrEqual(step.startTime[0] * 1e9 + step.startTime[1]);
    await runtime.shutdown();
  });
});

describe('guardrails: output', () => {
  it('checks the typed answer and stops with guardrail: no output, the answer kept in messages, run-end carries the stop', async () => {
    const { spans, runtime, model } = setup([{ text: JSON.stringify({ city: 'Springfield', confidence: 0.2 }), usage }]);
    const Answer = z.object({ city: z.string(), confidence: z.number() });
    const sure: Guardrail<z.output<typeof Answer>> = {
      name: 'confident',
      check: (answer) => (answer.confidence >= 0.5 ? { ok: true } : { ok: false, reason: `confidence ${answer.confidence} is below 0.5` }),
    };
    const a = agent({ name: 'geo', instructions: 'Answer.', model, output: Answer, guardrails: { output: [sure] } });
    const events: RunEvent[] = [];
    for await (const event of runtime.stream(a, 'Where do the Simpsons live?')) events.push(event);
    const end = events.at(-1) as Extract<RunEvent, { type: 'run-end' }>;
    expect(end.type).toBe('run-end');
    expect(end.result.stopReason).toBe('guardrail');
    expect(end.result.output).toBeUndefined();
    expect(end.result.guardrail).toEqual({ name: 'confident', stage: 'output', reason: 'confidence 0.2 is below 0.5' });
    expect(end.result.messages.at(-1)).toEqual({ role: 'assistant', content: JSON.stringify({ city: 'Springfield', confidence: 0.2 }) });
    expect(model.requests).toHaveLength(1);

    const all = spans.spans();
    const run = all.find((s) => s.name === 'invoke_agent geo')!;
    const check = all.find((s) => s.name === 'guardrail confident')!;
    expect(check.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
    expect(check.attributes[ATTR.guardrailStage]).toBe('output');
    expect(run.attributes[ATTR.stopReason]).toBe('guardrail');
    expect(run.attributes[ATTR.guardrailReason]).toBe('confidence 0.2 is below 0.5');
    await runtime.shutdown();
  });

  it("runs a guardrail's own model call as a chat span under its check, priced in the run's cost", async () => {
    const { spans, runtime } = setup([{ text: 'Buy ACME stock now, it will triple.', usage }]);
    const judge = scriptedModel({ provider: 'openai', modelId: 'gpt-4.1-nano', respond: [{ text: 'financial_advice', usage: { inputTokens: 60, outputTokens: 2 } }] });
    const topic: Guardrail = {
      name: 'topic',
      async check(answer, info) {
        const verdict = await info.generate(judge, { system: 'Classify the text: on_topic or financial_advice.', messages: [{ role: 'user', content: answer }], tools: [] });
        return verdict.text === 'on_topic' ? { ok: true } : { ok: false, reason: `off topic: ${verdict.text}` };
      },
    };
    const main = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'Buy ACME stock now, it will triple.', usage }] });
    const a = agent({ name: 'support', instructions: 'Help.', model: main, guardrails: { output: [topic] } });
    const result = await runtime.run(a, 'Any tips?');
    expect(result.stopReason).toBe('guardrail');
    expect(result.guardrail?.reason).toBe('off topic: financial_advice');
    expect(judge.requests[0]!.messages).toEqual([{ role: 'user', content: 'Buy ACME stock now, it will triple.' }]);
    // gpt-4o-mini $0.15/$0.60 per MTok, gpt-4.1-nano $0.10/$0.40 (genai-prices data).
    expect(result.costUsd).toBeCloseTo((100 * 0.15 + 20 * 0.6 + 60 * 0.1 + 2 * 0.4) / 1e6, 12);
    expect(result.usage.inputTokens).toBe(160);

    const all = spans.spans();
    const check = all.find((s) => s.name === 'guardrail topic')!;
    const chat = all.find((s) => s.name === 'chat gpt-4.1-nano')!;
    expect(chat.parentSpanContext?.spanId).toBe(check.spanContext().spanId);
    expect(chat.attributes[ATTR.requestModel]).toBe('gpt-4.1-nano');
    expect(chat.attributes[ATTR.costAmount]).toBeCloseTo((60 * 0.1 + 2 * 0.4) / 1e6, 12);
    const run = all.find((s) => s.name === 'invoke_agent support')!;
    expect(run.attributes[ATTR.runCostUsd]).toBeCloseTo(result.costUsd!, 12);
    await runtime.shutdown();
  });

  it("stops the run budget_exceeded when the budget refuses a guardrail's model call, which is never sent", async () => {
    const { runtime } = setup([{ text: 'never sent', usage }]);
    const judge = scriptedModel({ provider: 'openai', modelId: 'gpt-4.1-nano', respond: [{ text: 'on_topic', usage }] });
    const asks: Guardrail = { name: 'asks', check: async (text, info) => ((await info.generate(judge, text)).text === 'on_topic' ? { ok: true } : { ok: false, reason: 'off' }) };
    const main = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'never sent', usage }] });
    const a = agent({ name: 'thrifty', instructions: '', model: main, maxOutputTokens: 1_000, budget: { runCostUsd: 0.000_000_1 }, guardrails: { input: [asks] } });
    const result = await runtime.run(a, 'hello');
    expect(result.stopReason).toBe('budget_exceeded');
    expect(judge.requests).toHaveLength(0);
    expect(main.requests).toHaveLength(0);
    await runtime.shutdown();
  });

  it("reserves a guardrail's model call at that model's prices, not the agent model's", async () => {
    const { runtime } = setup([]);
    // $0.002 holds gpt-4o-mini's worst case for 1,000 output tokens ($0.0006 at $0.60/M) but not
    // gpt-4o's ($0.01 at $10/M): at the judge's own prices the call can have at most ~200 tokens.
    const judge = scriptedModel({ provider: 'openai', modelId: 'gpt-4o', respond: [{ text: 'on_topic', usage }] });
    const asks: Guardrail = { name: 'asks', check: async (text, info) => ((await info.generate(judge, text)).text === 'on_topic' ? { ok: true } : { ok: false, reason: 'off' }) };
    const main = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'fine', usage }] });
    const a = agent({ name: 'thrifty', instructions: '', model: main, maxOutputTokens: 1_000, budget: { runCostUsd: 0.002, minOutputTokens: 1 }, guardrails: { input: [asks] } });
    const result = await runtime.run(a, 'hello');
    expect(result.stopReason).toBe('final');
    expect(judge.requests).toHaveLength(1);
    expect(judge.requests[0]!.maxOutputTokens).toBeLessThan(200);
    expect(main.requests[0]!.maxOutputTokens).toBe(1_000);
    await runtime.shutdown();
  });

  it('does not check an answer the run did not reach (max_steps), and fails the run when a check throws', async () => {
    const { runtime, spans } = setup([{ toolCalls: [{ id: 'c1', name: 'missing', arguments: {} }], usage }, { text: 'fine', usage }]);
    let checked = 0;
    const counted: Guardrail = { name: 'counted', check: () => (checked++, { ok: true }) };
    const limited = agent({ name: 'limited', instructions: '', model: scriptedModel({ respond: () => ({ toolCalls: [{ id: 'c', name: 'x', arguments: {} }], usage }) }), budget: { maxSteps: 1 }, guardrails: { output: [counted] } });
    expect((await runtime.run(limited, 'go')).stopReason).toBe('max_steps');
    expect(checked).toBe(0);

    const broken: Guardrail = { name: 'broken', check: () => { throw new Error('classifier down'); } };
    const a = agent({ name: 'fragile', instructions: '', model: scriptedModel({ respond: [{ text: 'hi', usage }] }), guardrails: { input: [broken] } });
    const error = await runtime.run(a, 'hello').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(RunError);
    expect((error as RunError).stopReason).toBe('error');
    const check = spans.spans().find((s) => s.name === 'guardrail broken')!;
    expect(check.status.code).toBe(SpanStatusCode.ERROR);
    await runtime.shutdown();
  });

  it('refuses a guardrail without a name or a check when the agent is defined', () => {
    const model = scriptedModel({ respond: [] });
    expect(() => agent({ name: 'a', instructions: '', model, guardrails: { input: [{ name: '', check: () => ({ ok: true }) }] } })).toThrow(DefinitionError);
    expect(() => agent({ name: 'a', instructions: '', model, guardrails: { output: [{ name: 'x' } as unknown as Guardrail] } })).toThrow(/guardrails.output\[0\] must be/);
  });
});

describe('guardrails: the span tree', () => {
  it("shows each check's verdict and, on a stopped run, which guardrail stopped it and why", async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'tracebound-guardrail-')), 'trace.jsonl');
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'never sent', usage }] });
    const a = agent({ name: 'support', instructions: 'Help.', model, guardrails: { input: [noEmail] } });
    await recordRun(a, 'Mail ada@example.com', { traceFile: file });
    const lines = renderTraces(await readTraceFile(file), { color: false });
    expect(lines.find((l) => l.includes('guardrail no_email'))).toMatch(/guardrail no_email\s+\S+ ms\s+fail: contains an email address/);
    expect(lines.find((l) => l.includes('stop '))).toMatch(/stop guardrail\s+by no_email \(input\): contains an email address\s+0 steps/);
  });
});
