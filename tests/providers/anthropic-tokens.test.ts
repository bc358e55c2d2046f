import { describe, expect, it } from 'vitest';
import { tokenCounterFor } from '../../src/budget/tokens.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { anthropicInput, fromAnthropicWire, load, type AnthropicWireRequest, type Counted } from '../support/wire.js';

const relativeError = (counted: number, reported: number): number => Math.abs(counted - reported) / reported;
const RUNS = [
  ['anthropic-haiku-parallel-tools', 'claude-haiku-4-5, 4 parallel tool calls'],
  ['anthropic-sonnet-tool', 'claude-sonnet-4-5, one tool call'],
  ['anthropic-sonnet-thinking-tool', 'claude-sonnet-4-0, extended thinking + tool call'],
] as const;

describe('Anthropic estimate, corrected by the previous call of the run', () => {
  it.each(RUNS)('%s (%s): call 2 within 5 percent after observing call 1', (name) => {
    const first = load<AnthropicWireRequest>(`${name}-1`);
    const second = load<AnthropicWireRequest>(`${name}-2`);
    const counter = tokenCounterFor(anthropic(first.request.model));
    const counted = counter.count(fromAnthropicWire(first.request));
    counter.observe(counted, anthropicInput(first.usage));
    const next = counter.count(fromAnthropicWire(second.request));
    expect(relativeError(next, anthropicInput(second.usage))).toBeLessThanOrEqual(0.05);
  });

  it.each(RUNS)('%s: call 2 as close when call 1 went out uncounted', (name) => {
    const first = load<AnthropicWireRequest>(`${name}-1`);
    const second = load<AnthropicWireRequest>(`${name}-2`);
    const counter = tokenCounterFor(anthropic(first.request.model));
    counter.observeUncounted(fromAnthropicWire(first.request), anthropicInput(first.usage));
    const next = counter.count(fromAnthropicWire(second.request));
    expect(relativeError(next, anthropicInput(second.usage))).toBeLessThanOrEqual(0.05);
  });
});

describe('Anthropic tokenUpperBound', () => {
  it.each(RUNS.flatMap(([name]) => [`${name}-1`, `${name}-2`]))('%s: at least the estimate', (name) => {
    const { request } = load<AnthropicWireRequest>(name);
    const model = anthropic(request.model);
    const counted = fromAnthropicWire(request);
    expect(model.tokenUpperBound!(counted)).toBeGreaterThanOrEqual(model.countTokens!(counted));
  });

  it('holds for text NFKC expands and for special-token text', () => {
    const model = anthropic('claude-sonnet-4-5');
    // U+FDFA is one character of 3 bytes that NFKC turns into 18 (33 bytes); ligatures and
    // full-width forms expand too; <EOT> is one special token.
    for (const content of ['\uFDFA'.repeat(20), 'ﬃ ﬄ ﬅ ㎒ ㍿', 'ＡＢＣ１２３', '<EOT><META>', '0123456789'.repeat(30)]) {
      const request: Counted = {
        system: content,
        messages: [
          { role: 'user', content },
          { role: 'assistant', content, toolCalls: [{ id: content, name: 'f', arguments: { content } }] },
          { role: 'tool', toolCallId: content, toolName: 'f', content },
        ],
        tools: [{ name: 'f', description: content, parameters: { type: 'object' } }],
      };
      expect(model.tokenUpperBound!(request)).toBeGreaterThanOrEqual(model.countTokens!(request));
    }
  });
});
