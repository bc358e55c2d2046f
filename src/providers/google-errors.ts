import type * as GenaiModule from '@google/genai';
import { AuthenticationError, ContextLengthExceededError, ModelCallError, kindForStatus, type ModelErrorKind } from './errors.js';

/** The `@google/genai` module as `import()` gives it; loaded on a model's first call (google.ts). */
export type GenaiSdk = typeof GenaiModule;

/**
 * The error body of a Google API (google.rpc.Status in JSON, ai.google.dev/gemini-api/docs/troubleshooting):
 * `{ error: { code, message, status, details: [{ '@type', ... }] } }`.
 */
interface GoogleErrorBody {
  error?: { code?: number; message?: string; status?: string; details?: { '@type'?: string; retryDelay?: string }[] };
}

/** The API's wording for a prompt over the context window ("The input token count (N) exceeds the maximum number of tokens allowed (M)."). */
const PROMPT_TOO_LONG = /input token count.*exceeds the maximum/i;

/**
 * Maps anything a `@google/genai` call throws to a {@link ModelCallError}; the original error is
 * kept as `cause`. An error that already is a `ModelCallError` is returned as is. `sdk` is the
 * loaded SDK module whose `ApiError` is matched (the SDK is imported lazily, not here); `provider`
 * the `gen_ai.provider.name` the error names (`gcp.gemini`, or `gcp.vertex_ai` for a Vertex AI client).
 *
 * - any failure once `signal` is aborted → `aborted`; another abort (a client's own
 *   `httpOptions.timeout`) → `timeout`
 * - `ApiError` (an HTTP error, or an error event inside a stream, both with the HTTP status) →
 *   `kindForStatus(status)`: 429 `rate_limit`, 500 and 503 `server_error`, 400 `invalid_request`
 *   (or {@link ContextLengthExceededError} when it says the input is over the limit), 401/403
 *   ({@link AuthenticationError} for 401). `retryAfterMs` is the body's
 *   `google.rpc.RetryInfo.retryDelay` (a protobuf Duration, e.g. `"26s"`), which is how the
 *   Gemini API says when to retry a 429: it sends no `retry-after` header.
 * - a malformed event (`SyntaxError`, or the SDK's "exception parsing stream chunk") →
 *   `stream_error`
 * - anything else (refused connection, socket closed midway, a body cut inside an event, DNS,
 *   ...) → `connection`
 *
 * Known API keys are masked by `ModelCallError` itself (see secrets.ts).
 */
export function toModelCallError(sdk: GenaiSdk, err: unknown, provider: string, signal?: AbortSignal): ModelCallError {
  if (err instanceof ModelCallError) return err;
  if (signal?.aborted === true) {
    return new ModelCallError(describe(provider, 'aborted', undefined, 'request aborted'), { kind: 'aborted', provider, cause: err });
  }
  if (err instanceof sdk.ApiError) return fromApiError(err, provider);
  const detail = err instanceof Error ? err.message : String(err);
  const kind = transportKind(err, detail);
  return new ModelCallError(describe(provider, kind, undefined, detail), { kind, provider, cause: err });
}

/**
 * The kind of a failure that is not an API error. The request's own signal is not aborted here,
 * so an abort is the timeout of a client's `httpOptions.timeout`; an event that is not JSON is a
 * `stream_error`; a body that ends inside an event ("Incomplete JSON segment at the end") was cut,
 * like a refused or reset connection.
 */
function transportKind(err: unknown, detail: string): ModelErrorKind {
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return 'timeout';
  if (err instanceof SyntaxError || detail.includes('exception parsing stream chunk')) return 'stream_error';
  return 'connection';
}

function fromApiError(err: GenaiModule.ApiError, provider: string): ModelCallError {
  const status = err.status;
  const body = parseBody(err.message);
  const kind = kindForStatus(status);
  const detail = body?.error?.message ?? err.message;
  const opts = { kind, provider, status, retryAfterMs: retryDelayMs(body), cause: err };
  const message = describe(provider, kind, status, body?.error?.status ? `${body.error.status}: ${detail}` : detail);
  if (status === 400 && PROMPT_TOO_LONG.test(detail)) {
    return new ContextLengthExceededError(describe(provider, 'context_length_exceeded', status, detail), { ...opts, kind: 'context_length_exceeded' });
  }
  if (kind === 'authentication') return new AuthenticationError(message, opts);
  return new ModelCallError(message, opts);
}

/**
 * The error body inside an `ApiError` message: the SDK puts the JSON body there as is, or after
 * `got status: ...` for an error event in a stream.
 */
function parseBody(message: string): GoogleErrorBody | undefined {
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const parsed = JSON.parse(message.slice(start)) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as GoogleErrorBody) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `retryDelay` of the body's `type.googleapis.com/google.rpc.RetryInfo` detail, in ms. The JSON
 * form of a protobuf Duration is seconds with up to 9 decimals and an `s` suffix.
 */
function retryDelayMs(body: GoogleErrorBody | undefined): number | undefined {
  const info = body?.error?.details?.find((d) => d['@type'] === 'type.googleapis.com/google.rpc.RetryInfo');
  const match = /^(\d+(?:\.\d+)?)s$/.exec(info?.retryDelay ?? '');
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

function describe(provider: string, kind: ModelErrorKind, status: number | undefined, detail: string): string {
  return `${provider} ${kind}${status !== undefined ? ` (HTTP ${status})` : ''}: ${detail}`;
}
