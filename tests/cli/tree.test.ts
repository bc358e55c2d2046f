import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { spanRecordOf } from '../../src/traces/span-record.js';
import { renderRun, renderRunFooter, renderRunHeader, renderStep, renderTraces, runHeaderOf } from '../../src/tracing/tree.js';
import { ATTR, EVENT, OPERATION, SPAN_NAME } from '../../src/tracing/attributes.js';
import type { SpanRecord } from '../../src/traces/span-record.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { recordWeatherRun } from './fixture.js';

const plain = { color: false };

/** Drops ANSI SGR sequences (`ESC [ n m`). */
function stripAnsi(text: string): string {
  return text
    .split('\x1b')
    .map((part, i) => (i === 0 ? part : part.replace(/^\[\d+m/, '')))
    .join('');
}

async function weatherSpans(): Promise<SpanRecord[]> {
  return readTraceFile((await recordWeatherRun()).file);
}

const WEATHER_RUN = [
  'invoke_agent weather  openai gpt-4o-mini',
  '├─ step 1  799 ms  tool_calls',
  '│  ├─ chat gpt-4o-mini  503 ms  tokens 100/20  $0.000027',
  '│  │    · budget run: allow, $0.000100 of $0.000100 held, $0.000000 spent of $0.050000, max tokens 1024',
  '│  │    · budget run: settled $0.000027 (held $0.000100)',
  '│  ├─ execute_tool get_weather  call_1  120 ms',
  '│  └─ execute_tool get_weather  call_2  279 ms  ERROR TimeoutError: get_weather timed out after 250 ms',
  '├─ step 2  429 ms  final',
  '│  └─ chat gpt-4o-mini  427 ms  tokens 200/40 (cache read 50, reasoning 10)  cost ?',
  '│       · retry attempt=1 error.type=RateLimitError delay_ms=500',
  '└─ stop final  2 steps  2 tool calls  1235 ms  tokens 300/60 (cache read 50, reasoning 10)  $0.000123',
];

/** A minimal span for hand-made trees; times in ms from 0. */
function span(spanId: string, name: string, startMs: number, endMs: number, extra: Partial<SpanRecord> = {}): SpanRecord {
  return {
    traceId: 'a'.repeat(32),
    spanId: spanId.padStart(16, '0'),
    name,
    kind: 'INTERNAL',
    startTimeUnixNano: BigInt(startMs) * 1_000_000n,
    endTimeUnixNano: BigInt(endMs) * 1_000_000n,
    attributes: {},
    status: { code: 'UNSET' },
    events: [],
    resource: {},
    ...extra,
    ...(extra.parentSpanId ? { parentSpanId: extra.parentSpanId.padStart(16, '0') } : {}),
  };
}

describe('renderTraces', () => {
  it('prints a run as run → steps → model and tool calls, with durations, tokens, cost, errors and events', async () => {
    const spans = await weatherSpans();
    const lines = renderTraces(spans, plain);
    expect(lines).toEqual([`trace ${spans[0]!.traceId}  service weather-service`, ...WEATHER_RUN]);
  });

  it('does not depend on the order of spans in the file', async () => {
    const spans = await weatherSpans();
    expect(renderTraces([...spans].reverse(), plain)).toEqual(renderTraces(spans, plain));
  });

  it('colours only when asked', async () => {
    const spans = await weatherSpans();
    const coloured = renderTraces(spans, { color: true });
    expect(coloured.join('\n')).toContain('\x1b[31mERROR TimeoutError');
    expect(coloured.join('\n')).toContain('\x1b[33mcost ?');
    expect(stripAnsi(coloured.join('\n'))).toBe(renderTraces(spans, plain).join('\n'));
    expect(renderTraces(spans, plain).join('\n')).not.toContain('\x1b');
  });

  it('groups by trace in start order, a blank line between traces', () => {
    const later = span('1', 'GET /late', 50, 60, { traceId: 'b'.repeat(32) });
    const early = span('2', 'GET /early', 10, 20);
    expect(renderTraces([later, early], plain)).toEqual([
      `trace ${'a'.repeat(32)}`,
      'GET /early  10 ms',
      '',
      `trace ${'b'.repeat(32)}`,
      'GET /late  10 ms',
    ]);
  });

  it('prints spans whose parent is not in the file as orphans, never drops them', async () => {
    const spans = await weatherSpans();
    const runId = spans.find((s) => s.name === SPAN_NAME.run('weather'))!.spanId;
    const step1 = spans.find((s) => s.name === SPAN_NAME.step(1))!;
    const partial = spans.filter((s) => s.spanId !== runId && s !== step1);
    const orphanOfStep = `(parent ${step1.spanId} is not in the file)`;
    expect(renderTraces(partial, plain)).toEqual([
      `trace ${spans[0]!.traceId}  service weather-service`,
      `chat gpt-4o-mini  503 ms  tokens 100/20  $0.000027  ${orphanOfStep}`,
      '  · budget run: allow, $0.000100 of $0.000100 held, $0.000000 spent of $0.050000, max tokens 1024',
      '  · budget run: settled $0.000027 (held $0.000100)',
      `execute_tool get_weather  call_1  120 ms  ${orphanOfStep}`,
      `execute_tool get_weather  call_2  279 ms  ERROR TimeoutError: get_weather timed out after 250 ms  ${orphanOfStep}`,
      `step 2  429 ms  final  (parent ${runId} is not in the file)`,
      '└─ chat gpt-4o-mini  427 ms  tokens 200/40 (cache read 50, reasoning 10)  cost ?',
      '     · retry attempt=1 error.type=RateLimitError delay_ms=500',
    ]);
  });

  it('prints spans whose parent ids form a cycle', () => {
    const a = span('a', 'a', 0, 5, { parentSpanId: 'b' });
    const b = span('b', 'b', 1, 4, { parentSpanId: 'a' });
    expect(renderTraces([a, b], plain)).toEqual([
      `trace ${'a'.repeat(32)}`,
      `a  5.0 ms  (parent ${'b'.padStart(16, '0')} is in a cycle)`,
      '└─ b  3.0 ms',
    ]);
  });

  it('nests a run inside a tool call (an agent used as a tool), with its own footer', () => {
    const outer = span('1', SPAN_NAME.run('planner'), 0, 100, {
      attributes: { [ATTR.operationName]: OPERATION.invokeAgent, [ATTR.agentName]: 'planner', [ATTR.stopReason]: 'final' },
    });
    const step = span('2', SPAN_NAME.step(1), 1, 99, { parentSpanId: '1', attributes: { [ATTR.operation]: OPERATION.step } });
    const tool = span('3', SPAN_NAME.tool('research'), 2, 98, {
      parentSpanId: '2',
      attributes: { [ATTR.operationName]: OPERATION.executeTool, [ATTR.toolCallId]: 'call_9' },
    });
    const inner = span('4', SPAN_NAME.run('researcher'), 3, 97, {
      parentSpanId: '3',
      attributes: { [ATTR.operationName]: OPERATION.invokeAgent, [ATTR.stopReason]: 'max_steps', [ATTR.runCostUsd]: 0.01 },
    });
    expect(renderRun(outer, [inner, tool, step], plain)).toEqual([
      'invoke_agent planner',
      '├─ step 1  98 ms',
      '│  └─ execute_tool research  call_9  96 ms',
      '│     └─ invoke_agent researcher',
      '│        └─ stop max_steps  94 ms  $0.010000  hint: raise budget.maxSteps',
      '└─ stop final  100 ms  cost ?',
    ]);
  });
});

describe('cost and tokens', () => {
  const chat = (attributes: SpanRecord['attributes']): SpanRecord =>
    span('1', SPAN_NAME.chat('m'), 0, 3, { attributes: { [ATTR.operationName]: OPERATION.chat, ...attributes } });

  it('shows `cost ?` on a model call without a cost, never $0, and nothing on other spans', () => {
    expect(renderTraces([chat({})], plain)[1]).toBe('chat m  3.0 ms  cost ?');
    expect(renderTraces([chat({ [ATTR.costAmount]: 0 })], plain)[1]).toBe('chat m  3.0 ms  $0.000000');
    expect(renderTraces([chat({ [ATTR.costAmount]: 1e-9 })], plain)[1]).toBe('chat m  3.0 ms  <$0.000001');
    expect(renderTraces([span('2', 'compress_context', 0, 12, { attributes: { [ATTR.operation]: OPERATION.compressContext } })], plain)[1]).toBe(
      'compress_context  12 ms',
    );
  });

  it('shows what compress_context did: prompt tokens before → after of the limit, by which strategies', () => {
    const compress = (attributes: SpanRecord['attributes']) =>
      renderTraces([span('2', 'compress_context', 0, 12, { attributes: { [ATTR.operation]: OPERATION.compressContext, ...attributes } })], plain)[1];
    const counts = { [ATTR.contextTokensBefore]: 9120, [ATTR.contextLimit]: 8000 };
    expect(compress({ ...counts, [ATTR.contextTokensAfter]: 7400, [ATTR.contextStrategy]: 'drop_tool_results,trim' })).toBe(
      'compress_context  12 ms  tokens 9120 → 7400 of 8000 by drop_tool_results,trim',
    );
    expect(compress({ ...counts, [ATTR.contextTokensAfter]: 8800, [ATTR.contextStrategy]: 'drop_tool_results,refuse' })).toBe(
      'compress_context  12 ms  tokens 9120 → 8800 of 8000 by drop_tool_results,refuse (still over)',
    );
  });

  it('marks a missing side of the token pair with ?', () => {
    expect(renderTraces([chat({ [ATTR.usageOutputTokens]: 7, [ATTR.costAmount]: 0.5 })], plain)[1]).toBe(
      'chat m  3.0 ms  tokens ?/7  $0.500000',
    );
  });
});

describe('why a run stopped', () => {
  const stopped = (attributes: SpanRecord['attributes']) =>
    renderRunFooter(span('1', SPAN_NAME.run('w'), 0, 50, { attributes: { [ATTR.operationName]: OPERATION.invokeAgent, [ATTR.costAmount]: 0.001, ...attributes } }), plain);

  it('says which limit to raise after a stop on a limit, with its value', () => {
    expect(stopped({ [ATTR.stopReason]: 'max_steps', [ATTR.steps]: 10, [ATTR.budgetMaxSteps]: 10 })).toBe(
      '└─ stop max_steps  10 steps  50 ms  $0.001000  hint: raise budget.maxSteps (now 10)',
    );
    expect(stopped({ [ATTR.stopReason]: 'max_tool_calls', [ATTR.budgetMaxToolCalls]: 20 })).toMatch(/ {2}hint: raise budget\.maxToolCalls \(now 20\)$/);
    expect(stopped({ [ATTR.stopReason]: 'context_overflow', [ATTR.budgetContextLimit]: 8000 })).toMatch(
      / {2}hint: raise budget\.contextTokens \(now 8000\) or add a contextStrategy that shrinks the prompt$/,
    );
    expect(stopped({ [ATTR.stopReason]: 'budget_exceeded', [ATTR.budgetRunCostLimit]: 0.00025, [ATTR.budgetSpendLimit]: 5 })).toMatch(
      / {2}hint: raise budget\.runCostUsd \(now \$0\.000250\) or budget\.spend\.usd \(now \$5\.000000\), or lower maxOutputTokens \/ budget\.minOutputTokens so a call fits$/,
    );
    expect(stopped({ [ATTR.stopReason]: 'final', [ATTR.budgetMaxSteps]: 10 })).toBe('└─ stop final  50 ms  $0.001000');
  });

  it('puts budget decisions in words: what lowering and refusing mean', () => {
    const check = (decision: string, maxOutputTokens: number) =>
      renderTraces(
        [
          span('1', SPAN_NAME.chat('m'), 0, 3, {
            attributes: { [ATTR.operationName]: OPERATION.chat, [ATTR.costAmount]: 0 },
            events: [
              {
                name: EVENT.budgetCheck,
                timeUnixNano: 0n,
                attributes: { scope: 'run', decision, limit: 0.00025, spent: 0.000086, granted_usd: decision === 'refuse' ? 0 : 0.000164, requested_usd: 0.000244, max_output_tokens: maxOutputTokens },
              },
            ],
          }),
        ],
        plain,
      )[2];
    expect(check('lower', 166)).toBe('  · budget run: lower, $0.000164 of $0.000244 held, $0.000086 spent of $0.000250, max tokens lowered to 166');
    expect(check('refuse', 0)).toBe('  · budget run: refuse (not even the minimum output fits), $0.000000 of $0.000244 held, $0.000086 spent of $0.000250');
  });

  it("puts a priced tool call's checks as what they are: its USD reserved or refused whole, no tokens", async () => {
    // A run with room for one $0.01 search (model calls are free: the scripted model reports no usage).
    const search = tool({ name: 'search', description: 'Paid search.', parameters: z.object({ q: z.string() }), costUsd: 0.01, execute: ({ q }) => `result ${q}` });
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request, call) => (call > 2 ? { text: 'done' } : { toolCalls: [{ id: `call_${call}`, name: 'search', arguments: { q: String(call) } }] }),
    });
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider });
    await runtime.run(agent({ name: 'searcher', instructions: 'Search.', model, tools: [search], budget: { runCostUsd: 0.015 } }), 'go');
    const lines = renderTraces(spans.spans().map((s) => spanRecordOf(s)), plain);
    const budget = lines.filter((line) => line.includes('· budget')).map((line) => line.slice(line.indexOf('· ')));
    expect(budget).toEqual([
      '· budget run: tool call call_1: allow, $0.010000 reserved, $0.000000 spent of $0.015000',
      '· budget run: tool call call_1: settled $0.010000 (held $0.010000)',
      '· budget run: tool call call_2: refuse (its $0.010000 does not fit, not run), $0.010000 spent of $0.015000, $0.005000 left',
    ]);
    expect(lines.join('\n')).not.toContain('max tokens');
  });
});

