import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/messages.js';
import { priceCall, pricerFor, priceTableVersion } from '../../src/pricing/price.js';

const usage: Usage = { inputTokens: 300_000, outputTokens: 1_234, cacheReadTokens: 1_000, cacheWriteTokens: 200, reasoningTokens: 10 };

/** genai-prices' own calculation, the reference the cached flat rates must agree with. */
function reference(provider: string, model: string, u: Usage): number | undefined {
  return calcPrice(
    { input_tokens: u.inputTokens, output_tokens: u.outputTokens, cache_read_tokens: u.cacheReadTokens, cache_write_tokens: u.cacheWriteTokens },
    model,
    { providerId: provider },
  )?.total_price;
}

describe('pricing', () => {
  it.each([
    ['openai', 'gpt-4o-mini'],
    ['openai', 'gpt-4.1'],
    ['openai', 'o3-mini'],
    ['openai', 'gpt-5'],
    ['anthropic', 'claude-sonnet-4-20250514'],
    ['anthropic', 'claude-sonnet-4-5'],
    ['anthropic', 'claude-3-5-haiku-latest'],
  ])('prices %s %s exactly as genai-prices does, cache tokens included', (provider, model) => {
    const expected = reference(provider, model, usage);
    expect(expected).toBeGreaterThan(0);
    const cost = priceCall(provider, model, usage)!;
    expect(cost.usd).toBeCloseTo(expected!, 12);
    expect(cost.inputUsd + cost.outputUsd).toBeCloseTo(cost.usd, 12);
    expect(cost).toMatchObject({ source: 'local', priceTableVersion: priceTableVersion() });
    expect(priceTableVersion()).toMatch(/^genai-prices@\d+\.\d+\.\d+$/);
    // A second call through the same pricer gives the same figure (the lookup is cached).
    expect(pricerFor(provider, model)(usage)!.usd).toBe(cost.usd);
  });

  it('gives no price, never $0, for an unknown model', () => {
    expect(priceCall('openai', 'not-a-real-model-42', usage)).toBeUndefined();
    expect(priceCall('no-such-provider', 'gpt-4o-mini', usage)).toBeUndefined();
  });

  it('lets an override win, by provider:model before model id', () => {
    const overrides = {
      'gpt-4o-mini': { inputPerMTok: 1, outputPerMTok: 2 },
      'openai:gpt-4o-mini': { inputPerMTok: 10, outputPerMTok: 20, cacheReadPerMTok: 5 },
    };
    const u: Usage = { inputTokens: 1_000_000, outputTokens: 1_000_000, cacheReadTokens: 500_000, cacheWriteTokens: 0, reasoningTokens: 0 };
    expect(priceCall('openai', 'gpt-4o-mini', u, overrides)).toEqual({
      usd: 500_000 * 10e-6 + 500_000 * 5e-6 + 1_000_000 * 20e-6,
      inputUsd: 500_000 * 10e-6 + 500_000 * 5e-6,
      outputUsd: 20,
      source: 'local',
      priceTableVersion: 'override',
    });
    expect(priceCall('azure', 'gpt-4o-mini', u, overrides)!.usd).toBeCloseTo(1 + 2, 12);
  });
});
