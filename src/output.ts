/**
 * An agent's typed answer (`agent({ output })`): its zod schema as the JSON Schema a model is
 * asked to follow, and the model's text checked against it.
 */
import { z } from 'zod';
import { DefinitionError } from './errors.js';
import type { OutputRequest } from './providers/model.js';

/** OpenAI's rule for a `json_schema.name` (and Anthropic's for a tool name): 1-64 of `[a-zA-Z0-9_-]`. */
const NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** The format's name when the schema has no usable `title` (`.meta({ title })`). */
const DEFAULT_NAME = 'final_result';

/**
 * The request a model gets for `schema` (a zod 4 object schema): its JSON Schema from
 * `z.toJSONSchema` (draft 2020-12, `io: 'input'`: what the schema accepts), made strict-compatible
 * for OpenAI's Structured Outputs: every object gets `additionalProperties: false` and lists every
 * property in `required`. So an `.optional()` field is asked for as required (the model always
 * gives it); use `.nullable()` for one it may leave empty. The name is the schema's `title`
 * (`.meta({ title: 'CityLocation' })`) when it is a valid name, else `final_result`; the
 * description is the schema's `.describe()`.
 * @throws {DefinitionError} (field `output`) when `schema` is not a zod object schema, or has a
 *   part JSON Schema cannot express (a `z.date()`, a `z.custom()`, a transform's output...).
 */
export function outputRequestOf(what: string, schema: unknown): OutputRequest {
  if (!(schema instanceof z.ZodObject)) throw new DefinitionError(what, 'output', 'must be a zod object schema, e.g. z.object({ city: z.string() })');
  let json: Record<string, unknown>;
  try {
    json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  } catch (error) {
    throw new DefinitionError(what, 'output', `cannot be sent as JSON Schema: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { $schema: _dialect, title, description, ...rest } = json;
  const request: OutputRequest = { name: typeof title === 'string' && NAME.test(title) ? title : DEFAULT_NAME, jsonSchema: strict(rest) as Record<string, unknown> };
  if (typeof description === 'string') request.description = description;
  return request;
}

/** `node` with every object schema in it closed (`additionalProperties: false`) and all its properties required. */
function strict(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strict);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    // `properties` and `$defs` map names to schemas: their keys are not keywords.
    out[key] = key === 'properties' || key === '$defs' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, strict(v)])) : strict(value);
  }
  if (out['type'] === 'object' || out['properties'] !== undefined) {
    out['additionalProperties'] = false;
    out['required'] = Object.keys((out['properties'] as object | undefined) ?? {});
  }
  return out;
}

/** What checking a model's answer against the agent's schema gave: the JSON value and its parse. */
export type OutputCheck =
  | { ok: true; json: unknown; value: unknown }
  | { ok: false; kind: 'invalid_json' | 'schema'; message: string; issues: z.core.$ZodIssue[] };

/** A Markdown code fence around a whole answer (` ```json ... ``` `), which models that are only instructed often add. */
const FENCE = /^\s*```[a-zA-Z]*\n([\s\S]*?)\n?```\s*$/;

/**
 * Parses `text` as JSON (inside a Markdown code fence, if the whole answer is one) and validates
 * it with `schema`; a failure says why, in words for the model.
 */
export function checkOutput(schema: z.ZodType, text: string): OutputCheck {
  let json: unknown;
  try {
    json = JSON.parse(FENCE.exec(text)?.[1] ?? text);
  } catch (error) {
    // The position only: the parser's own message quotes the answer, which must not reach a span.
    const at = error instanceof Error ? /at position \d+/.exec(error.message)?.[0] : undefined;
    return { ok: false, kind: 'invalid_json', message: `the answer is not valid JSON${at ? ` (${at})` : ''}`, issues: [] };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, json, value: parsed.data };
  return { ok: false, kind: 'schema', message: `the answer does not match the schema: ${z.prettifyError(parsed.error)}`, issues: parsed.error.issues };
}

/** A run's answer as text: itself when it is text, else its JSON (`undefined` for no answer). */
export function outputText(output: unknown): string | undefined {
  return typeof output === 'string' ? output : (JSON.stringify(output) as string | undefined);
}

/**
 * The system prompt's addition for a model without native structured output ("instruct and
 * parse"): the JSON Schema the answer must follow.
 */
export function outputInstructions(output: OutputRequest): string {
  return `When you give your final answer, reply with only a JSON value (no other text, no code fence) that matches this JSON Schema:\n${JSON.stringify(output.jsonSchema)}`;
}

/** What the model is told when its answer failed `check`: the error, and to answer again. */
export function retryPrompt(message: string): string {
  return `Your answer could not be used: ${message}. Answer again with only JSON that matches the schema.`;
}
