/** Diffs, pairing and `--fail-on` rules over runs recorded through the real runtime. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordRun } from '../../src/testing/record.js';
import { summarizeRuns, type RunSummary } from '../../src/traces/run-summary.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { checkRule, diffRuns, DiffRuleError, pairRuns, parseRule, RULE_GRAMMAR, type RunDiff } from '../../src/viewer/diff.js';
import { tempDir } from '../cli/fixture.js';
import { greeter, PRICE, weather, type WeatherVariant } from './agents.js';

async function record(runs: [WeatherVariant | 'greeter', string][]): Promise<RunSummary[]> {
  const file = join(await tempDir(), 'traces.jsonl');
  for (const [variant, input] of runs) await recordRun(variant === 'greeter' ? greeter() : weather(variant), input, { traceFile: file });
  return summarizeRuns(await readTraceFile(file));
}

describe('diffRuns', () => {
  it('compares every metric of two recorded runs', async () => {
    const [a] = await record([[{ lookups: 1 }, 'Paris']]);
    const [b] = await record([[{ lookups: 2, outputTokens: 30 }, 'Paris']]);
    const diff = diffRuns(a!, b!);
    // a: calls of 100 and 150 input tokens, 20 output each; b: 100, 150, 200 input, 30 output each.
    expect(diff.metrics.input_tokens).toEqual({ a: 250, b: 450, delta: 200, deltaPercent: 80 });
    expect(diff.metrics.output_tokens).toEqual({ a: 40, b: 90, delta: 50, deltaPercent: 125 });
    expect(diff.metrics.tokens).toMatchObject({ a: 290, b: 540, delta: 250 });
    expect(diff.metrics.tokens.deltaPercent).toBeCloseTo((250 / 290) * 100, 9);
    expect(diff.metrics.reasoning_tokens).toEqual({ a: 0, b: 0, delta: 0, deltaPercent: 0 });
    expect(diff.metrics.steps).toEqual({ a: 2, b: 3, delta: 1, deltaPercent: 50 });
    expect(diff.metrics.tool_calls).toEqual({ a: 1, b: 2, delta: 1, deltaPercent: 100 });
    expect(diff.metrics.cost.a).toBeCloseTo(250 * PRICE.input + 40 * PRICE.output, 12);
    expect(diff.metrics.cost.b).toBeCloseTo(450 * PRICE.input + 90 * PRICE.output, 12);
    expect(diff.metrics.cost.deltaPercent).toBeCloseTo(((450 * 0.15 + 90 * 0.6) / (250 * 0.15 + 40 * 0.6) - 1) * 100, 6);
    expect(diff.metrics.latency).toEqual({ a: a!.durationMs, b: b!.durationMs, delta: expect.any(Number), deltaPercent: expect.any(Number) });
    expect(diff.toolCallsByName).toEqual({ lookup: { a: 1, b: 2, delta: 1, deltaPercent: 100 } });
    expect(diff.stopReason).toEqual({ a: 'final', b: 'final', changed: false });
  });

  it('leaves the change out where a value is not recorded, and counts growth from 0 as +Infinity %', () => {
    const base: RunSummary = {
      traceId: '0'.repeat(32), spanId: '0'.repeat(16), agent: 'x', start: 0, durationMs: 10, status: 'OK',
      steps: 1, toolCalls: 0, toolCallsByName: {}, tokens: { input: 10, output: 0, cacheRead: 0, cacheWrite: 0, reasoning: 0 },
    };
    const diff = diffRuns(base, { ...base, costUsd: 0.1, tokens: { ...base.tokens, output: 4 }, toolCallsByName: { search: 2 }, toolCalls: 2 });
    expect(diff.metrics.cost).toEqual({ b: 0.1 });
    expect(diff.metrics.output_tokens).toEqual({ a: 0, b: 4, delta: 4, deltaPercent: Infinity });
    expect(diff.toolCallsByName).toEqual({ search: { a: 0, b: 2, delta: 2, deltaPercent: Infinity } });
    expect(diff.stopReason).toEqual({ changed: false });
  });
});

describe('pairRuns', () => {
  it('pairs by agent and input whatever the order, then the rest of an agent by order', async () => {
    const a = await record([[{}, 'Paris'], ['greeter', 'Hi'], [{}, 'Oslo'], [{}, 'Rome']]);
    const b = await record([[{}, 'Oslo'], [{}, 'Lima'], [{}, 'Paris'], ['greeter', 'Hello'], [{}, 'Kyiv']]);
    const { pairs, onlyA, onlyB } = pairRuns(a, b);
    expect(pairs.map((pair) => [pair.a.input, pair.b.input, pair.by])).toEqual([
      ['Paris', 'Paris', 'input'],
      ['Hi', 'Hello', 'order'],
      ['Oslo', 'Oslo', 'input'],
      ['Rome', 'Lima', 'order'],
    ]);
    expect(onlyA).toEqual([]);
    expect(onlyB.map((run) => run.input)).toEqual(['Kyiv']);
  });

  it('never pairs runs of different agents, nor a sub-run on its own', async () => {
    const a = await record([['greeter', 'Hi']]);
    const b = await record([[{}, 'Hi']]);
    expect(pairRuns(a, b)).toEqual({ pairs: [], onlyA: a, onlyB: b });
    const sub = { ...b[0]!, parentRunId: 'lead-1' };
    expect(pairRuns([sub], [sub])).toEqual({ pairs: [], onlyA: [], onlyB: [] });
  });
});

describe('--fail-on rules', () => {
  it('parses changes in percent, signed changes and plain values', () => {
    expect(parseRule('cost>+10%')).toEqual({ text: 'cost>+10%', metric: 'cost', op: '>', compare: 'percent', value: 10 });
    expect(parseRule('tokens >= -2.5%')).toMatchObject({ metric: 'tokens', op: '>=', compare: 'percent', value: -2.5 });
    expect(parseRule('steps>+1')).toMatchObject({ metric: 'steps', compare: 'change', value: 1 });
    expect(parseRule('latency<=5000')).toMatchObject({ metric: 'latency', op: '<=', compare: 'value', value: 5000 });
    expect(parseRule('cost>0.05')).toMatchObject({ compare: 'value', value: 0.05 });
    expect(parseRule('stop_reason!=final')).toEqual({ text: 'stop_reason!=final', metric: 'stop_reason', op: '!=', value: 'final' });
  });

  it.each([
    ['cost', 'expected a metric, an operator and a value'],
    ['price>+10%', 'unknown metric "price"'],
    ['steps==3', 'steps takes > >= < <=, not =='],
    ['stop_reason>final', 'stop_reason takes == or !=, not >'],
    ['stop_reason!=Final!', '"Final!" is not a stop reason'],
    ['tokens>+ten%', '"+ten%" is not a number'],
    ['tokens>10%', 'a percentage is a change: write +10% or -10%'],
  ])('rejects %s with what is wrong and the grammar', (rule, problem) => {
    const error = (() => {
      try {
        parseRule(rule);
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(DiffRuleError);
    expect((error as DiffRuleError).rule).toBe(rule);
    expect((error as Error).message).toContain(`bad rule "${rule}": ${problem}`);
    expect((error as Error).message).toContain(RULE_GRAMMAR);
  });

  it('breaks a rule when its comparison holds for the candidate', async () => {
    const [a] = await record([[{ lookups: 1 }, 'Paris']]);
    const [b] = await record([[{ lookups: 2 }, 'Paris']]);
    const [stopped] = await record([[{ lookups: 2, maxSteps: 2 }, 'Paris']]);
    const diff = diffRuns(a!, b!);
    const check = (rule: string, against: RunDiff = diff) => {
      const { broken, observed } = checkRule(parseRule(rule), against);
      return [broken, observed];
    };
    // steps 2 -> 3, tokens 290 -> 510 (+75.9%).
    expect(check('steps>+1')).toEqual([false, 'steps +1 (2 → 3)']);
    expect(check('steps>=+1')).toEqual([true, 'steps +1 (2 → 3)']);
    expect(check('tokens>+20%')).toEqual([true, 'tokens +75.9% (290 → 510)']);
    expect(check('tokens>+80%')[0]).toBe(false);
    expect(check('tool_calls>1')).toEqual([true, 'tool_calls 2']);
    expect(check('cost>+10%')[0]).toBe(true);
    expect(check('cost<-1%')[0]).toBe(false);
    expect(check('stop_reason!=final')).toEqual([false, 'stop_reason final']);
    const toStopped = diffRuns(a!, stopped!);
    expect(check('stop_reason!=final', toStopped)).toEqual([true, 'stop_reason max_steps']);
    expect(check('stop_reason==max_steps', toStopped)[0]).toBe(true);
  });

  it('does not break on a change of exactly the allowed amount, despite floating-point noise', async () => {
    const [a] = await record([[{}, 'Paris']]);
    const b: RunSummary = { ...a!, costUsd: 0.00011 };
    const diff = diffRuns({ ...a!, costUsd: 0.0001 }, b);
    expect(checkRule(parseRule('cost>+10%'), diff).broken).toBe(false);
    expect(checkRule(parseRule('cost>+0.00001'), diff).broken).toBe(false);
    expect(checkRule(parseRule('cost>=+10%'), diff).broken).toBe(true);
  });

  it('counts a rule on a value that is not recorded as broken, saying why', async () => {
    const [a] = await record([[{}, 'Paris']]);
    const { costUsd: _, ...unpriced } = a!;
    expect(checkRule(parseRule('cost>+10%'), diffRuns(a!, unpriced))).toMatchObject({
      broken: true,
      observed: 'cost not recorded in the candidate, so the rule cannot be checked',
    });
  });
});
