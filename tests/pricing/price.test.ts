import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import type { Usage } from '../../src/messages.js';
import { priceCall, pricerFor, priceTableVersion, servedPricer } from '../../src/pricing/price.js';

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

  it('prices a call on the model that served it, with the user\'s prices first', () => {
    const small = { inputTokens: 1_000, outputTokens: 100, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 };
    const price = servedPricer('openai', 'gpt-4o-mini');
    expect(price(small)?.usd).toBeCloseTo(reference('openai', 'gpt-4o-mini', small)!, 15);
    expect(price(small, 'gpt-4.1-2025-04-14')?.usd).toBeCloseTo(reference('openai', 'gpt-4.1-2025-04-14', small)!, 15);
    // A served model with no known price is priced as the requested one, not left unpriced.
    expect(price(small, 'some-gateway-model')?.usd).toBeCloseTo(reference('openai', 'gpt-4o-mini', small)!, 15);

    const own = { inputPerMTok: 1, outputPerMTok: 2 };
    // A price given for the requested model covers the dated snapshot the provider answers with...
    expect(servedPricer('openai', 'gpt-4o-mini', { 'gpt-4o-mini': own })(small, 'gpt-4o-mini-2024-07-18')?.usd).toBeCloseTo(0.0012, 15);
    // ...and one given for the served model wins over it.
    const both = servedPricer('openai', 'gpt-4o-mini', { 'gpt-4o-mini': own, 'gpt-4.1': { inputPerMTok: 10, outputPerMTok: 20 } });
    expect(both(small, 'gpt-4.1')?.usd).toBeCloseTo(0.012, 15);
  });
});
