/**
 * Prompt token counting before a model call: system prompt + messages + tool schemas, in tokens.
 *
 * - OpenAI: exact BPE counts with `gpt-tokenizer` (the encoding of the model family) plus the
 *   chat formatting the API wraps around them, fitted to recorded traffic (see
 *   tests/fixtures/token-counts/SOURCES.md): within 1% on most recordings.
 * - Anthropic: no public tokenizer exists for Claude 3 and later; `@anthropic-ai/tokenizer` (the
 *   Claude 2 vocabulary) gives an estimate that {@link TokenCounter.observe} corrects per run.
 * - Any other provider: about 4 characters a token, corrected the same way.
 *
 * Tokenizers load on first use (their rank tables take 150-400 ms to load), and counts of
 * messages and tools are cached by object identity, since a run sends the same message objects
 * again on every step.
 */
import { createRequire } from 'node:module';
import type { AssistantMessage, Message, ToolCall } from '../messages.js';
import type { Model, ModelRequest, ToolDefinition } from '../providers/model.js';
import { stringifyArguments } from '../providers/openai-common.js';

export { contextWindow, type ContextWindowOverrides } from './context-window.js';

/** The parts of a request that are sent as prompt tokens. */
export type CountedRequest = Pick<ModelRequest, 'system' | 'messages' | 'tools'>;

/** Counts the prompt tokens of a request before it is sent: system + messages + tool schemas. */
export interface TokenCounter {
  /** Prompt tokens the request is expected to cost (tokens), corrections of this run applied. */
  count(request: CountedRequest): number;
  /**
   * Feeds back what the provider reported for a request this counter counted, so later counts
   * are corrected.
   * @param counted what {@link count} returned for that request (tokens).
   * @param reportedInputTokens the provider's input tokens for it, cache reads and writes
   *   included (tokens; `Usage.inputTokens`). Non-positive or non-finite values are ignored.
   */
  observe(counted: number, reportedInputTokens: number): void;
}

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Corrections

/** How a counter's raw count is corrected from the provider's feedback. */
interface Correction {
  apply(raw: number): number;
  /** Inverse of {@link apply}, so `observe` can take what `count` returned. */
  unapply(corrected: number): number;
  learn(raw: number, reported: number): void;
}

/**
 * Adds the last observed gap (reported - raw). Used where the gap is mostly a fixed amount the
 * counter cannot see: Anthropic's tool-use system prompt and message framing (hundreds of
 * tokens that do not grow with the conversation), or a hidden preamble of an OpenAI model. On
 * the recorded Anthropic runs a ratio correction multiplied that fixed gap into every new token
 * (mean error 48% on the next call) where the offset stayed within 5%. The last observation is
 * used, not an average: the run's conversation only grows, so the latest call is the closest.
 */
function offsetCorrection(): Correction {
  let offset = 0;
  return {
    apply: (raw) => Math.max(0, raw + offset),
    unapply: (corrected) => corrected - offset,
    learn: (raw, reported) => {
      offset = reported - raw;
    },
  };
}

/**
 * Scales by the last observed ratio reported/raw. Used for the character estimate, whose error
 * is proportional to the text (characters per token vary with language and content).
 */
function ratioCorrection(): Correction {
  let ratio = 1;
  return {
    apply: (raw) => Math.round(raw * ratio),
    unapply: (corrected) => corrected / ratio,
    learn: (raw, reported) => {
      if (raw > 0) ratio = reported / raw;
    },
  };
}

function correctedCounter(rawCount: (request: CountedRequest) => number, correction: Correction): TokenCounter {
  return {
    count: (request) => correction.apply(rawCount(request)),
    observe: (counted, reported) => {
      if (!Number.isFinite(counted) || !Number.isFinite(reported) || reported <= 0) return;
      correction.learn(correction.unapply(counted), reported);
    },
  };
}

/** Caches one number per object (message or tool definition) for the life of the counter. */
function memo<K extends object>(compute: (key: K) => number): (key: K) => number {
  const cache = new WeakMap<K, number>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = compute(key);
      cache.set(key, value);
    }
    return value;
  };
}

/**
 * Caches the count of the last string seen: the system prompt of a run is the same string on
 * every step, and keeping only the last one bounds the memory of a long-lived counter.
 */
function lastString(compute: (text: string) => number): (text: string) => number {
  let last: { text: string; value: number } | undefined;
  return (text) => {
    if (last?.text !== text) last = { text, value: compute(text) };
    return last.value;
  };
}

