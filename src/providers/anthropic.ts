import type { Anthropic, ClientOptions } from '@anthropic-ai/sdk';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk } from './model.js';
import { ModelCallError } from './errors.js';
import { toAnthropicParams } from './anthropic-request.js';
import { anthropicTokenCounting } from './anthropic-tokens.js';
import { fromAnthropicMessage } from './anthropic-response.js';
import { AnthropicStreamAssembler } from './anthropic-stream.js';
import { toModelCallError, type AnthropicSdk } from './anthropic-errors.js';
import { anthropicOutputMode, finalToolAnswer, finalToolStream, type AnthropicOutputMode } from './anthropic-output.js';
import { registerSecret } from '../secrets.js';
import { untilAborted } from './until-aborted.js';

/** Options of {@link anthropic}. */
export interface AnthropicModelOptions {
  /**
   * API key; defaults to the SDK's own lookup (`ANTHROPIC_API_KEY`, then its other sources).
   * Masked wherever tracebound writes text, even when a server echoes it in an error.
   */
  apiKey?: string;
  /** API base URL; defaults to the SDK's own lookup (`ANTHROPIC_BASE_URL`, then `https://api.anthropic.com`). */
  baseURL?: string;
  /**
   * A client to use as is (its own retries, timeouts and telemetry settings apply). When it emits
   * OpenTelemetry spans, they nest under tracebound's `chat` span.
   */
  client?: Anthropic;
  /** `max_tokens` when a request sets no `maxOutputTokens`; 4096 when unset. */
  maxTokens?: number;
  /**
   * How a structured answer (an agent's `output`) is asked for: `native` (`output_config.format`)
   * or `tool` (a final tool the model must call). By default `native` for the models Anthropic
   * lists with structured outputs (Claude Sonnet 4.5, Haiku 4.5, Opus 4.1 and later), `tool` for
   * others; set it for a model newer than this release.
   */
  outputMode?: AnthropicOutputMode;
}

const DEFAULT_BASE_URL = 'https://api.anthropic.com';

let sdk: Promise<AnthropicSdk> | undefined;

/**
 * The `@anthropic-ai/sdk` module, imported on the first call of any Anthropic model (and then
 * shared by all), so `import('tracebound')` does not load the SDK's ~250 modules for a process
 * that never calls one.
 */
function loadSdk(): Promise<AnthropicSdk> {
  return (sdk ??= import('@anthropic-ai/sdk'));
}

/**
 * A {@link Model} over Anthropic's Messages API (`POST /v1/messages`) through `@anthropic-ai/sdk`.
 *
 * - The SDK is imported and its client built on the first call, so defining an agent needs no API
 *   key and loads nothing.
 * - A client built here has `maxRetries: 0`, because tracebound's runtime retries and records each
 *   attempt itself, and `openTelemetry: false`, because this SDK emits its own span per API call
 *   and injects `traceparent` when a tracer provider is registered, while tracebound already makes
 *   a `chat` CLIENT span per call: without it every call would be traced twice. A `client` passed
 *   in is used as is; its spans, if any, nest under tracebound's `chat` span.
 * - `server` (for `server.address` / `server.port`) comes from the base URL; api.anthropic.com:443
 *   by default.
 * - `usage` follows the GenAI conventions: `inputTokens` = `input_tokens` +
 *   `cache_read_input_tokens` + `cache_creation_input_tokens` (Anthropic reports them apart);
 *   `reasoningTokens` is `output_tokens_details.thinking_tokens` where the API reports it, else 0.
 *
 * `generate` and `stream` throw only {@link ModelCallError} (or a subclass); see
 * `toModelCallError` in anthropic-errors.ts for the mapping.
 *
 * @param modelId the model to request, e.g. `claude-sonnet-4-6` (`gen_ai.request.model`; the SDK warns on deprecated ids)
 */
export function anthropic(modelId: string, opts: AnthropicModelOptions = {}): Model {
  registerSecret(opts.apiKey);
  let client: Anthropic | undefined = opts.client;
  if (client) registerClientSecrets(client);
  const getClient = (loaded: AnthropicSdk): Anthropic => (client ??= registerClientSecrets(new loaded.Anthropic(clientOptions(opts))));
  const outputMode = opts.outputMode ?? anthropicOutputMode(modelId);
  // The final tool's name when a structured answer comes as a tool call.
  const finalToolOf = (request: ModelRequest): string | undefined => (outputMode === 'tool' ? request.output?.name : undefined);

  async function generate(request: ModelRequest): Promise<ModelResponse> {
    const loaded = await loadSdk();
    try {
      const params = toAnthropicParams(modelId, request, opts.maxTokens, outputMode);
      const message = await getClient(loaded).messages.create({ ...params, stream: false }, { signal: request.signal });
      const final = finalToolOf(request);
      return final === undefined ? fromAnthropicMessage(message) : finalToolAnswer(fromAnthropicMessage(message), final);
    } catch (err) {
      throw toModelCallError(loaded, err, request.signal);
    }
  }

  async function* stream(request: ModelRequest): AsyncGenerator<ModelStreamChunk> {
    const final = finalToolOf(request);
    yield* final === undefined ? streamMessage(request) : finalToolStream(streamMessage(request), final);
  }

  async function* streamMessage(request: ModelRequest): AsyncGenerator<ModelStreamChunk> {
    const loaded = await loadSdk();
    const assembler = new AnthropicStreamAssembler();
    try {
      const params = toAnthropicParams(modelId, request, opts.maxTokens, outputMode);
      const events = await getClient(loaded).messages.create({ ...params, stream: true }, { signal: request.signal });
      for await (const event of untilAborted(events, request.signal)) yield* assembler.apply(event);
    } catch (err) {
      throw toModelCallError(loaded, err, request.signal);
    }
    // The SDK ends its event iterator quietly when the request is aborted, and a body that ends
    // without `message_stop` was cut short: neither is a whole answer.
    if (request.signal?.aborted === true) throw toModelCallError(loaded, request.signal.reason, request.signal);
    if (!assembler.completed) {
      throw new ModelCallError('anthropic connection: the stream ended before message_stop', {
        kind: 'connection',
        provider: 'anthropic',
      });
    }
    yield { type: 'response', response: assembler.response() };
  }

  return {
    provider: 'anthropic',
    modelId,
    structuredOutput: true,
    server: serverOf(opts.client?.baseURL ?? opts.baseURL ?? process.env['ANTHROPIC_BASE_URL'] ?? DEFAULT_BASE_URL),
    generate,
    stream,
    ...anthropicTokenCounting(),
  };
}

/** Registers the key (or token) the client authenticates with, wherever the SDK found it, for masking. */
function registerClientSecrets(client: Anthropic): Anthropic {
  registerSecret(client.apiKey);
  registerSecret(client.authToken);
  return client;
}

function clientOptions(opts: AnthropicModelOptions): ClientOptions {
  const options: ClientOptions = { maxRetries: 0, openTelemetry: false };
  // Only set what was given: an explicit `apiKey` or `baseURL` would switch off the SDK's own
  // environment lookup.
  if (opts.apiKey !== undefined) options.apiKey = opts.apiKey;
  if (opts.baseURL !== undefined) options.baseURL = opts.baseURL;
  return options;
}

/** Host and port of a base URL; the port defaults by scheme (443 for https, 80 for http). */
function serverOf(baseURL: string): { address: string; port?: number } {
  try {
    const url = new URL(baseURL);
    const port = url.port !== '' ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
    return { address: url.hostname, port };
  } catch {
    return { address: baseURL };
  }
}
