/**
 * Checks that a 200 answer has the shape an adapter reads, before it is read: a body from
 * something that is not the provider's API (a wrong `baseURL`, a proxy's HTML page turned JSON, a
 * half-compatible server) must fail as `response_invalid`, naming the field, not crash as a
 * `TypeError` that reads like a connection failure and is retried.
 */
import { z } from 'zod';
import { ModelCallError } from './errors.js';

/** What was being read, for the error message. */
export interface ShapeSource {
  /** `openai`, `anthropic`. */
  provider: string;
  /** The object or event read, e.g. `chat.completion`. */
  what: string;
  /** What to check, e.g. that the baseURL points at an OpenAI-compatible server. */
  hint: string;
}

/**
 * A schema built on its first use, not as its module loads: building the adapters' answer shapes
 * is most of what loading them costs (zod builds a schema eagerly), and `import('tracebound')`
 * should not pay that for providers a process never calls.
 */
export function lazySchema<T extends z.ZodType>(build: () => T): () => T {
  let schema: T | undefined;
  return () => (schema ??= build());
}

/** A token count: a whole number of tokens, at least 0. */
export const tokens = lazySchema(() => z.number().int().nonnegative());

/**
 * An object checked only by its `type`: the schema of its type when it has one, else anything
 * with a string `type` (the APIs add block, item and event types over time; those are skipped).
 */
export function byType(schemas: Readonly<Record<string, z.ZodType>>): z.ZodType<{ type: string }> {
  // Loose: the type's own schema needs the other keys, which a plain object would strip.
  return z.looseObject({ type: z.string() }).superRefine((value, ctx) => {
    const schema = schemas[value.type];
    if (!schema) return;
    const result = schema.safeParse(value);
    if (result.success) return;
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  });
}

/**
 * Checks `value` against `schema`.
 * @throws {ModelCallError} `response_invalid` (not retried) naming the first wrong field (a path
 *   such as `choices[0].message`), what was wrong with it and `source.hint`.
 */
export function checkShape(schema: z.ZodType, value: unknown, source: ShapeSource): void {
  const result = schema.safeParse(value);
  if (result.success) return;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.reduce<string>((at, key) => (typeof key === 'number' ? `${at}[${key}]` : at ? `${at}.${String(key)}` : String(key)), '');
  throw new ModelCallError(
    `${source.provider} response_invalid: the ${source.what} is not the shape the API documents: ` +
      `${field ? `field "${field}"` : 'the body'}: ${issue.message}. ${source.hint}`,
    { kind: 'response_invalid', provider: source.provider },
  );
}
