import { describe, expect, it, vi } from 'vitest';
import { contextWindow } from '../../src/budget/context-window.js';
import { tokenCounterFor } from '../../src/budget/tokens.js';
import type { Message } from '../../src/messages.js';
import type { CountedRequest } from '../../src/providers/model.js';
import { openai } from '../../src/providers/openai.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { anthropicInput, fromAnthropicWire, load, type AnthropicWireRequest } from '../support/wire.js';

const hello: CountedRequest = { messages: [{ role: 'user', content: 'Hello there' }], tools: [] };

describe("a model's own countTokens, corrected by the provider's reports", () => {
  it('counts with countTokens and adds the last observed gap', () => {
    const countTokens = vi.fn((request: CountedRequest) => request.messages.length * 100);
    const counter = tokenCounterFor({ countTokens });
    expect(counter.count(hello)).toBe(100);
    expect(countTokens).toHaveBeenCalledWith(hello);
    counter.observe(100, 130);
    expect(counter.count({ ...hello, messages: [...hello.messages, { role: 'assistant', content: 'Hi' }] })).toBe(230);
    // Without tokenUpperBound there is no bound: every guarded call is counted.
    expect(counter.upperBound(hello)).toBeUndefined();
  });

  it('after observe, the observed request counts as what was reported', () => {
    const { request, usage } = load<AnthropicWireRequest>('anthropic-sonnet-tool-1');
    const counter = tokenCounterFor(anthropic(request.model));
    const converted = fromAnthropicWire(request);
    counter.observe(counter.count(converted), anthropicInput(usage));
    expect(counter.count(converted)).toBe(anthropicInput(usage));
    // A second observation is taken relative to the corrected count it was given.
    counter.observe(counter.count(converted), anthropicInput(usage) + 10);
    expect(counter.count(converted)).toBe(anthropicInput(usage) + 10);
  });

  it('ignores reports that carry no information', () => {
    const counter = tokenCounterFor(anthropic('claude-sonnet-4-5'));
    const before = counter.count(hello);
    counter.observe(before, 0);
    counter.observe(before, Number.NaN);
    counter.observeUncounted(hello, 0);
    expect(counter.count(hello)).toBe(before);
  });

  it('learns from an uncounted call only when it next counts, and bounds the count meanwhile', () => {
    const countTokens = vi.fn((request: CountedRequest) => request.messages.length * 100);
    const tokenUpperBound = (request: CountedRequest) => request.messages.length * 400;
    const counter = tokenCounterFor({ countTokens, tokenUpperBound });
    const longer: CountedRequest = { ...hello, messages: [...hello.messages, { role: 'assistant', content: 'Hi' }] };
    expect(counter.upperBound(hello)).toBe(400);
    // A hidden preamble of 1,000 tokens: the report is far above what countTokens sees.
    counter.observeUncounted(hello, 1_100);
    expect(countTokens).not.toHaveBeenCalled();
    const bound = counter.upperBound(longer)!;
    const count = counter.count(longer);
    expect(count).toBe(1_200);
    expect(bound).toBeGreaterThanOrEqual(count);
    expect(countTokens).toHaveBeenCalledTimes(2);
    // Learned: the bound carries the offset from now on.
    expect(counter.upperBound(longer)).toBe(800 + 1_000);
  });

  it("an adapter's upper bound is never below the corrected count", () => {
    const counter = tokenCounterFor(openai('gpt-4o-mini'));
    const messages: Message[] = [{ role: 'user', content: 'What is the capital of France?' }];
    counter.observe(counter.count({ messages, tools: [] }), 500);
    messages.push({ role: 'assistant', content: 'Paris.' });
    const request = { messages: [...messages], tools: [] };
    expect(counter.upperBound(request)).toBeGreaterThanOrEqual(counter.count(request));
  });
});

describe('models that do not count', () => {
  it('estimates ~4 characters a token and scales by the observed ratio', () => {
    const counter = tokenCounterFor({});
    const request: CountedRequest = { system: 'x'.repeat(400), messages: [{ role: 'user', content: 'y'.repeat(400) }], tools: [] };
    const counted = counter.count(request);
    expect(counted).toBe(200);
    expect(counter.upperBound(request)).toBeUndefined();
    counter.observe(counted, 300);
    expect(counter.count(request)).toBe(300);
    const longer: CountedRequest = { ...request, messages: [...request.messages, { role: 'assistant', content: 'z'.repeat(400) }] };
    expect(counter.count(longer)).toBe(450);
    counter.observeUncounted(longer, 600);
    expect(counter.count(longer)).toBe(600);
  });
});

describe('caching', () => {
  it('gives the same count when message objects are reused and a new count for new ones', () => {
    const counter = tokenCounterFor(openai('gpt-4o-mini'));
    const messages: Message[] = [{ role: 'user', content: 'What is the capital of France?' }];
    const first = counter.count({ messages, tools: [] });
    expect(counter.count({ messages, tools: [] })).toBe(first);
    messages.push({ role: 'assistant', content: 'Paris.' });
    expect(counter.count({ messages, tools: [] })).toBeGreaterThan(first);
  });
});

describe('contextWindow', () => {
  it('reads context_window from the genai-prices data', () => {
    expect(contextWindow('openai', 'gpt-4o-mini')).toBe(128_000);
    expect(contextWindow('openai', 'gpt-4o-2024-08-06')).toBe(128_000);
    expect(contextWindow('openai', 'o3-mini')).toBe(200_000);
    expect(contextWindow('anthropic', 'claude-sonnet-4-5')).toBe(200_000);
  });

  it('prefers overrides, provider:model over model id', () => {
    expect(contextWindow('openai', 'gpt-4o-mini', { 'gpt-4o-mini': 64_000 })).toBe(64_000);
    expect(contextWindow('openai', 'gpt-4o-mini', { 'gpt-4o-mini': 64_000, 'openai:gpt-4o-mini': 32_000 })).toBe(32_000);
    expect(contextWindow('acme', 'acme-1', { 'acme-1': 8_192 })).toBe(8_192);
  });

  it('is undefined for a model nobody knows', () => {
    expect(contextWindow('acme', 'acme-1')).toBeUndefined();
  });
});
