import { calcPrice } from '@pydantic/genai-prices';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Usage } from '../messages.js';

/**
 * A user's own price for a model, in USD per million tokens. Overrides the bundled table (for
 * negotiated prices, fine-tunes, or models the table does not know).
 */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Price of cache-read input tokens; the input price when absent. */
  cacheReadPerMTok?: number;
  /** Price of cache-write input tokens; the input price when absent. */
  cacheWritePerMTok?: number;
}

/** Price overrides keyed by model id (`gpt-4o-mini`) or `provider:model` (`openai:gpt-4o-mini`). */
export type PriceOverrides = Readonly<Record<string, ModelPrice>>;

/** The USD cost of one model call. */
export interface CallCost {
  /** Total USD. */
  usd: number;
  /** USD of the input tokens (cached ones included). */
  inputUsd: number;
  /** USD of the output tokens (reasoning included). */
  outputUsd: number;
  /** `provider` when the provider reported the cost, `local` when tracebound computed it. */
  source: 'provider' | 'local';
  /** Which table priced it: `override` or `genai-prices@<version>`. */
  priceTableVersion: string;
}

const require = createRequire(import.meta.url);
let bundledVersion: string | undefined;

/** `genai-prices@<version>` of the bundled price data (read once, from the installed package). */
export function priceTableVersion(): string {
  if (bundledVersion === undefined) {
    const entry = require.resolve('@pydantic/genai-prices');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
    bundledVersion = `genai-prices@${pkg.version}`;
  }
  return bundledVersion;
}

function fromOverride(price: ModelPrice, usage: Usage): CallCost {
  const uncached = usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens;
  const inputUsd =
    (uncached * price.inputPerMTok +
      usage.cacheReadTokens * (price.cacheReadPerMTok ?? price.inputPerMTok) +
      usage.cacheWriteTokens * (price.cacheWritePerMTok ?? price.inputPerMTok)) /
    1e6;
  const outputUsd = (usage.outputTokens * price.outputPerMTok) / 1e6;
  return { usd: inputUsd + outputUsd, inputUsd, outputUsd, source: 'local', priceTableVersion: 'override' };
}

/**
 * Prices one call from its usage. Looks up an override first, then the bundled
 * `@pydantic/genai-prices` data (offline; its `input_tokens` includes cached tokens, as
 * tracebound's {@link Usage} does, and cache reads/writes are priced at their own rates).
 * @returns the cost, or `undefined` when the model has no known price: never a made-up $0.
 */
export function priceCall(
  provider: string,
  modelId: string,
  usage: Usage,
  overrides: PriceOverrides = {},
): CallCost | undefined {
  const override = overrides[`${provider}:${modelId}`] ?? overrides[modelId];
  if (override) return fromOverride(override, usage);
  const result = calcPrice(
    {
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      cache_read_tokens: usage.cacheReadTokens,
      cache_write_tokens: usage.cacheWriteTokens,
    },
    modelId,
    { providerId: provider },
  );
  if (!result) return undefined;
  return {
    usd: result.total_price,
    inputUsd: result.input_price,
    outputUsd: result.output_price,
    source: 'local',
    priceTableVersion: priceTableVersion(),
  };
}