describe('incremental rendering for `tracebound run`', () => {
  it('renderRunHeader + renderStep per step + renderRunFooter equals the full run', async () => {
    const spans = await weatherSpans();
    const run = spans.find((s) => s.parentSpanId === undefined)!;
    const steps = spans.filter((s) => s.parentSpanId === run.spanId);
    const lines = [
      renderRunHeader(runHeaderOf(run), plain),
      ...steps.flatMap((step) => renderStep(step, spans, plain)),
      renderRunFooter(run, plain),
    ];
    expect(lines).toEqual(WEATHER_RUN);
    expect(renderRun(run, spans, plain)).toEqual(WEATHER_RUN);
  });

  it('renders a header from plain data, before any span ends', () => {
    expect(renderRunHeader({ agentName: 'weather' }, plain)).toBe('invoke_agent weather');
    expect(renderRunHeader({ agentName: 'weather', provider: 'anthropic', model: 'claude-haiku-4-5' }, plain)).toBe(
      'invoke_agent weather  anthropic claude-haiku-4-5',
    );
  });

  it('shows a failed run in its footer', () => {
    const run = span('1', SPAN_NAME.run('w'), 0, 2000, {
      attributes: {
        [ATTR.operationName]: OPERATION.invokeAgent,
        [ATTR.stopReason]: 'error',
        [ATTR.steps]: 1,
        [ATTR.toolCalls]: 0,
        [ATTR.errorType]: 'ProviderError',
      },
      status: { code: 'ERROR', message: 'HTTP 500\nstack...' },
    });
    expect(renderRunFooter(run, plain)).toBe('└─ stop error  1 step  0 tool calls  2000 ms  cost ?  ERROR ProviderError: HTTP 500');
    expect(renderRunFooter(run, plain, '│  ')).toMatch(/^│ {2}└─ stop error/);
  });
});
