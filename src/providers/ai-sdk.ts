import type { LanguageModelV3 } from '@ai-sdk/provider';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk } from './model.js';
import { callOptions } from './ai-sdk-prompt.js';
import { toModelCallError } from './ai-sdk-errors.js';
import { assembleStream, fromGenerateResult } from './ai-sdk-response.js';
import { ModelCallError } from './errors.js';

/** Options of {@link aiSdk}. */
export interface AiSdkOptions {
  /**
   * `gen_ai.provider.name` of the model's spans, and the provider it is priced under; by default
   * derived from the AI SDK model's `provider` (see {@link providerName}).
   */
  provider?: string;
  /** Host and port of the API, for `server.address` / `server.port` (an AI SDK model does not expose its URL). */
  server?: { address: string; port?: number };
}

/**
 * The OpenTelemetry GenAI `gen_ai.provider.name` values (semconv registry, "well-known values")
 * of AI SDK provider ids that differ from them; an id not listed is used as it is (`openai`,
 * `anthropic`, `groq`, `deepseek`, `cohere`, `perplexity`, `fireworks`, ...).
 */
const SEMCONV_PROVIDER: Readonly<Record<string, string>> = {
  mistral: 'mistral_ai',
  'amazon-bedrock': 'aws.bedrock',
  google: 'gcp.gemini',
  'google.vertex': 'gcp.vertex_ai',
  xai: 'x_ai',
  azure: 'azure.ai.openai',
};

/**
 * `gen_ai.provider.name` of an AI SDK model: its `provider` names the package and the API
 * (`mistral.chat`, `openai.responses`, `google.vertex.chat`, `amazon-bedrock`), so the API part
 * is dropped and the package mapped to its semconv value (`mistral_ai`, `openai`, `gcp.vertex_ai`,
 * `aws.bedrock`).
 */
export function providerName(aiSdkProvider: string): string {
  const parts = aiSdkProvider.split('.');
  const two = parts.slice(0, 2).join('.');
  return SEMCONV_PROVIDER[two] ?? SEMCONV_PROVIDER[parts[0] as string] ?? (parts[0] as string);
}

/**
 * Any Vercel AI SDK language model as a tracebound {@link Model}: Mistral, Groq, Bedrock, Gemini,
 * Ollama or anything else with an AI SDK provider package that implements the `@ai-sdk/provider`
 * specification v3 (`LanguageModelV3`: the AI SDK 6 line of packages, which run on Node 18+).
 * tracebound's loop, spans, retries and budgets apply as to its own adapters.
 *
 * - The model is called through the specification (`doGenerate`, `doStream`), not through the
 *   `ai` package, which is not needed. The AI SDK's retries are `generateText`'s, so none run here:
 *   tracebound's runtime retries and records each attempt.
 * - Usage follows the GenAI conventions (see `usageOf` in ai-sdk-response.ts); a call is priced
 *   from genai-prices by provider and the model that answered (`response.modelId`, else the
 *   model's `modelId`), or at the cost the provider reports (the AI Gateway, OpenRouter), with
 *   `gen_ai.usage.cost.source` = `provider`.
 * - Anthropic's thinking signatures and Gemini's function-call thought signatures are kept on the
 *   messages and sent back as the provider package expects (see ai-sdk-metadata.ts).
 * - Failures are {@link ModelCallError}s, classified from the specification's `APICallError`
 *   (status, `retry-after`); see `toModelCallError` in ai-sdk-errors.ts.
 *
 * Nothing of the AI SDK is loaded by defining one: `@ai-sdk/provider` is imported on a first failure.
 * @param languageModel e.g. `mistral('mistral-small-latest')` from `@ai-sdk/mistral`.
 * @throws {TypeError} when `languageModel` is not a v3 language model (a model id string, or a
 *   v2 model of the AI SDK 5 packages).
 */
export function aiSdk(languageModel: LanguageModelV3, opts: AiSdkOptions = {}): Model {
  const given = languageModel as Partial<LanguageModelV3> | string | undefined;
  if (typeof given !== 'object' || given.specificationVersion !== 'v3') {
    const version = typeof given === 'object' ? `specification ${String(given.specificationVersion)}` : typeof given;
    throw new TypeError(
      `aiSdk() needs an AI SDK language model of specification v3 (an AI SDK 6 provider package, e.g. mistral('mistral-small-latest') from @ai-sdk/mistral@3), got ${version}`,
    );
  }
  const provider = opts.provider ?? providerName(languageModel.provider);
  const model: Model = {
    provider,
    modelId: languageModel.modelId,
    structuredOutput: true,
    async generate(request: ModelRequest): Promise<ModelResponse> {
      try {
        return fromGenerateResult(await languageModel.doGenerate(callOptions(request, languageModel.provider)));
      } catch (err) {
        throw await toModelCallError(provider, err, request.signal);
      }
    },
    async *stream(request: ModelRequest): AsyncIterable<ModelStreamChunk> {
      let finished: boolean;
      try {
        const { stream } = await languageModel.doStream(callOptions(request, languageModel.provider));
        finished = yield* assembleStream(stream);
      } catch (err) {
        throw await toModelCallError(provider, err, request.signal);
      }
      if (!finished) {
        if (request.signal?.aborted) throw await toModelCallError(provider, request.signal.reason, request.signal);
        throw new ModelCallError(`${provider} stream_error: the stream ended without a finish part`, { kind: 'stream_error', provider });
      }
    },
  };
  if (opts.server) Object.assign(model, { server: opts.server });
  return model;
}
