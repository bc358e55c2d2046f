/**
 * The names the model calls an MCP server's tools by. MCP allows tool names model providers
 * reject: the 2025-11-25 specification (server/tools, "Tool names", from SEP-986) says a name
 * SHOULD be 1-128 of `[A-Za-z0-9_.-]` (the SDK's `validateToolName` warns on anything else, but
 * servers still list it), while OpenAI's and Anthropic's function names are 1-64 of
 * `[A-Za-z0-9_-]`. One name outside that fails the whole model request, so such a tool gets a
 * model-facing name here; `tools/call` keeps sending the server's own.
 */
import { createHash } from 'node:crypto';

/** What the providers accept as a function name (the same rule `tool()` enforces). */
const MODEL_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX = 64;
/** Hex digits of the suffix; more only if a suffixed name still collides. */
const SUFFIX_HEX = 8;

/**
 * The model-facing name of each of `names` (a server's tools, unique as MCP requires), in the
 * same order. Deterministic, and independent of the list's order unless a suffix itself collides:
 * - a name the providers accept stays as it is;
 * - any other name has each character outside `[A-Za-z0-9_-]` replaced by `_` (`admin.tools.list`
 *   -> `admin_tools_list`);
 * - when that is longer than 64 characters, empty, or equal to another tool's name (`a.b` and
 *   `a/b`, or `a.b` beside a tool named `a_b`), it is cut to fit and ends in `_` and the first 8
 *   hex digits of the SHA-256 of the server's name (`a.b` -> `a_b_` + 8 hex digits), more digits
 *   if even that is taken.
 */
export function modelToolNames(names: readonly string[]): string[] {
  const result: (string | undefined)[] = names.map((name) => (MODEL_NAME.test(name) ? name : undefined));
  const taken = new Set(result.filter((name) => name !== undefined));
  const replaced = names.map((name) => name.replace(/[^A-Za-z0-9_-]/gu, '_'));
  const uses = new Map<string, number>();
  result.forEach((name, i) => {
    if (name === undefined) uses.set(replaced[i]!, (uses.get(replaced[i]!) ?? 0) + 1);
  });
  result.forEach((name, i) => {
    const base = replaced[i]!;
    if (name === undefined && base !== '' && base.length <= MAX && uses.get(base) === 1 && !taken.has(base)) {
      result[i] = base;
      taken.add(base);
    }
  });
  return result.map((name, i) => {
    if (name !== undefined) return name;
    const hash = createHash('sha256').update(names[i]!).digest('hex');
    let digits = SUFFIX_HEX;
    let candidate = suffixed(replaced[i]!, hash, digits);
    while (taken.has(candidate)) candidate = suffixed(replaced[i]!, hash, ++digits);
    taken.add(candidate);
    return candidate;
  });
}

function suffixed(base: string, hash: string, digits: number): string {
  return `${base.slice(0, MAX - 1 - digits)}_${hash.slice(0, digits)}`;
}
