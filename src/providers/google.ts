import type { GoogleGenAI, GoogleGenAIOptions, ThinkingConfig } from '@google/genai';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk } from './model.js';
import { AuthenticationError, ModelCallError } from './errors.js';
import { toGeminiParams } from './google-request.js';
import { fromGeminiResponse, GEMINI_PROVIDER, VERTEX_PROVIDER } from './google-response.js';
import { GeminiStreamAssembler } from './google-stream.js';
import { toModelCallError, type GenaiSdk } from './google-errors.js';
import { geminiTokenCounting } from './google-tokens.js';
import { registerSecret } from '../secrets.js';
import { untilAborted } from './until-aborted.js';
import { serverOf } from './openai.js';

/** Options of {@link google}. */
export interface GoogleModelOptions {
  /**
   * Gemini API key; defaults to `GOOGLE_API_KEY`, then `GEMINI_API_KEY` (the SDK's order).
   * Masked wherever tracebound writes text, even when a server echoes it in an error.
   */
  apiKey?: string;
  /** API base URL; defaults to `GOOGLE_GEMINI_BASE_URL`, then `https://generativelanguage.googleapis.com`. */
  baseURL?: string;
  /**
   * A client to use as is (its own HTTP options: a timeout, headers). tracebound still retries
   * transient errors itself, so a client with `httpOptions.retryOptions` retries twice. A Vertex
   * AI client (`new GoogleGenAI({ vertexai: true, ... })`, or one the SDK put in Vertex mode from
   * `GOOGLE_GENAI_USE_VERTEXAI`: its `vertexai` is true) is reported as `gcp.vertex_ai` and priced
   * as genai-prices prices Vertex (its `google` provider, which matches ids containing `vertex`).
   * `server` still comes from `baseURL` (the SDK does not expose the client's URL): pass the
   * client's host there too, e.g. `https://us-central1-aiplatform.googleapis.com`.
   */
  client?: GoogleGenAI;
  /** `config.thinkingConfig` of every request (e.g. `{ includeThoughts: true }` for thought summaries, `thinkingBudget` in tokens). */
  thinkingConfig?: ThinkingConfig;
}

const DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';

let sdk: Promise<GenaiSdk> | undefined;

/**
 * The `@google/genai` module, imported on the first call of any Gemini model (and then shared by
 * all), so `import('tracebound')` does not load the SDK (and google-auth-library) for a process
 * that never calls Gemini.
 */
function loadSdk(): Promise<GenaiSdk> {
  return (sdk ??= import('@google/genai'));
}

/**
 * A {@link Model} over the Gemini API (`models/{model}:generateContent` and
 * `:streamGenerateContent?alt=sse`) through the official `@google/genai` SDK.
 *
 * - `provider` is `gcp.gemini`, the semconv value of `gen_ai.provider.name` for the Gemini API, or
 *   `gcp.vertex_ai` for a given Vertex AI `client`; both price from `@pydantic/genai-prices`,
 *   whose `google` provider matches provider ids that contain `gemini` or `vertex`. A client
 *   built here always talks to the Gemini API (`vertexai: false`, whatever
 *   `GOOGLE_GENAI_USE_VERTEXAI` says), as `provider` and `server` report.
 * - The SDK is imported and its client built on the first call, so defining an agent needs no API
 *   key and loads nothing. A client built here does not retry (the SDK's default without
 *   `retryOptions`): tracebound's runtime retries 429 (after the error's `RetryInfo.retryDelay`),
 *   500 and 503 and records each attempt; 400s are not retried.
 * - `server` (for `server.address` / `server.port`) comes from the base URL.
 * - `usage` follows the semconv mapping for Gemini: input = prompt + tool-use prompt (cached
 *   tokens inside), output = candidates + thoughts (see `toUsage` in google-response.ts).
 * - Gemini 2.x function calls carry no id, so tracebound makes one; Gemini 3's `thoughtSignature`
 *   on a function call is kept as {@link ToolCall.signature} and sent back with the call.
 * - `countTokens` is an offline estimate (see google-tokens.ts).
 *
 * `generate` and `stream` throw only {@link ModelCallError} (or a subclass); see
 * `toModelCallError` in google-errors.ts for the mapping.
 *
 * @param modelId the model to request, e.g. `gemini-2.5-flash` (`gen_ai.request.model`)
 * @throws {TypeError} when `baseURL` is not a URL.
 * @throws {AuthenticationError} on a call (not here) when no key was given and neither
 *   `GOOGLE_API_KEY` nor `GEMINI_API_KEY` is set; no request is sent.
 */
