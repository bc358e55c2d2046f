/**
 * The secrets tracebound knows, masked wherever text leaves the process (spans, error messages,
 * CLI output, serve's replies). A provider, proxy or OpenAI-compatible server may echo the API key
 * in an error body; masking at every edge keeps it out of traces, logs and responses.
 *
 * The registry is process-wide: keys given in options are registered when a provider or exporter
 * is made, and the keys of the environment are read each time (a key set after start counts too).
 * Only `node:` built-ins and nothing of OpenTelemetry are imported, so every layer can use it.
 */

/** What a secret is replaced with. */
export const SECRET_MASK = '[REDACTED]';

/**
 * Shorter values are not masked: a short "key" (a test's `x`, a header value `1`) would mask
 * common words everywhere, and real API keys are far longer (OpenAI's and Anthropic's > 40 chars).
 */
const MIN_SECRET_LENGTH = 8;

/** Variables holding an API key (the providers' SDKs and the Langfuse exporter read them). */
const KEY_VARIABLES = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'LANGFUSE_SECRET_KEY'] as const;

/**
 * Variables holding OTLP headers, `key1=value1,key2=value2` with URL-encoded values (OpenTelemetry
 * SDK environment variable specification); every value is treated as a secret (auth tokens).
 */
const HEADER_VARIABLES = ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'] as const;

/**
 * How old the hot path's view of the environment may get, in ms: reading five variables costs
 * ~1-3 µs (each a `getenv`), too much for every exported span. Error paths read it fresh.
 */
const ENVIRONMENT_MAX_AGE_MS = 1_000;

const registered = new Set<string>();
let environmentReadAt = -Infinity;
let environmentSeen: string | undefined;
let environmentSecrets: string[] = [];
let all: readonly string[] = [];
let stale = true;

/**
 * The parts of a credential worth masking: the value, and the token of a `Bearer <token>` /
 * `Basic <token>` value, which a server may echo alone.
 */
function partsOf(value: string): string[] {
  const trimmed = value.trim();
  const space = trimmed.lastIndexOf(' ');
  const parts = space === -1 ? [trimmed] : [trimmed, trimmed.slice(space + 1)];
  return parts.filter((p) => p.length >= MIN_SECRET_LENGTH);
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The values of an OTLP headers variable (`k=v,k2=v2`), raw and URL-decoded. */
function headerValues(text: string): string[] {
  return text.split(',').flatMap((pair) => {
    const eq = pair.indexOf('=');
    if (eq === -1) return [];
    const raw = pair.slice(eq + 1);
    return [raw, decode(raw)];
  });
}

/**
 * Registers a secret (an API key, a header value): from now on {@link maskSecrets} replaces it.
 * Values shorter than 8 characters and `undefined`/`null` are ignored.
 */
export function registerSecret(value: string | null | undefined): void {
  if (!value) return;
  for (const part of partsOf(value)) {
    if (registered.has(part)) continue;
    registered.add(part);
    stale = true;
  }
}

/** The secrets of an environment: API key variables and OTLP header values. */
function environmentSecretsOf(env: NodeJS.ProcessEnv): string[] {
  return [
    ...KEY_VARIABLES.flatMap((name) => partsOf(env[name] ?? '')),
    ...HEADER_VARIABLES.flatMap((name) => headerValues(env[name] ?? '').flatMap(partsOf)),
  ];
}

/**
 * Registers the secrets `env` holds now, so they stay masked after the variables change: an
 * exporter reads its headers once, when it is built.
 */
export function registerEnvironmentSecrets(env: NodeJS.ProcessEnv = process.env): void {
  for (const secret of environmentSecretsOf(env)) registerSecret(secret);
}

/**
 * Every secret known, longest first (so a key is masked whole, not by a shorter key inside it).
 * @param fresh read the environment now; else a view at most {@link ENVIRONMENT_MAX_AGE_MS} old
 */
function secrets(fresh: boolean): readonly string[] {
  const now = performance.now();
  if (fresh || now - environmentReadAt >= ENVIRONMENT_MAX_AGE_MS) {
    environmentReadAt = now;
    readEnvironment();
  }
  if (stale) {
    all = [...new Set([...registered, ...environmentSecrets])].sort((a, b) => b.length - a.length);
    stale = false;
  }
  return all;
}

function readEnvironment(): void {
  const env = process.env;
  const seen = `${env.OPENAI_API_KEY}\0${env.ANTHROPIC_API_KEY}\0${env.LANGFUSE_SECRET_KEY}\0${env.OTEL_EXPORTER_OTLP_HEADERS}\0${env.OTEL_EXPORTER_OTLP_TRACES_HEADERS}`;
  if (seen !== environmentSeen) {
    environmentSeen = seen;
    environmentSecrets = environmentSecretsOf(env);
    stale = true;
  }
}

/**
 * The secrets known, for a hot path (a span processor) that masks many strings: the environment
 * is read at most once a second. Empty when none is known.
 */
export function knownSecrets(): readonly string[] {
  return secrets(false);
}

/** `text` with each of `list` replaced by {@link SECRET_MASK}. */
export function maskWith(text: string, list: readonly string[]): string {
  let masked = text;
  for (const secret of list) {
    if (masked.includes(secret)) masked = masked.replaceAll(secret, SECRET_MASK);
  }
  return masked;
}

/** `text` with every known secret replaced by {@link SECRET_MASK} (the environment read now). */
export function maskSecrets(text: string): string {
  return maskWith(text, secrets(true));
}

/** Masks the strings of a plain object or array in place (an SDK error's parsed response body). */
function maskPlain(value: unknown, list: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return maskWith(value, list);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) record[key] = maskPlain(record[key], list, depth + 1);
  return value;
}

/**
 * Masks known secrets in an error and its `cause` chain, in place: `message`, `stack`, and the
 * strings of own plain-data properties (the `error` body an SDK's APIError keeps), so
 * `String(error)`, `error.stack` and `util.inspect(error)` hold no key. Returns `error`.
 */
export function maskError<T>(error: T): T {
  const list = secrets(true);
  if (list.length === 0) return error;
  const seen = new Set<unknown>();
  for (let e: unknown = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const record = e as unknown as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(e)) {
      if (key === 'cause') continue;
      // `stack` is a data property on Node 20 and an accessor on later versions: both can be set.
      const descriptor = Object.getOwnPropertyDescriptor(e, key);
      if (descriptor?.writable === true || descriptor?.set !== undefined) record[key] = maskPlain(record[key], list, 0);
    }
  }
  return error;
}