// ---------------------------------------------------------------------------------------------
// OpenAI

type EncodingName = 'o200k_base' | 'cl100k_base';
type CountText = (text: string) => number;

interface GptEncodingModule {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

const encoders = new Map<EncodingName, CountText>();

/**
 * A token counter for one encoding, loaded on first use. Special-token text such as
 * `<|endoftext|>` in a message is counted as ordinary text, as the API treats user content.
 */
function encoder(name: EncodingName): CountText {
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

/**
 * The uncorrected count of one OpenAI model, built once per model id: its caches (per message,
 * per tools array, last system prompt) then serve every run, and only the correction is per run.
 */
const openaiRawCounts = new Map<string, (request: CountedRequest) => number>();

function openaiCounter(modelId: string): TokenCounter {
  let raw = openaiRawCounts.get(modelId);
  if (!raw) {
    raw = openaiRaw(modelId);
    openaiRawCounts.set(modelId, raw);
  }
  return correctedCounter(raw, offsetCorrection());
}

function openaiRaw(modelId: string): (request: CountedRequest) => number {
  const countText = encoder(openaiEncoding(modelId));
  const reasoning = /^(o\d|gpt-5)/.test(modelId);
  const gpt5 = modelId.startsWith('gpt-5');
  const callTokens = TOOL_CALL_TOKENS + (gpt5 ? GPT5_TOOL_CALL_EXTRA : 0);
  const toolsOverhead = TOOLS_TOKENS + (gpt5 ? GPT5_TOOLS_PREAMBLE : 0);

  const assistantCalls = (message: AssistantMessage): number => {
    const calls = message.toolCalls ?? [];
    if (calls.length === 0) return 0;
    if (calls.length > 1) return callTokens + countText('multi_tool_use.parallel') + countText(parallelCallsText(calls));
    const [call] = calls as [ToolCall];
    return callTokens + countText(`functions.${call.name}`) + countText(stringifyArguments(call.arguments));
  };
  const messageTokens = memo((message: Message): number => {
    switch (message.role) {
      case 'tool':
        return MESSAGE_TOKENS + countText(`functions.${message.toolName}`) + countText(message.content);
      case 'assistant':
        return MESSAGE_TOKENS + countText('assistant') + countText(message.content) + assistantCalls(message);
      default:
        return MESSAGE_TOKENS + countText(message.role) + countText(message.content);
    }
  });
  const rendered = new WeakMap<ToolDefinition, string>();
  const render = (tool: ToolDefinition): string => {
    let text = rendered.get(tool);
    if (text === undefined) {
      text = renderOpenAITool(tool);
      rendered.set(tool, text);
    }
    return text;
  };
  // The namespace is tokenized whole: counting tools one by one splits merges at their seams
  // (+6 tokens on a recorded 19-tool request). Runs pass the same tools array on every step, so
  // the count is kept per array, and for the last text seen when a new array says the same.
  const toolArrays = new WeakMap<readonly ToolDefinition[], number>();
  let lastTools = { text: '', tokens: 0 };
  const toolsTokens = (tools: readonly ToolDefinition[]): number => {
    let tokens = toolArrays.get(tools);
    if (tokens === undefined) {
      const text = TOOLS_HEADER + tools.map(render).join('') + TOOLS_FOOTER;
      if (text !== lastTools.text) lastTools = { text, tokens: countText(text) };
      tokens = lastTools.tokens;
      toolArrays.set(tools, tokens);
    }
    return tokens;
  };
  const systemTokens = lastString((system) => MESSAGE_TOKENS + countText('system') + countText(system));

  const raw = (request: CountedRequest): number => {
    let total = reasoning ? REPLY_PRIMING - 1 : REPLY_PRIMING;
    if (request.system !== undefined) total += systemTokens(request.system);
    for (const message of request.messages) total += messageTokens(message);
    if (request.tools.length > 0) {
      total += toolsOverhead + toolsTokens(request.tools);
      if (request.system !== undefined || request.messages.some((m) => m.role === 'system')) total -= TOOLS_IN_SYSTEM_DISCOUNT;
    }
    return total;
  };
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Anthropic

interface ClaudeTokenizer {
  encode(text: string, allowedSpecial: 'all'): Uint32Array;
}

let claudeTokenizer: ClaudeTokenizer | undefined;

/**
 * `@anthropic-ai/tokenizer`'s tokenizer, built once. Its `countTokens` builds (and frees) a new
 * WASM tokenizer on every call, ~270 ms each, so the tokenizer is kept instead; text is NFKC
 * normalised as `countTokens` does.
 */
function countClaude(text: string): number {
  if (text === '') return 0;
  claudeTokenizer ??= (require('@anthropic-ai/tokenizer') as { getTokenizer(): ClaudeTokenizer }).getTokenizer();
  return claudeTokenizer.encode(text.normalize('NFKC'), 'all').length;
}

/**
 * Tokens of the tool-use system prompt Anthropic adds whenever tools are sent (`tool_choice`
 * auto or none), for Claude 4 and Sonnet 3.7 models, from the "Pricing" section of Anthropic's
 * tool-use docs (docs.anthropic.com/en/docs/agents-and-tools/tool-use/overview).
 */
const CLAUDE_TOOL_SYSTEM_PROMPT = 346;
/** Framing of one message and of one tool_use / tool_result block; fitted to recorded runs. */
const CLAUDE_MESSAGE_TOKENS = 3;
const CLAUDE_BLOCK_TOKENS = 10;

function anthropicCounter(): TokenCounter {
  const messageTokens = memo((message: Message): number => {
    switch (message.role) {
      case 'tool':
        return CLAUDE_BLOCK_TOKENS + countClaude(message.toolCallId) + countClaude(message.content);
      case 'assistant': {
        let total = CLAUDE_MESSAGE_TOKENS + countClaude(message.content);
        for (const call of message.toolCalls ?? []) {
          total += CLAUDE_BLOCK_TOKENS + countClaude(call.id) + countClaude(call.name) + countClaude(JSON.stringify(call.arguments ?? {}));
        }
        return total;
      }
      default:
        return CLAUDE_MESSAGE_TOKENS + countClaude(message.content);
    }
  });
  const thinkingTokens = memo((message: AssistantMessage) =>
    (message.reasoning ?? []).reduce((sum, part) => sum + (part.signature === undefined ? 0 : countClaude(part.text)), 0),
  );
  const toolTokens = memo((tool: ToolDefinition) =>
    countClaude(JSON.stringify({ name: tool.name, description: tool.description, input_schema: tool.parameters })),
  );

  const systemTokens = lastString(countClaude);

  const raw = (request: CountedRequest): number => {
    let total = request.system === undefined ? 0 : systemTokens(request.system);
    // Thinking blocks of earlier turns are dropped from the context by the API (extended
    // thinking docs, "context window"): only those since the last user message count.
    let lastUser = -1;
    request.messages.forEach((m, i) => {
      if (m.role === 'user') lastUser = i;
    });
    request.messages.forEach((message, i) => {
      total += messageTokens(message);
      if (message.role === 'assistant' && i > lastUser) total += thinkingTokens(message);
    });
    if (request.tools.length > 0) {
      total += CLAUDE_TOOL_SYSTEM_PROMPT;
      for (const tool of request.tools) total += toolTokens(tool);
    }
    return total;
  };
  return correctedCounter(raw, offsetCorrection());
}

// ---------------------------------------------------------------------------------------------
// Other providers

/** Characters per token of English text in the BPE vocabularies of current models. */
const CHARS_PER_TOKEN = 4;

function characterCounter(): TokenCounter {
  const messageChars = memo((message: Message): number => {
    let chars = message.content.length;
    if (message.role === 'assistant') {
      for (const call of message.toolCalls ?? []) chars += call.name.length + stringifyArguments(call.arguments).length;
    }
    return chars;
  });
  const toolChars = memo((tool: ToolDefinition) => tool.name.length + tool.description.length + JSON.stringify(tool.parameters).length);
  const raw = (request: CountedRequest): number => {
    let chars = request.system?.length ?? 0;
    for (const message of request.messages) chars += messageChars(message);
    for (const tool of request.tools) chars += toolChars(tool);
    return Math.ceil(chars / CHARS_PER_TOKEN);
  };
  return correctedCounter(raw, ratioCorrection());
}

/**
 * A fresh token counter for one run of one model (corrections from {@link TokenCounter.observe}
 * are per run). `openai` gets exact tokenizer counts, `anthropic` a corrected estimate, any other
 * provider a corrected estimate of ~4 characters a token. The same count serves the Chat
 * Completions and the Responses API: Responses renders instructions, `function_call` and
 * `function_call_output` items into the same chat format.
 */
export function tokenCounterFor(model: Pick<Model, 'provider' | 'modelId'>): TokenCounter {
  if (model.provider === 'openai') return openaiCounter(model.modelId);
  if (model.provider === 'anthropic') return anthropicCounter();
  return characterCounter();
}
