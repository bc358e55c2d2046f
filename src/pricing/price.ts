import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Usage } from '../messages.js';
import { genaiPrices, genaiProviderId } from './genai-prices.js';

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

/**
 * A USD amount without binary float noise, for output people and programs read: a run's total
 * is a sum of per-call floats (0.0000856 + 0.0001076 = 0.00019319999999999998), so it is rounded
 * to 12 significant digits, far finer than any price (a millionth of a cent is 1e-8 USD).
 */
export function roundUsd(usd: number): number {
  return Number(usd.toPrecision(12));
}

/** The USD cost of one model call. */
export interface CallCost {
  /** Total USD. */
  usd: number;
  /** USD of the input tokens (cached ones included); 0 for a provider's cost, which comes as one total. */
  inputUsd: number;
  /** USD of the output tokens (reasoning included); the whole total for a provider's cost. */
  outputUsd: number;
  /**
   * `provider` when the provider reported the cost (`gen_ai.usage.cost.source`), `local` when
   * tracebound computed it.
   */
  source: 'provider' | 'local';
  /** Which table priced it: `override`, `genai-prices@<version>`, or `provider` for a reported cost. */
  priceTableVersion: string;
}

/** The cost a provider reported for a call (`ModelResponse.providerCostUsd`), in USD. */
export function reportedCost(usd: number): CallCost {
  return { usd, inputUsd: 0, outputUsd: usd, source: 'provider', priceTableVersion: 'provider' };
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

function fromOverride(price: ModelPrice, usage: Usage): Omit<CallCost, 'priceTableVersion'> {
  const uncached = usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens;
  const inputUsd =
    (uncached * price.inputPerMTok +
      usage.cacheReadTokens * (price.cacheReadPerMTok ?? price.inputPerMTok) +
      usage.cacheWriteTokens * (price.cacheWritePerMTok ?? price.inputPerMTok)) /
    1e6;
  const outputUsd = (usage.outputTokens * price.outputPerMTok) / 1e6;
  return { usd: inputUsd + outputUsd, inputUsd, outputUsd, source: 'local' };
}

/** What the bundled table says of one model: flat rates, a price that varies (tiers, dates), or none. */
type Lookup = { kind: 'flat'; price: ModelPrice; version: string } | { kind: 'varies' } | { kind: 'unknown' };

const lookups = new Map<string, Lookup>();

function isNumber(value: unknown): value is number {
  return typeof value === 'number';
}

/**
 * Looks a model up once: matching a model against genai-prices' table costs ~14 µs a call (see
 * bench/overhead.ts), so flat rates are kept and priced like an override; tiered or dated prices
 * go through `calcPrice` every time.
 */
function lookup(provider: string, modelId: string): Lookup {
  const key = `${provider}:${modelId}`;
  let found = lookups.get(key);
  if (found) return found;
  const probe = genaiPrices().calcPrice({ input_tokens: 0, output_tokens: 0 }, modelId, { providerId: genaiProviderId(provider) });
  if (!probe) {
    found = { kind: 'unknown' };
  } else {
    const p = probe.model_price;
    const flat =
      !Array.isArray(probe.model.prices) &&
      isNumber(p.input_mtok ?? 0) &&
      isNumber(p.output_mtok ?? 0) &&
      isNumber(p.cache_read_mtok ?? 0) &&
      isNumber(p.cache_write_mtok ?? 0);
    found = flat
      ? {
          kind: 'flat',
          version: priceTableVersion(),
          price: {
            inputPerMTok: (p.input_mtok as number | undefined) ?? 0,
            outputPerMTok: (p.output_mtok as number | undefined) ?? 0,
            cacheReadPerMTok: p.cache_read_mtok as number | undefined,
            cacheWritePerMTok: p.cache_write_mtok as number | undefined,
          },
        }
      : { kind: 'varies' };
  }
  lookups.set(key, found);
  return found;
}

/** Prices one call of a given model from its usage; `undefined` when the model has no known price. */
export type Pricer = (usage: Usage) => CallCost | undefined;

function flatPricer(price: ModelPrice, version: string): Pricer {
  return (usage) => {
    const cost = fromOverride(price, usage) as CallCost;
    cost.priceTableVersion = version;
    return cost;
  };
}

function overrideFor(provider: string, modelId: string, overrides: PriceOverrides): ModelPrice | undefined {
  return overrides[`${provider}:${modelId}`] ?? overrides[modelId];
}

/**
 * The pricer of one model, looked up once: an override first (by `provider:model`, then by model
 * id), then the bundled `@pydantic/genai-prices` data (offline; its `input_tokens` includes cached
 * tokens, as tracebound's {@link Usage} does, and cache reads/writes are priced at their own rates).
 * An unknown model's pricer returns `undefined`: never a made-up $0.
 */
export function pricerFor(provider: string, modelId: string, overrides: PriceOverrides = {}): Pricer {
  const override = overrideFor(provider, modelId, overrides);
  if (override) return flatPricer(override, 'override');
  const found = lookup(provider, modelId);
  if (found.kind === 'unknown') return () => undefined;
  if (found.kind === 'flat') return flatPricer(found.price, found.version);
  return (usage) => {
    const result = genaiPrices().calcPrice(
      {
        input_tokens: usage.inputTokens,
        output_tokens: usage.outputTokens,
        cache_read_tokens: usage.cacheReadTokens,
        cache_write_tokens: usage.cacheWriteTokens,
      },
      modelId,
      { providerId: genaiProviderId(provider) },
    );
    if (!result) return undefined;
    return {
      usd: result.total_price,
      inputUsd: result.input_price,
      outputUsd: result.output_price,
      source: 'local',
      priceTableVersion: priceTableVersion(),
    };
  };
}

/**
 * Prices one call from its usage and the model that served it (`gen_ai.response.model`, when the
 * provider reported one); `undefined` when no price is known.
 */
export type ServedPricer = (usage: Usage, servedModel?: string) => CallCost | undefined;

/**
 * The pricer of the calls that request `requested`: each call is priced on the model that served
 * it (a dated snapshot behind an alias, or whatever model a gateway routed to), since that is the
 * one billed. Each served model is looked up once. A user's price wins: the served model's, then
 * the requested model's (a price given for `gpt-4o-mini` also covers the `gpt-4o-mini-2024-07-18`
 * OpenAI answers with). A call with no served model, or one whose served model has no known price,
 * is priced as `requested`.
 */
export function servedPricer(provider: string, requested: string, overrides: PriceOverrides = {}): ServedPricer {
  const base = pricerFor(provider, requested, overrides);
  const requestedOverride = overrideFor(provider, requested, overrides) !== undefined;
  const byServed = new Map<string, Pricer>();
  return (usage, servedModel) => {
    if (servedModel === undefined || servedModel === requested) return base(usage);
    let price = byServed.get(servedModel);
    if (!price) {
      price = requestedOverride && !overrideFor(provider, servedModel, overrides) ? base : pricerFor(provider, servedModel, overrides);
      byServed.set(servedModel, price);
    }
    return price(usage) ?? base(usage);
  };
}

/**
 * Prices one call from its usage (see {@link pricerFor}).
 * @returns the cost in USD, or `undefined` when the model has no known price.
 */
export function priceCall(provider: string, modelId: string, usage: Usage, overrides: PriceOverrides = {}): CallCost | undefined {
  return pricerFor(provider, modelId, overrides)(usage);
}
