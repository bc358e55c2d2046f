/**
 * Pieces both OpenAI APIs share: tool-call arguments travel as JSON text on the wire
 * (`function.arguments` in Chat Completions, `arguments` on a Responses `function_call` item).
 */

/**
 * Parses a tool call's JSON arguments. Text that is not JSON is returned as the raw string, so
 * tool validation can report what the model actually sent; an empty string (a tool without
 * parameters, as some models send it) is `{}`.
 */
export function parseArguments(raw: string): unknown {
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/**
 * Serialises arguments for the wire; a raw string (arguments that never parsed) is sent back
 * unchanged, so the model sees exactly what it produced.
 */
export function stringifyArguments(args: unknown): string {
  return typeof args === 'string' ? args : JSON.stringify(args ?? {});
}

/** What to check when an answer is not OpenAI's shape (see shape.ts). */
export const OPENAI_SHAPE_HINT =
  'Check that the baseURL points at an OpenAI-compatible server (one that answers as api.openai.com does, under /v1).';
