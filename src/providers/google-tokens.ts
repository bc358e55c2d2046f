/**
 * Gemini's prompt tokens before a call, estimated offline. The Gemini API counts exactly with
 * `models.countTokens`, but that is a network call, and the budget counts synchronously before a
 * guarded call; Gemini's tokenizer is not bundled with the SDK (its local tokenizer downloads the
 * vocabulary on first use). So each text is estimated at one token per
 * {@link CHARS_PER_TOKEN} characters, Google's own rule of thumb ("a token is equivalent to about 4
 * characters", ai.google.dev/gemini-api/docs/tokens), plus framing constants for turns and
 * function call and response parts, fitted to recorded runs (tests/fixtures/google/count-*.json).
 * A function declaration counts its name, description and the words of its schema (the API does
 * not count the schema's JSON punctuation). Thought signatures sent back with function calls
 * count as input on Gemini 3 (a signed call costs about its turn's thought tokens), at the same
 * four characters a token; Gemini 1.x and 2.x do not count them. The budget corrects the estimate
 * per run by the input tokens the API reports: after one call of a recorded run, the next is
 * within 20% (15% at most on those recordings; tests/providers/google-tokens.test.ts).
 *
 * The upper bound is the same framing with each text measured in UTF-8 bytes: Gemini's
 * SentencePiece vocabulary falls back to single bytes, so no token covers less than one byte, and
 * each text's estimate (a quarter of its characters, rounded up) is at most its bytes.
 */
import type { Message } from '../messages.js';
import type { CountedRequest, Model, ToolDefinition } from './model.js';
import { lastString, memo, utf8Bytes } from './token-memo.js';

/** Characters per token of the estimate (Gemini API docs, "Understand and count tokens"). */
const CHARS_PER_TOKEN = 4;
/** Framing of one text part (a turn, the system prompt) and of one function call or response part; fitted to recorded runs. */
const TURN_TOKENS = 2;
const PART_TOKENS = 3;
/** Models whose thought signatures were recorded not counting as input. */
const UNCOUNTED_SIGNATURES = /^gemini-(1|2)\./;

type Measure = (text: string) => number;
type PromptMeasure = (request: CountedRequest) => number;

const estimate: Measure = (text) => Math.ceil(text.length / CHARS_PER_TOKEN);

/** The words of a JSON Schema: its names, types and descriptions without the JSON punctuation. */
function schemaWords(schema: Record<string, unknown>): string {
  return JSON.stringify(schema).replace(/[{}":,[\]]+/g, ' ').trim();
}

/**
 * A `generateContent` prompt with each text measured by `measure`; its caches serve every request.
 * @param signatures whether thought signatures count.
 */
function contentsPrompt(measure: Measure, signatures: boolean): PromptMeasure {
  const messageTokens = memo((message: Message): number => {
    switch (message.role) {
      case 'tool':
        return PART_TOKENS + measure(message.toolName) + measure(message.content);
      case 'assistant': {
        let total = TURN_TOKENS + measure(message.content);
        for (const call of message.toolCalls ?? []) {
          total += PART_TOKENS + measure(call.name) + measure(JSON.stringify(call.arguments ?? {}));
          if (signatures && call.signature !== undefined) total += measure(call.signature);
        }
        return total;
      }
      default:
        return TURN_TOKENS + measure(message.content);
    }
  });
  const toolTokens = memo((tool: ToolDefinition) => measure(tool.name) + measure(tool.description) + measure(schemaWords(tool.parameters)));
  const systemTokens = lastString(measure);
  return (request) => {
    let total = request.system === undefined ? 0 : TURN_TOKENS + systemTokens(request.system);
    for (const message of request.messages) total += messageTokens(message);
    for (const tool of request.tools) total += toolTokens(tool);
    return total;
  };
}

/**
 * The token counting of a Gemini model (see the module comment); its caches are built on the first
 * count.
 */
export function geminiTokenCounting(modelId: string): Required<Pick<Model, 'countTokens' | 'tokenUpperBound'>> {
  const signatures = !UNCOUNTED_SIGNATURES.test(modelId);
  let count: PromptMeasure | undefined;
  let bound: PromptMeasure | undefined;
  return {
    countTokens: (request) => (count ??= contentsPrompt(estimate, signatures))(request),
    tokenUpperBound: (request) => (bound ??= contentsPrompt(utf8Bytes, signatures))(request),
  };
}
