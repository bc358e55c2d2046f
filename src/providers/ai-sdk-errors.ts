/**
 * AI SDK failures as {@link ModelCallError}s. AI SDK provider packages throw the
 * `@ai-sdk/provider` specification's errors: `APICallError` for an HTTP answer or a transport
 * failure (with `statusCode`, `responseHeaders` and the SDK's own `isRetryable`), and other
 * `AI_*` errors (a missing API key, a body that failed validation). They are recognised by their
 * `Symbol.for` markers (`APICallError.isInstance`), so any copy of the package matches.
 */
import type { APICallError } from '@ai-sdk/provider';
import { AuthenticationError, ContextLengthExceededError, ModelCallError, kindForStatus, retryAfterMs, type ModelErrorKind } from './errors.js';
import { StreamErrorPart } from './ai-sdk-response.js';

type ProviderModule = typeof import('@ai-sdk/provider');

let spec: Promise<ProviderModule> | undefined;

/** `@ai-sdk/provider`, loaded on the first failure (a working call never needs its error classes). */
function loadSpec(): Promise<ProviderModule> {
  return (spec ??= import('@ai-sdk/provider'));
}

/**
 * A prompt over the context window, in the wording of the providers AI SDK packages call (OpenAI
 * and compatible servers, Anthropic's "prompt is too long", Mistral's "too large for model").
 */
const CONTEXT_WORDING = /context length|context window|prompt is too long|too large for model/i;

/**
 * Maps what an AI SDK model threw (or streamed as an `error` part) to a {@link ModelCallError}
 * of `provider`, keeping the original as `cause`:
 * - any failure once `signal` aborted, or an `AbortError` → `aborted`
 * - `APICallError` with a status: 2xx (a body that failed the provider package's validation) →
 *   `response_invalid`; else `kindForStatus` (401 → {@link AuthenticationError}; 400 in context
 *   wording → {@link ContextLengthExceededError}), `retryAfterMs` from its `retry-after-ms` /
 *   `retry-after` headers
 * - `APICallError` without a status (the request never got an answer) → `connection`
 * - `LoadAPIKeyError` (no key given, none in the environment) → {@link AuthenticationError}
 * - a stream's `error` part → `stream_error`, or the kind of the `APICallError` it carries
 * - another `AI_*` error (a response the package could not parse) → `response_invalid`
 * - anything else (the transport under a custom fetch) → `connection`
 */
export async function toModelCallError(provider: string, err: unknown, signal: AbortSignal | undefined): Promise<ModelCallError> {
  if (err instanceof ModelCallError) return err;
  if (signal?.aborted === true || (err instanceof Error && err.name === 'AbortError')) {
    return new ModelCallError(`${provider} request aborted`, { kind: 'aborted', provider, cause: err });
  }
  const { APICallError, AISDKError, LoadAPIKeyError } = await loadSpec();
  const inner = err instanceof StreamErrorPart ? err.error : err;
  if (APICallError.isInstance(inner)) return fromApiCallError(provider, inner, err);
  if (LoadAPIKeyError.isInstance(inner)) {
    return new AuthenticationError(describe(provider, 'authentication', undefined, inner.message), { kind: 'authentication', provider, cause: err });
  }
  const kind: ModelErrorKind = err instanceof StreamErrorPart ? 'stream_error' : AISDKError.isInstance(inner) ? 'response_invalid' : 'connection';
  const detail = inner instanceof Error ? inner.message : String(err instanceof Error ? err.message : err);
  return new ModelCallError(describe(provider, kind, undefined, detail), { kind, provider, cause: err });
}

function fromApiCallError(provider: string, api: APICallError, cause: unknown): ModelCallError {
  const status = api.statusCode;
  const kind: ModelErrorKind = status !== undefined && status < 300 ? 'response_invalid' : kindForStatus(status);
  const headers = api.responseHeaders;
  const opts = {
    kind,
    provider,
    status,
    retryAfterMs: retryAfterMs(headers && { get: (name: string) => headers[name] ?? null }),
    cause,
  };
  if (status === 400 && CONTEXT_WORDING.test(`${api.message} ${api.responseBody ?? ''}`)) {
    return new ContextLengthExceededError(describe(provider, 'context_length_exceeded', status, api.message), { ...opts, kind: 'context_length_exceeded' });
  }
  const message = describe(provider, kind, status, api.message);
  return status === 401 ? new AuthenticationError(message, opts) : new ModelCallError(message, opts);
}

function describe(provider: string, kind: string, status: number | undefined, detail: string): string {
  return `${provider} ${kind}${status === undefined ? '' : ` (HTTP ${status})`}: ${detail}`;
}
