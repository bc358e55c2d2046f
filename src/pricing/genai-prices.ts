import { createRequire } from 'node:module';
import type * as GenaiPrices from '@pydantic/genai-prices';

const require = createRequire(import.meta.url);
let loaded: typeof GenaiPrices | undefined;

/**
 * `@pydantic/genai-prices`, loaded on the first price or context-window lookup rather than with
 * tracebound: parsing its bundled table takes ~80 ms and 2-3 MB of heap. It is required (the
 * package ships a CJS build, `exports.require`), so the lookups stay synchronous for their callers
 * (the runtime's model call, the budget's rates, the tracing middleware's context window). It is
 * a copy of the module apart from the ESM one an app may import: tracebound prices from the
 * bundled data (`priceTableVersion` names the package version), and an `updatePrices()` on the
 * app's copy does not reach it.
 */
export function genaiPrices(): typeof GenaiPrices {
  return (loaded ??= require('@pydantic/genai-prices') as typeof GenaiPrices);
}

/**
 * genai-prices provider ids of `gen_ai.provider.name` values its own matching misses (it finds
 * `mistral_ai`, `aws.bedrock`, `gcp.gemini` and `gcp.vertex_ai` by itself, not `x_ai`).
 */
const PROVIDER_IDS: Readonly<Record<string, string>> = { x_ai: 'x-ai' };

/** The provider id to look `provider` (a `gen_ai.provider.name`) up by in genai-prices. */
export function genaiProviderId(provider: string): string {
  return PROVIDER_IDS[provider] ?? provider;
}
