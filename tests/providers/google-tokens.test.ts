import { describe, expect, it } from 'vitest';
import { tokenCounterFor } from '../../src/budget/tokens.js';
import { google } from '../../src/providers/google.js';
import type { CountedRequest } from '../../src/providers/model.js';
import { fromGeminiWire, loadCount } from './google-wire.js';

const relativeError = (counted: number, reported: number): number => Math.abs(counted - reported) / reported;
const input = (usage: { promptTokenCount: number; toolUsePromptTokenCount?: number }) => usage.promptTokenCount + (usage.toolUsePromptTokenCount ?? 0);

/** Recorded runs (tests/fixtures/google/SOURCES.md): each call after the first, with the one before it. */
const RUNS = [
  ['count-2.5-pro-tool', 2, 'gemini-2.5-pro, a signed call and its result'],
  ['count-2.5-pro-retry', 3, 'gemini-2.5-pro, a call retried, then the answer'],
  ['count-2.0-flash-stream-tools', 3, 'gemini-2.0-flash, two tools, two rounds'],
  ['count-3-flash-parallel', 5, 'gemini-3-flash-preview, three parallel signed calls, then one a turn'],
] as const;
const PAIRS = RUNS.flatMap(([name, calls, what]) => Array.from({ length: calls - 1 }, (_, i) => [`${name}-${i + 1}`, `${name}-${i + 2}`, what] as const));

describe('Gemini estimate, corrected by the previous call of the run', () => {
  it.each(PAIRS)('%s → %s (%s): within 20 percent after observing the call before', (before, after) => {
    const first = loadCount(before);
    const second = loadCount(after);
    const counter = tokenCounterFor(google(first.model));
    counter.observe(counter.count(fromGeminiWire(first.request)), input(first.usage));
    expect(relativeError(counter.count(fromGeminiWire(second.request)), input(second.usage))).toBeLessThanOrEqual(0.2);
  });

  it.each(PAIRS)('%s → %s: as close when the call before went out uncounted', (before, after) => {
    const first = loadCount(before);
    const second = loadCount(after);
    const counter = tokenCounterFor(google(first.model));
    counter.observeUncounted(fromGeminiWire(first.request), input(first.usage));
    expect(relativeError(counter.count(fromGeminiWire(second.request)), input(second.usage))).toBeLessThanOrEqual(0.2);
  });

  it('counts the thought signatures sent back on Gemini 3, not on Gemini 2.5 (as the recorded prompt counts do)', () => {
    const { model, request } = loadCount('count-3-flash-parallel-2');
    const counted = fromGeminiWire(request);
    const unsigned: CountedRequest = {
      ...counted,
      messages: counted.messages.map((m) => (m.role === 'assistant' ? { ...m, toolCalls: m.toolCalls?.map(({ signature: _, ...call }) => call) } : m)),
    };
    expect(google(model).countTokens!(counted)).toBeGreaterThan(google(model).countTokens!(unsigned) + 100);
    expect(google('gemini-2.5-pro').countTokens!(counted)).toBe(google('gemini-2.5-pro').countTokens!(unsigned));
  });
});

describe('Gemini tokenUpperBound', () => {
  it.each(RUNS.flatMap(([name, calls]) => Array.from({ length: calls }, (_, i) => `${name}-${i + 1}`)))('%s: at least the estimate and the reported count', (name) => {
    const { model, request, usage } = loadCount(name);
    const m = google(model);
    const counted = fromGeminiWire(request);
    expect(m.tokenUpperBound!(counted)).toBeGreaterThanOrEqual(m.countTokens!(counted));
    expect(m.tokenUpperBound!(counted)).toBeGreaterThanOrEqual(input(usage));
  });

  it('holds for texts of astral and multi-byte characters', () => {
    const m = google('gemini-3-flash-preview');
    for (const content of ['😀'.repeat(30), 'ＡＢＣ１２３', 'é'.repeat(7), 'x']) {
      const request: CountedRequest = {
        system: content,
        messages: [
          { role: 'user', content },
          { role: 'assistant', content, toolCalls: [{ id: content, name: 'f', arguments: { content }, signature: content }] },
          { role: 'tool', toolCallId: content, toolName: 'f', content },
        ],
        tools: [{ name: 'f', description: content, parameters: { type: 'object', description: content } }],
      };
      expect(m.tokenUpperBound!(request)).toBeGreaterThanOrEqual(m.countTokens!(request));
    }
  });
});
