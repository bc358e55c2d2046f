import { genaiPrices, genaiProviderId } from '../pricing/genai-prices.js';

/** Context windows a user sets, in tokens, keyed by model id (`gpt-4o-mini`) or `provider:model`. */
export type ContextWindowOverrides = Readonly<Record<string, number>>;

const bundled = new Map<string, number | undefined>();

/**
 * The context window of a model in tokens (prompt and output together, as the providers state
 * it): an override first (by `provider:model`, then by model id), then the `context_window` of
 * the model in the bundled `@pydantic/genai-prices` data, matched the way that package matches
 * prices (so dated ids like `gpt-4o-2024-08-06` find their family). Looked up once per model.
 * @returns tokens, or `undefined` when neither an override nor the data knows the model.
 */
export function contextWindow(provider: string, modelId: string, overrides: ContextWindowOverrides = {}): number | undefined {
  const override = overrides[`${provider}:${modelId}`] ?? overrides[modelId];
  if (override !== undefined) return override;
  const key = `${provider}:${modelId}`;
  if (!bundled.has(key)) {
    const found = genaiPrices().calcPrice({ input_tokens: 0, output_tokens: 0 }, modelId, { providerId: genaiProviderId(provider) });
    bundled.set(key, found?.model.context_window);
  }
  return bundled.get(key);
}
