/**
 * OpenAI's prompt tokens before a call: exact BPE counts with `gpt-tokenizer` (the encoding of the
 * model family) plus the chat formatting the API wraps around them, fitted to recorded traffic
 * (tests/fixtures/token-counts/SOURCES.md): within 1% on most recordings. The same count serves
 * the Chat Completions and the Responses API: Responses renders instructions, `function_call`
 * and `function_call_output` items into the same chat format.
 *
 * The upper bound is the same formatting with each text measured in UTF-8 bytes instead of
 * tokens: every token of `o200k_base` and `cl100k_base` is at least one byte (special-token text
 * is encoded as ordinary text here), so each text's tokens are at most its bytes, and the framing
 * constants are the same on both sides of the sum.
 */
import { createRequire } from 'node:module';
import type { AssistantMessage, Message, ToolCall } from '../messages.js';
import type { CountedRequest, Model, ToolDefinition } from './model.js';
import { stringifyArguments } from './openai-common.js';
import { lastString, memo, utf8Bytes } from './token-memo.js';

const require = createRequire(import.meta.url);

type EncodingName = 'o200k_base' | 'cl100k_base';
/** What a text measures: its tokens, or its UTF-8 bytes (an upper bound of them). */
type Measure = (text: string) => number;
type PromptMeasure = (request: CountedRequest) => number;

interface GptEncodingModule {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

const encoders = new Map<EncodingName, Measure>();

/**
 * A token counter for one encoding, loaded on first use (a rank table takes 150-400 ms to load).
 * Special-token text such as `<|endoftext|>` in a message is counted as ordinary text, as the API
 * treats user content.
 */
function encoder(name: EncodingName): Measure {
  let count = encoders.get(name);
  if (!count) {
    // Required lazily (CommonJS build) so that importing tracebound does not load rank tables.
    const mod = require(`gpt-tokenizer/encoding/${name}`) as GptEncodingModule;
    const options = { disallowedSpecial: new Set<string>() };
    count = (text) => (text === '' ? 0 : mod.countTokens(text, options));
    encoders.set(name, count);
  }
  return count;
}

/**
 * The encoding of an OpenAI model (tiktoken's `model.py` table, as gpt-tokenizer's
 * `modelToEncodingMap` carries it): `cl100k_base` for gpt-4 (not 4o / 4.1 / 4.5), gpt-3.5 and
 * the ada-002 / text-embedding-3 embeddings; `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, the
 * o-series, gpt-5 and anything newer.
 */
export function openaiEncoding(modelId: string): EncodingName {
  const id = modelId.replace(/^openai\//, '');
  return /^(gpt-4(?![o.])|gpt-3\.5|gpt-35|text-embedding-(ada-002|3))/.test(id) ? 'cl100k_base' : 'o200k_base';
}

/**
 * The chat format's costs, from OpenAI's cookbook "How to count tokens with tiktoken" and fitted
 * to the recorded traffic in tests/fixtures/token-counts (all in tokens):
 * - every message: 3 (`<|im_start|>`, `<|im_sep|>` or `<|message|>`, `<|im_end|>`) + its role
 *   + its content;
 * - the reply is primed with 3 (`<|im_start|>assistant<|im_sep|>`); 2 for reasoning models (o1,
 *   o3, o4, gpt-5: their recorded counts are one lower on every request);
 * - tool definitions are rendered into the system prompt as a TypeScript namespace (see
 *   {@link renderOpenAITool}), 2 tokens more than the rendered text, or 2 fewer when the request
 *   has a system message for them to join (otherwise one is opened for them); gpt-5 models add
 *   a further 82-token preamble whenever tools are sent;
 * - an assistant tool call is a message addressed to `functions.<name>` whose content is the
 *   arguments JSON, 4 tokens of framing (gpt-5: 10); parallel calls are one call of
 *   `multi_tool_use.parallel` with `{"tool_uses":[{"recipient_name","parameters"}...]}`;
 * - a tool result's author is `functions.<name>`, counted in place of the `tool` role.
 */
const MESSAGE_TOKENS = 3;
const REPLY_PRIMING = 3;
const TOOLS_TOKENS = 2;
const TOOLS_IN_SYSTEM_DISCOUNT = 4;
const TOOL_CALL_TOKENS = 4;
const GPT5_TOOLS_PREAMBLE = 82;
const GPT5_TOOL_CALL_EXTRA = 6;
const TOOLS_HEADER = '# Tools\n\n## functions\n\nnamespace functions {\n\n';
const TOOLS_FOOTER = '} // namespace functions';

type JsonSchema = Record<string, unknown>;

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One JSON Schema as the TypeScript type OpenAI renders for it. */
function schemaType(schema: unknown, indent: number): string {
  if (!isSchema(schema)) return 'any';
  // `$ref`s are not expanded: expanding them overcounted the recorded requests that use `$defs`.
  if (typeof schema.$ref === 'string') return 'any';
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if ('const' in schema) return JSON.stringify(schema.const);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union)) return union.map((s) => schemaType(s, indent)).join(' | ');
  if (Array.isArray(schema.type)) return schema.type.map((t) => schemaType({ ...schema, type: t }, indent)).join(' | ');
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return schema.items === undefined ? 'any[]' : `${schemaType(schema.items, indent)}[]`;
    case 'object':
      if (!isSchema(schema.properties)) return 'object';
      return `{\n${objectProperties(schema, indent + 2)}\n${' '.repeat(indent)}}`;
    default:
      return 'any';
  }
}

