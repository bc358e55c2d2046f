/**
 * Anthropic's prompt tokens before a call, estimated: no tokenizer of Claude 3 and later is
 * public, so `@anthropic-ai/tokenizer` (the Claude 2 vocabulary) counts the texts, and fitted
 * framing constants add the tool-use system prompt and the message blocks. The budget corrects
 * the estimate per run by the input tokens the API reports.
 *
 * The upper bound is the same framing with each text measured in UTF-8 bytes after NFKC
 * normalisation, which is what the tokenizer encodes: its rank table is byte-level BPE (every
 * token at least one byte) and its special tokens (`<EOT>`, `<META>`...) are one token for five
 * or more bytes, so each text's estimate is at most those bytes. It bounds the estimate, which is
 * what the budget reserves with, not the tokens of the current (unpublished) vocabulary.
 */
import { createRequire } from 'node:module';
import type { AssistantMessage, Message } from '../messages.js';
import type { CountedRequest, Model, ToolDefinition } from './model.js';
import { lastString, memo, utf8Bytes } from './token-memo.js';

const require = createRequire(import.meta.url);

/** What a text measures: its estimated tokens, or its NFKC UTF-8 bytes (an upper bound of them). */
type Measure = (text: string) => number;
type PromptMeasure = (request: CountedRequest) => number;

interface ClaudeTokenizer {
  encode(text: string, allowedSpecial: 'all'): Uint32Array;
}

let claudeTokenizer: ClaudeTokenizer | undefined;

/**
 * `@anthropic-ai/tokenizer`'s tokenizer, built on first use. Its `countTokens` builds (and frees)
 * a new WASM tokenizer on every call, ~270 ms each, so the tokenizer is kept instead; text is
 * NFKC normalised as `countTokens` does.
 */
function countClaude(text: string): number {
  if (text === '') return 0;
  // Required lazily so that importing tracebound does not load the WASM tokenizer.
  claudeTokenizer ??= (require('@anthropic-ai/tokenizer') as { getTokenizer(): ClaudeTokenizer }).getTokenizer();
  return claudeTokenizer.encode(text.normalize('NFKC'), 'all').length;
}

/**
 * The UTF-8 bytes of a text as the tokenizer sees it (NFKC normalised). ASCII is left as it is by
 * NFKC, and only ASCII has as many bytes as UTF-16 units, so most texts skip the normalisation.
 */
function normalizedBytes(text: string): number {
  const bytes = utf8Bytes(text);
  return bytes === text.length ? bytes : utf8Bytes(text.normalize('NFKC'));
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

/** A Messages API prompt with each text measured by `measure`; its caches serve every request. */
function messagesPrompt(measure: Measure): PromptMeasure {
  const messageTokens = memo((message: Message): number => {
    switch (message.role) {
      case 'tool':
        return CLAUDE_BLOCK_TOKENS + measure(message.toolCallId) + measure(message.content);
      case 'assistant': {
        let total = CLAUDE_MESSAGE_TOKENS + measure(message.content);
        for (const call of message.toolCalls ?? []) {
          total += CLAUDE_BLOCK_TOKENS + measure(call.id) + measure(call.name) + measure(JSON.stringify(call.arguments ?? {}));
        }
        return total;
      }
      default:
        return CLAUDE_MESSAGE_TOKENS + measure(message.content);
    }
  });
  const thinkingTokens = memo((message: AssistantMessage) =>
    (message.reasoning ?? []).reduce((sum, part) => sum + (part.signature === undefined ? 0 : measure(part.text)), 0),
  );
  const toolTokens = memo((tool: ToolDefinition) =>
    measure(JSON.stringify({ name: tool.name, description: tool.description, input_schema: tool.parameters })),
  );
  const systemTokens = lastString(measure);

  return (request) => {
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
}

let count: PromptMeasure | undefined;
let bound: PromptMeasure | undefined;

/**
 * The token counting of an Anthropic model (see the module comment), the same for every Claude
 * model: `countTokens` loads the tokenizer on its first call, `tokenUpperBound` never does.
 */
export function anthropicTokenCounting(): Required<Pick<Model, 'countTokens' | 'tokenUpperBound'>> {
  return {
    countTokens: (request) => (count ??= messagesPrompt(countClaude))(request),
    tokenUpperBound: (request) => (bound ??= messagesPrompt(normalizedBytes))(request),
  };
}