export function google(modelId: string, opts: GoogleModelOptions = {}): Model {
  registerSecret(opts.apiKey);
  let client: GoogleGenAI | undefined = opts.client;
  const provider = opts.client?.vertexai === true ? VERTEX_PROVIDER : GEMINI_PROVIDER;

  const getClient = (loaded: GenaiSdk): GoogleGenAI => (client ??= new loaded.GoogleGenAI(clientOptions(opts)));

  async function generate(request: ModelRequest): Promise<ModelResponse> {
    const loaded = await loadSdk();
    try {
      const response = await getClient(loaded).models.generateContent(toGeminiParams(modelId, request, opts.thinkingConfig));
      return fromGeminiResponse(response, provider);
    } catch (err) {
      throw toModelCallError(loaded, err, provider, request.signal);
    }
  }

  async function* stream(request: ModelRequest): AsyncGenerator<ModelStreamChunk> {
    const loaded = await loadSdk();
    const assembler = new GeminiStreamAssembler(provider);
    try {
      const events = await getClient(loaded).models.generateContentStream(toGeminiParams(modelId, request, opts.thinkingConfig));
      for await (const event of untilAborted(events, request.signal)) yield* assembler.apply(event);
    } catch (err) {
      throw toModelCallError(loaded, err, provider, request.signal);
    }
    if (request.signal?.aborted === true) throw toModelCallError(loaded, request.signal.reason, provider, request.signal);
    // The stream's last event carries the finishReason; a body that ends before it was cut short.
    if (!assembler.completed) {
      throw new ModelCallError(`${provider} connection: the stream ended before a finishReason`, { kind: 'connection', provider });
    }
    yield { type: 'response', response: assembler.response() };
  }

  return {
    provider,
    modelId,
    server: serverOf(opts.baseURL ?? process.env['GOOGLE_GEMINI_BASE_URL'] ?? DEFAULT_BASE_URL),
    // `request.output` goes as responseJsonSchema (see google-request.ts).
    structuredOutput: true,
    generate,
    stream,
    ...geminiTokenCounting(modelId),
  };
}

/**
 * The options of a client built here. The key is looked up here rather than left to the SDK:
 * without one the SDK falls back to Google Cloud application-default credentials, which the
 * Gemini API does not take, and fails later with an unrelated message.
 * @throws {AuthenticationError} when there is no key.
 */
function clientOptions(opts: GoogleModelOptions): GoogleGenAIOptions {
  const apiKey = opts.apiKey ?? nonEmpty(process.env['GOOGLE_API_KEY']) ?? nonEmpty(process.env['GEMINI_API_KEY']);
  if (apiKey === undefined) {
    throw new AuthenticationError(
      `${GEMINI_PROVIDER} authentication: no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass google(model, { apiKey })`,
      { kind: 'authentication', provider: GEMINI_PROVIDER },
    );
  }
  registerSecret(apiKey);
  // `vertexai: false` explicitly: left out, the SDK reads GOOGLE_GENAI_USE_VERTEXAI and may send
  // the Gemini API key to Vertex AI (express mode) while the calls are reported as `gcp.gemini`.
  return { apiKey, vertexai: false, ...(opts.baseURL !== undefined ? { httpOptions: { baseUrl: opts.baseURL } } : {}) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
