import type * as AnthropicModule from '@anthropic-ai/sdk';
import {
  AuthenticationError,
  ContextLengthExceededError,
  ModelCallError,
  kindForStatus,
  retryAfterMs,
  type ModelErrorKind,
} from './errors.js';

const PROVIDER = 'anthropic';

/** The `@anthropic-ai/sdk` module as `import()` gives it; loaded on a model's first call (anthropic.ts). */
export type AnthropicSdk = typeof AnthropicModule;

/**
 * Error `type`s the API sends in an SSE `error` event (docs.anthropic.com/en/api/errors), which
 * carries no HTTP status of its own: the stream already answered 200.
 */
const STREAM_ERROR_KINDS: Readonly<Record<string, ModelErrorKind>> = {
  overloaded_error: 'overloaded',
  rate_limit_error: 'rate_limit',
  api_error: 'server_error',
};

/**
 * What `@anthropic-ai/sdk` 1.x throws, as a plain `Error` before any request is sent, when it finds
 * no credentials (no `apiKey`, no `ANTHROPIC_API_KEY`, no other source): "Could not resolve
 * authentication method. Expected one of apiKey, authToken, ...".
 */
const NO_CREDENTIALS = /Could not resolve authentication method/;

/** The API's wording for a prompt over the context window, e.g. "prompt is too long: N tokens > M maximum". */
const PROMPT_TOO_LONG = /prompt is too long/i;

/**
 * Maps anything an Anthropic SDK call throws to a {@link ModelCallError}; the original error is
 * kept as `cause`. An error that already is a `ModelCallError` is returned as is. `sdk` is the
 * loaded SDK module whose error classes are matched (the SDK is imported lazily, not here).
 *
 * - `APIUserAbortError`, or any failure once `signal` is aborted → `aborted`
 * - `APIConnectionTimeoutError` → `timeout`; other `APIConnectionError` → `connection`
 * - `APIError` with a status → `kindForStatus(status)` (429 `rate_limit`, 529 `overloaded`,
 *   5xx `server_error`, ...), with `retryAfterMs` from `retry-after-ms` / `retry-after` and the
 *   `request-id` header; 400 `invalid_request_error` saying the prompt is too long →
 *   {@link ContextLengthExceededError}; 401 → {@link AuthenticationError}
 * - `APIError` without a status (an SSE `error` event) → by its `error.type`
 *   (`overloaded_error` → `overloaded`, `rate_limit_error` → `rate_limit`, `api_error` →
 *   `server_error`, else `stream_error`)
 * - the SDK finding no credentials → {@link AuthenticationError} naming `ANTHROPIC_API_KEY` (not
 *   retried: no request was sent, and a retry cannot find a key)
 * - a malformed event (`SyntaxError`) or another SDK error → `stream_error`; anything else (the
 *   socket closed midway, DNS, ...) → `connection`
 *
 * Known API keys are masked by `ModelCallError` itself (see secrets.ts).
 */
export function toModelCallError(sdk: AnthropicSdk, err: unknown, signal?: AbortSignal): ModelCallError {
  if (err instanceof ModelCallError) return err;
  if (err instanceof sdk.APIUserAbortError || signal?.aborted === true) {
    return new ModelCallError(describe('aborted', undefined, 'request aborted'), {
      kind: 'aborted',
      provider: PROVIDER,
      cause: err,
    });
  }
  if (err instanceof sdk.APIConnectionTimeoutError) return simple('timeout', err);
  if (err instanceof sdk.APIConnectionError) return simple('connection', err);
  if (err instanceof sdk.APIError) return fromApiError(err);
  if (err instanceof SyntaxError || err instanceof sdk.AnthropicError) return simple('stream_error', err);
  if (err instanceof Error && NO_CREDENTIALS.test(err.message)) {
    return new AuthenticationError(
      'anthropic authentication: no API key: set ANTHROPIC_API_KEY, or pass anthropic(model, { apiKey })',
      { kind: 'authentication', provider: PROVIDER, cause: err },
    );
  }
  return simple('connection', err);
}

function fromApiError(err: AnthropicModule.APIError): ModelCallError {
  const status = err.status;
  const kind = status === undefined ? streamErrorKind(err.type) : kindForStatus(status);
  const detail = err.apiMessage ?? err.message;
  const opts = {
    kind,
    provider: PROVIDER,
    status,
    requestId: err.requestID ?? undefined,
    retryAfterMs: retryAfterMs(err.headers),
    cause: err,
  };
  if (status === 400 && err.type === 'invalid_request_error' && PROMPT_TOO_LONG.test(detail)) {
    return new ContextLengthExceededError(describe('context_length_exceeded', status, detail), {
      ...opts,
      kind: 'context_length_exceeded',
    });
  }
  if (kind === 'authentication') return new AuthenticationError(describe(kind, status, detail), opts);
  return new ModelCallError(describe(kind, status, detail), opts);
}

function streamErrorKind(type: string | null): ModelErrorKind {
  return (type !== null ? STREAM_ERROR_KINDS[type] : undefined) ?? 'stream_error';
}

function simple(kind: ModelErrorKind, err: unknown): ModelCallError {
  const detail = err instanceof Error ? err.message : String(err);
  return new ModelCallError(describe(kind, undefined, detail), { kind, provider: PROVIDER, cause: err });
}

function describe(kind: ModelErrorKind, status: number | undefined, detail: string): string {
  return `anthropic ${kind}${status !== undefined ? ` (HTTP ${status})` : ''}: ${detail}`;
}
