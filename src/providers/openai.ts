import type OpenAI from 'openai';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk } from './model.js';
import { generateChat, streamChat } from './openai-chat.js';
import { clientSetupError, toModelCallError, type OpenAISdk } from './openai-errors.js';
import { generateResponses, streamResponses } from './openai-responses.js';
import { openaiTokenCounting } from './openai-tokens.js';
import { registerSecret } from '../secrets.js';

/** Options of {@link openai}. */
export interface OpenAIOptions {
  /**
   * The API key; defaults to the SDK's own lookup (`OPENAI_API_KEY`). Never logged or traced: it
   * is masked wherever tracebound writes text, even when a server echoes it in an error.
   */
  apiKey?: string;
  /**
   * The API's base URL including `/v1` (e.g. `http://127.0.0.1:8080/v1`); defaults to the SDK's
   * own lookup (`OPENAI_BASE_URL`, then `https://api.openai.com/v1`).
   */
  baseURL?: string;
  /** A ready client, used as is (its own retries, timeout and key apply). */
  client?: OpenAI;
  /** Which API to call: Chat Completions (default) or Responses. */
  api?: 'chat' | 'responses';
  /** The `OpenAI-Organization` to bill; defaults to the SDK's lookup (`OPENAI_ORG_ID`). */
  organization?: string;
}

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';

let sdk: Promise<OpenAISdk> | undefined;

/**
 * The `openai` module, imported on the first call of any OpenAI model (and then shared by all),
 * so `import('tracebound')` does not load the SDK's ~150 modules for a process that never calls one.
 */
function loadSdk(): Promise<OpenAISdk> {
  return (sdk ??= import('openai'));
}

/**
 * An OpenAI model over the official `openai` SDK, as a {@link Model} with `provider: 'openai'`.
 *
 * Defining one needs no API key and loads nothing: the SDK is imported and the client built on
 * the first call, with `maxRetries: 0`, since tracebound's runtime retries and records each
 * attempt itself. Every failure is thrown as a {@link ModelCallError} (see `toModelCallError` in
 * openai-errors.ts for the mapping); a missing API key surfaces on that first call as an
 * `AuthenticationError`.
 *
 * @param modelId the model to request, e.g. `gpt-4o-mini`; also the key for its price.
 * @throws {TypeError} when `baseURL` is not a URL.
 */
export function openai(modelId: string, opts: OpenAIOptions = {}): Model {
  registerSecret(opts.apiKey ?? opts.client?.apiKey);
  const api = opts.api ?? 'chat';
  const getClient = lazyClient(opts);
  const call = { generate: api === 'chat' ? generateChat : generateResponses, stream: api === 'chat' ? streamChat : streamResponses };
  return {
    provider: 'openai',
    modelId,
    structuredOutput: true,
    server: serverOf(opts.client?.baseURL ?? opts.baseURL ?? process.env['OPENAI_BASE_URL'] ?? DEFAULT_BASE_URL),
    ...openaiTokenCounting(modelId),
    async generate(request: ModelRequest): Promise<ModelResponse> {
      const loaded = await loadSdk();
      try {
        return await call.generate(getClient(loaded), modelId, request);
      } catch (err) {
        throw toModelCallError(loaded, err, request.signal);
      }
    },
    async *stream(request: ModelRequest): AsyncIterable<ModelStreamChunk> {
      const loaded = await loadSdk();
      try {
        yield* call.stream(getClient(loaded), modelId, request);
      } catch (err) {
        throw toModelCallError(loaded, err, request.signal);
      }
    },
  };
}

/**
 * Host and port of a base URL, for `server.address` / `server.port`; the port defaults to the
 * scheme's (443 for https, 80 for http).
 * @throws {TypeError} when `baseURL` is not a URL.
 */
export function serverOf(baseURL: string): { address: string; port: number } {
  const url = new URL(baseURL);
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
  return { address: url.hostname, port };
}

/** Builds the client once, on first use; a constructor failure (no API key) is thrown each call. */
function lazyClient(opts: OpenAIOptions): (loaded: OpenAISdk) => OpenAI {
  let client = opts.client;
  return (loaded) => {
    if (client) return client;
    try {
      client = new loaded.OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseURL, organization: opts.organization, maxRetries: 0 });
    } catch (err) {
      throw clientSetupError(err);
    }
    // The key the SDK found (the option or `OPENAI_API_KEY`), masked from now on.
    registerSecret(client.apiKey);
    return client;
  };
}
