/** Run summaries of recorded trace files: a hand-built SDK recording, and real runs through the runtime. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordRun } from '../../src/testing/record.js';
import { summarizeRuns } from '../../src/traces/run-summary.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { recordConversationRuns, recordWeatherRun, tempDir, writeTemp } from '../cli/fixture.js';
import { concierge, PRICE, weather } from '../viewer/agents.js';

describe('summarizeRuns', () => {
  it('reads the totals of a run span and counts its tool calls by name', async () => {
    const { file } = await recordWeatherRun();
    const spans = await readTraceFile(file);
    const run = spans.find((span) => span.name === 'invoke_agent weather')!;
    expect(summarizeRuns(spans)).toEqual([
      {
        traceId: run.traceId,
        spanId: run.spanId,
        agent: 'weather',
        model: 'gpt-4o-mini',
        provider: 'openai',
        // The fixture's epoch, 1_700_000_000 s, and its run's 1234.5678 ms.
        start: 1_700_000_000_000,
        durationMs: 1234.5678,
        stopReason: 'final',
        status: 'OK',
        steps: 2,
        toolCalls: 2,
        toolCallsByName: { get_weather: 2 },
        tokens: { input: 300, output: 60, cacheRead: 50, cacheWrite: 0, reasoning: 10 },
        costUsd: 0.000123,
      },
    ]);
  });

  it('summarizes real runs as their results report them, with the input they were given', async () => {
    const file = join(await tempDir(), 'traces.jsonl');
    const paris = await recordRun(weather({ lookups: 2 }), 'Paris', { traceFile: file });
    const oslo = await recordRun(weather({ maxSteps: 1 }), 'Oslo', {
      traceFile: file,
      runOptions: { runId: 'oslo-1', conversationId: 'c-9', tenant: 'acme', user: 'u-7' },
    });
    const [first, second] = summarizeRuns(await readTraceFile(file));

    expect(first).toMatchObject({
      runId: paris.result.runId,
      traceId: paris.result.traceId,
      agent: 'weather',
      input: 'Paris',
      stopReason: 'final',
      status: 'UNSET',
      steps: 3,
      toolCalls: 2,
      toolCallsByName: { lookup: 2 },
      // Calls read 100, 150 and 200 tokens and wrote 20 each.
      tokens: { input: 450, output: 60, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
    });
    expect(first!.costUsd).toBeCloseTo(450 * PRICE.input + 60 * PRICE.output, 12);
    expect(first!.costUsd).toBe(paris.result.costUsd);
    expect(paris.result.usage).toMatchObject({ inputTokens: 450, outputTokens: 60 });

    expect(second).toMatchObject({ runId: 'oslo-1', input: 'Oslo', conversationId: 'c-9', tenant: 'acme', user: 'u-7', stopReason: 'max_steps', steps: 1, toolCalls: 1 });
    expect(first!.tenant).toBeUndefined();
    expect(oslo.result.stopReason).toBe('max_steps');
    expect(second!.start).toBeGreaterThanOrEqual(first!.start + first!.durationMs);
  });

  it("gives a sub-run its parent's run id and keeps its tool calls out of the parent's", async () => {
    const file = join(await tempDir(), 'traces.jsonl');
    const { result } = await recordRun(concierge(), 'Weather in Lima?', { traceFile: file, runOptions: { runId: 'lead-1' } });
    const runs = summarizeRuns(await readTraceFile(file));
    expect(runs.map((run) => [run.agent, run.runId === 'lead-1', run.parentRunId])).toEqual([
      ['concierge', true, undefined],
      ['weather', false, 'lead-1'],
    ]);
    const [lead, sub] = runs;
    expect(lead!.toolCallsByName).toEqual({ weather: 1 });
    expect(sub!.toolCallsByName).toEqual({ lookup: 1 });
    expect(sub!.input).toBe('Lima');
    // The parent's totals include its sub-run's calls (2 x 40 + 100 + 150 input tokens).
    expect(lead!.tokens.input).toBe(result.usage.inputTokens);
    expect(lead!.tokens.input).toBe(2 * 40 + 100 + 150);
  });

  it('carries each run’s conversation id, in start order whatever the file order', async () => {
    const { text } = await recordConversationRuns();
    const file = await writeTemp(`${text.trimEnd().split('\n').reverse().join('\n')}\n`);
    const runs = summarizeRuns(await readTraceFile(file));
    expect(runs.map((run) => run.conversationId)).toEqual(['support-42', undefined, 'other-7', 'support-42']);
    expect(runs.map((run) => run.steps)).toEqual([1, 1, 1, 1]);
    expect(runs.every((run) => run.input === undefined && run.toolCalls === 0)).toBe(true);
  });
});