/** The properties of an object schema, one per line: `// description`, then `name?: type,`. */
function objectProperties(schema: JsonSchema, indent: number): string {
  const properties = isSchema(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  for (const [name, property] of Object.entries(properties)) {
    if (isSchema(property) && typeof property.description === 'string' && property.description !== '') {
      lines.push(`${pad}// ${property.description}`);
    }
    const fallback = isSchema(property) && 'default' in property ? ` // default: ${JSON.stringify(property.default)}` : '';
    lines.push(`${pad}${name}${required.has(name) ? '' : '?'}: ${schemaType(property, indent)},${fallback}`);
  }
  return lines.join('\n');
}

/**
 * One function as OpenAI renders it inside `namespace functions` (the format reproduced by
 * hmarr/openai-chat-tokens and gpt-tokenizer's `functionCalling`, checked here against recorded
 * `prompt_tokens`): the description as a `//` comment (kept whole: a multi-line description is
 * not re-prefixed), then `type name = (_: {...}) => any;`, or `() => any;` without parameters.
 */
export function renderOpenAITool(tool: ToolDefinition): string {
  const lines: string[] = [];
  if (tool.description) lines.push(`// ${tool.description}`);
  const properties = tool.parameters.properties;
  if (!isSchema(properties) || Object.keys(properties).length === 0) {
    lines.push(`type ${tool.name} = () => any;`);
  } else {
    lines.push(`type ${tool.name} = (_: {`, objectProperties(tool.parameters, 0), '}) => any;');
  }
  return `${lines.join('\n')}\n\n`;
}

function parallelCallsText(calls: ToolCall[]): string {
  return JSON.stringify({
    tool_uses: calls.map((call) => ({ recipient_name: `functions.${call.name}`, parameters: call.arguments ?? {} })),
  });
}

/** Rendered tools, by tool object: shared by the counts and the bounds of every model. */
const render = memo(renderOpenAITool);

/**
 * The prompt of one OpenAI model in the chat format above, each text measured by `measure`. Its
 * caches (per message, per tools array, last system prompt) serve every request of every run.
 */
function chatPrompt(modelId: string, measure: Measure): PromptMeasure {
  const reasoning = /^(o\d|gpt-5)/.test(modelId);
  const gpt5 = modelId.startsWith('gpt-5');
  const callTokens = TOOL_CALL_TOKENS + (gpt5 ? GPT5_TOOL_CALL_EXTRA : 0);
  const toolsOverhead = TOOLS_TOKENS + (gpt5 ? GPT5_TOOLS_PREAMBLE : 0);

  const assistantCalls = (message: AssistantMessage): number => {
    const calls = message.toolCalls ?? [];
    if (calls.length === 0) return 0;
    if (calls.length > 1) return callTokens + measure('multi_tool_use.parallel') + measure(parallelCallsText(calls));
    const [call] = calls as [ToolCall];
    return callTokens + measure(`functions.${call.name}`) + measure(stringifyArguments(call.arguments));
  };
  const messageTokens = memo((message: Message): number => {
    switch (message.role) {
      case 'tool':
        return MESSAGE_TOKENS + measure(`functions.${message.toolName}`) + measure(message.content);
      case 'assistant':
        return MESSAGE_TOKENS + measure('assistant') + measure(message.content) + assistantCalls(message);
      default:
        return MESSAGE_TOKENS + measure(message.role) + measure(message.content);
    }
  });
  // The namespace is measured whole: counting tools one by one splits merges at their seams
  // (+6 tokens on a recorded 19-tool request). Runs pass the same tools array on every step, so
  // the count is kept per array, and for the last text seen when a new array says the same.
  const toolArrays = new WeakMap<readonly ToolDefinition[], number>();
  let lastTools = { text: '', tokens: 0 };
  const toolsTokens = (tools: readonly ToolDefinition[]): number => {
    let tokens = toolArrays.get(tools);
    if (tokens === undefined) {
      const text = TOOLS_HEADER + tools.map(render).join('') + TOOLS_FOOTER;
      if (text !== lastTools.text) lastTools = { text, tokens: measure(text) };
      tokens = lastTools.tokens;
      toolArrays.set(tools, tokens);
    }
    return tokens;
  };
  const systemTokens = lastString((system) => MESSAGE_TOKENS + measure('system') + measure(system));

  return (request) => {
    let total = reasoning ? REPLY_PRIMING - 1 : REPLY_PRIMING;
    if (request.system !== undefined) total += systemTokens(request.system);
    for (const message of request.messages) total += messageTokens(message);
    if (request.tools.length > 0) {
      total += toolsOverhead + toolsTokens(request.tools);
      if (request.system !== undefined || request.messages.some((m) => m.role === 'system')) total -= TOOLS_IN_SYSTEM_DISCOUNT;
    }
    return total;
  };
}

/** Exact counts and byte bounds, by model id: built on a model's first count, then shared. */
const counts = new Map<string, PromptMeasure>();
const bounds = new Map<string, PromptMeasure>();

function promptOf(cache: Map<string, PromptMeasure>, modelId: string, measure: () => Measure): PromptMeasure {
  let prompt = cache.get(modelId);
  if (!prompt) {
    prompt = chatPrompt(modelId, measure());
    cache.set(modelId, prompt);
  }
  return prompt;
}

/**
 * The token counting of an OpenAI model (see the module comment): `countTokens` loads the
 * model's encoding on its first call, `tokenUpperBound` never does.
 * @param modelId the requested model, e.g. `gpt-4o-mini` (picks the encoding and the format).
 */
export function openaiTokenCounting(modelId: string): Required<Pick<Model, 'countTokens' | 'tokenUpperBound'>> {
  let count: PromptMeasure | undefined;
  let bound: PromptMeasure | undefined;
  return {
    countTokens: (request) => (count ??= promptOf(counts, modelId, () => encoder(openaiEncoding(modelId))))(request),
    tokenUpperBound: (request) => (bound ??= promptOf(bounds, modelId, () => utf8Bytes))(request),
  };
}
