/**
 * The `langfuse` exporter: `@langfuse/otel`'s LangfuseSpanProcessor, sending OTLP/JSON to
 * `{LANGFUSE_BASE_URL}/api/public/otel/v1/traces` with Basic auth from the project's keys.
 *
 * tracebound builds the processor's exporter itself, with the headers the processor would send
 * (`@langfuse/otel` 5.11 `span-processor.ts`), for two reasons: the exporter is wrapped so failed
 * exports are counted (export-guard.ts), and it is built without the `OTEL_EXPORTER_OTLP_*`
 * variables, whose headers the OTLP exporter would otherwise add to every request: a token meant
 * for the user's Collector must not be sent to Langfuse.
 */
import type * as LangfuseCore from '@langfuse/core';
import type * as LangfuseOtel from '@langfuse/otel';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createRequire } from 'node:module';
import { registerSecret } from '../secrets.js';
import { otlpHttpTraceExporter } from './otlp-doubles.js';

/*
 * The Langfuse SDK (with the OpenTelemetry exporter packages under it, ~260 modules) loads only
 * when the `langfuse` exporter is made. Its CommonJS build is required, so the exporter is still
 * made synchronously, by `tracedRuntime()`.
 */
const require = createRequire(import.meta.url);

/** Langfuse Cloud (EU), the processor's own default when no base URL is set. */
export const LANGFUSE_DEFAULT_BASE_URL = 'https://cloud.langfuse.com';

/** The path of Langfuse's OTLP/HTTP traces endpoint under its base URL. */
export const LANGFUSE_OTEL_TRACES_PATH = '/api/public/otel/v1/traces';

/** What the `langfuse` exporter needs, read from the environment. */
export interface LangfuseSettings {
  publicKey: string;
  secretKey: string;
  /** Without a trailing slash. */
  baseUrl: string;
  /** Request timeout in ms (`LANGFUSE_TIMEOUT`, in seconds as for the SDK; default 5 s). */
  timeoutMs: number;
}

/**
 * Reads the Langfuse settings: `LANGFUSE_PUBLIC_KEY`, `LANGFUSE_SECRET_KEY`, and the base URL from
 * `LANGFUSE_BASE_URL`, else `LANGFUSE_BASEURL` (read by the SDK), else the older `LANGFUSE_HOST`
 * (Langfuse's v2 SDKs), else {@link LANGFUSE_DEFAULT_BASE_URL}.
 * @returns the settings, or the names of the variables that are missing
 */
export function readLangfuseSettings(env: NodeJS.ProcessEnv): { settings: LangfuseSettings } | { missing: string[] } {
  const publicKey = env.LANGFUSE_PUBLIC_KEY;
  const secretKey = env.LANGFUSE_SECRET_KEY;
  if (!publicKey || !secretKey) {
    return { missing: [...(publicKey ? [] : ['LANGFUSE_PUBLIC_KEY']), ...(secretKey ? [] : ['LANGFUSE_SECRET_KEY'])] };
  }
  const baseUrl = (env.LANGFUSE_BASE_URL || env.LANGFUSE_BASEURL || env.LANGFUSE_HOST || LANGFUSE_DEFAULT_BASE_URL).replace(/\/+$/, '');
  const timeoutSeconds = Number(env.LANGFUSE_TIMEOUT ?? 5);
  return { settings: { publicKey, secretKey, baseUrl, timeoutMs: (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 5) * 1000 } };
}

/** Runs `build` with no `OTEL_EXPORTER_OTLP_*` variable set; the OTLP exporter reads them only when constructed. */
function withoutOtlpEnvironment<T>(build: () => T): T {
  const saved = Object.entries(process.env).filter(([key]) => key.startsWith('OTEL_EXPORTER_OTLP_'));
  for (const [key] of saved) delete process.env[key];
  try {
    return build();
  } finally {
    for (const [key, value] of saved) process.env[key] = value;
  }
}

/**
 * The OTLP/JSON exporter to Langfuse's endpoint, with the LangfuseSpanProcessor's headers and
 * Basic auth; double-typed attributes go out as doubles (otlp-doubles.ts).
 */
export function langfuseExporter(settings: LangfuseSettings): SpanExporter {
  const auth = Buffer.from(`${settings.publicKey}:${settings.secretKey}`).toString('base64');
  // The secret key and the Basic credentials that carry it are masked wherever text leaves the
  // process; the public key is not a secret.
  registerSecret(settings.secretKey);
  registerSecret(auth);
  return withoutOtlpEnvironment(
    () =>
      otlpHttpTraceExporter(
        {
          url: `${settings.baseUrl}${LANGFUSE_OTEL_TRACES_PATH}`,
          headers: {
            Authorization: `Basic ${auth}`,
            'x-langfuse-sdk-name': 'javascript',
            'x-langfuse-sdk-version': (require('@langfuse/core') as typeof LangfuseCore).LANGFUSE_SDK_VERSION,
            'x-langfuse-public-key': settings.publicKey,
          },
          timeoutMillis: settings.timeoutMs,
        },
        'json',
      ),
  );
}

/**
 * The LangfuseSpanProcessor over `exporter`. Every tracebound span is exported (the processor's
 * default filter keeps only spans with `gen_ai.*` attributes, which would orphan the children of
 * a filtered step); its batching, masking and media handling stay the SDK's.
 */
export function langfuseProcessor(settings: LangfuseSettings, exporter: SpanExporter): SpanProcessor {
  const { LangfuseSpanProcessor } = require('@langfuse/otel') as typeof LangfuseOtel;
  return new LangfuseSpanProcessor({
    publicKey: settings.publicKey,
    secretKey: settings.secretKey,
    baseUrl: settings.baseUrl,
    exporter,
    shouldExportSpan: () => true,
  });
}

/**
 * How many spans the LangfuseSpanProcessor's internal BatchSpanProcessor holds: the SDK default
 * (2048), which the processor does not let callers change. tracebound's queue bound for this
 * exporter is set to it, so the inner queue never drops uncounted.
 */
export const LANGFUSE_QUEUE_SIZE = 2_048;
