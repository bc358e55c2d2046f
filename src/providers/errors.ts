import { maskError, maskSecrets } from '../secrets.js';

/**
 * Typed errors of a model call. Adapters turn every SDK or transport failure into one of these,
 * so the runtime can decide to retry from plain data (`retryable`, `retryAfterMs`).
 */

/** What went wrong, as a stable string (also the span's `error.type`). */
export type ModelErrorKind =
  | 'rate_limit'
  | 'overloaded'
  | 'server_error'
  | 'connection'
  | 'timeout'
  | 'authentication'
  | 'permission'
  | 'invalid_request'
  | 'context_length_exceeded'
  | 'not_found'
  | 'aborted'
  | 'stream_error'
  /** A 200 whose body (or a stream event) is not the provider's shape: not retried. */
  | 'response_invalid';

/**
 * The transient and outage kinds: retried by the runtime, and by default the ones a `fallback()`
 * moves on to its next model for.
 */
export const RETRYABLE_KINDS: readonly ModelErrorKind[] = ['rate_limit', 'overloaded', 'server_error', 'connection', 'timeout'];

const RETRYABLE: ReadonlySet<ModelErrorKind> = new Set(RETRYABLE_KINDS);

/** Every {@link ModelErrorKind}; a Record so the compiler flags a kind added to the type and not here. */
const KINDS: Record<ModelErrorKind, true> = {
  rate_limit: true,
  overloaded: true,
  server_error: true,
  connection: true,
  timeout: true,
  authentication: true,
  permission: true,
  invalid_request: true,
  context_length_exceeded: true,
  not_found: true,
  aborted: true,
  stream_error: true,
  response_invalid: true,
};

/** Whether `value` is a {@link ModelErrorKind}, e.g. the `error.type` of a recorded failed call. */
export function isModelErrorKind(value: string): value is ModelErrorKind {
  return Object.hasOwn(KINDS, value);
}

/**
 * Base class of every model call failure. Known API keys are masked in its message and in its
 * `cause` chain (a provider or proxy may echo the key in an error body): see secrets.ts.
 */
export class ModelCallError extends Error {
  override readonly name: string = 'ModelCallError';
  /** Stable kind, used as `error.type`. */
  readonly kind: ModelErrorKind;
  /** HTTP status, when the provider answered. */
  readonly status?: number;
  /** The provider (`openai`, `anthropic`, ...). */
  readonly provider: string;
  /** The provider's request id (`x-request-id` / `request-id`), for support tickets. */
  readonly requestId?: string;
  /** Delay the provider asked for (`retry-after-ms` or `retry-after`), in ms. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    opts: {
      kind: ModelErrorKind;
      provider: string;
      status?: number;
      requestId?: string;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    super(maskSecrets(message), { cause: maskError(opts.cause) });
    this.kind = opts.kind;
    this.provider = opts.provider;
    this.status = opts.status;
    this.requestId = opts.requestId;
    this.retryAfterMs = opts.retryAfterMs;
  }

  /** Whether a retry may succeed: 429, 5xx, 529 overloaded, connection failures, timeouts. */
  get retryable(): boolean {
    return RETRYABLE.has(this.kind);
  }
}

/**
 * The prompt is longer than the model's context window. Not retryable: shorten the
 * conversation, set a `contextTokens` budget, or pick a model with a larger window.
 */
export class ContextLengthExceededError extends ModelCallError {
  override readonly name = 'ContextLengthExceededError';
}

/** The API key was missing, wrong or revoked (401). Not retryable: fix the key. */
export class AuthenticationError extends ModelCallError {
  override readonly name = 'AuthenticationError';
}

/** Maps an HTTP status to a kind; `undefined` status means the request never got an answer. */
export function kindForStatus(status: number | undefined): ModelErrorKind {
  if (status === undefined) return 'connection';
  if (status === 401) return 'authentication';
  if (status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limit';
  if (status === 529) return 'overloaded';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}

/**
 * Reads the delay a provider asked for from response headers, in ms: `retry-after-ms` (OpenAI,
 * Anthropic), then `retry-after` as seconds or an HTTP date (RFC 9110 §10.2.3).
 */
export function retryAfterMs(headers: { get(name: string): string | null } | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const after = headers.get('retry-after');
  if (after === null || after.trim() === '') return undefined;
  const seconds = Number(after);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
