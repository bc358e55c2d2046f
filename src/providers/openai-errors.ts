import type * as OpenAIModule from 'openai';
import {
  AuthenticationError,
  ContextLengthExceededError,
  ModelCallError,
  kindForStatus,
  retryAfterMs,
  type ModelErrorKind,
} from './errors.js';

const PROVIDER = 'openai';

/** The `openai` module as `import('openai')` gives it; loaded on a model's first call (openai.ts). */
export type OpenAISdk = typeof OpenAIModule;

/**
 * The API's `error.code` for a prompt over the context window (Chat Completions and Responses),
 * and its wording when a compatible server sends no code: "This model's maximum context length
 * is N tokens" (Chat) / "Your input exceeds the context window of this model" (Responses).
 */
const CONTEXT_CODE = 'context_length_exceeded';
const CONTEXT_WORDING = /maximum context length|exceeds the context window/i;

/**
 * Maps anything the `openai` SDK (or the transport under it) throws to a {@link ModelCallError};
 * the original error is kept as `cause`. A `ModelCallError` is returned as is. `sdk` is the loaded
 * `openai` module whose error classes are matched (the SDK is imported lazily, so they are not
 * imported here).
 *
 * - `APIUserAbortError`, or any failure once `signal` is aborted → `aborted`
 * - `APIConnectionTimeoutError` → `timeout`; other `APIConnectionError` → `connection`
 * - `APIError` with a status → `kindForStatus(status)`, `retryAfterMs` from the `retry-after-ms`
 *   / `retry-after` headers, `requestId` from `x-request-id`; 400 with `code:
 *   context_length_exceeded` (or that wording) → {@link ContextLengthExceededError}; 401 →
 *   {@link AuthenticationError}
 * - `APIError` without a status (the SDK raises it for an `error` object inside an SSE stream) →
 *   `stream_error`
 * - a malformed SSE event (`SyntaxError`) or another SDK error → `stream_error`; anything else
 *   (the socket closed midway, DNS, ...) → `connection`
 *
 * Known API keys are masked by `ModelCallError` itself (see secrets.ts).
 */
export function toModelCallError(sdk: OpenAISdk, err: unknown, signal?: AbortSignal): ModelCallError {
  if (err instanceof ModelCallError) return err;
  if (err instanceof sdk.APIUserAbortError || signal?.aborted === true) return aborted(err);
  if (err instanceof sdk.APIConnectionTimeoutError) return simple('timeout', err);
  if (err instanceof sdk.APIConnectionError) return simple('connection', err);
  if (err instanceof sdk.APIError) return fromApiError(err);
  if (err instanceof SyntaxError || err instanceof sdk.OpenAIError) return simple('stream_error', err);
  return simple('connection', err);
}

function aborted(cause: unknown): ModelCallError {
  return new ModelCallError('OpenAI request aborted', { kind: 'aborted', provider: PROVIDER, cause });
}

/**
 * A stream that stopped before its final event (no `finish_reason` / `response.completed`):
 * `aborted` when the caller's signal fired (the SDK ends an aborted stream silently instead of
 * throwing), else `stream_error`.
 */
export function incompleteStream(signal: AbortSignal | undefined): ModelCallError {
  if (signal?.aborted === true) return aborted(signal.reason);
  return new ModelCallError('OpenAI stream ended before its final event', { kind: 'stream_error', provider: PROVIDER });
}

/**
 * An error the API reported inside a 200 answer (a `response.failed` or `error` stream event, or
 * a Responses object with `status: failed`).
 */
export function reportedError(detail: string): ModelCallError {
  return new ModelCallError(describe('stream_error', undefined, detail), {
    kind: 'stream_error',
    provider: PROVIDER,
  });
}

/** The `OpenAI` constructor refused to build a client (no API key given and none in the environment). */
export function clientSetupError(err: unknown): ModelCallError {
  const detail = err instanceof Error ? err.message : String(err);
  return new AuthenticationError(`openai authentication: ${detail}`, { kind: 'authentication', provider: PROVIDER, cause: err });
}

function fromApiError(err: OpenAIModule.APIError): ModelCallError {
  const status = err.status;
  if (status === undefined) return simple('stream_error', err);
  const opts = {
    kind: kindForStatus(status),
    provider: PROVIDER,
    status,
    requestId: err.requestID ?? undefined,
    retryAfterMs: retryAfterMs(err.headers),
    cause: err,
  };
  if (status === 400 && (err.code === CONTEXT_CODE || CONTEXT_WORDING.test(err.message))) {
    return new ContextLengthExceededError(describe(CONTEXT_CODE, status, err.message), {
      ...opts,
      kind: 'context_length_exceeded',
    });
  }
  const message = describe(opts.kind, status, err.message);
  return status === 401 ? new AuthenticationError(message, opts) : new ModelCallError(message, opts);
}

function simple(kind: ModelErrorKind, err: unknown): ModelCallError {
  const detail = err instanceof Error ? err.message : String(err);
  return new ModelCallError(describe(kind, undefined, detail), { kind, provider: PROVIDER, cause: err });
}

function describe(kind: string, status: number | undefined, detail: string): string {
  const head = status === undefined ? `openai ${kind}` : `openai ${kind} (HTTP ${status})`;
  return `${head}: ${detail}`;
}
