/**
 * Gemini's prompt tokens before a call, estimated offline. The Gemini API counts exactly with
 * `models.countTokens`, but that is a network call, and the budget counts synchronously before a
 * guarded call; Gemini's tokenizer is not bundled with the SDK (its local tokenizer downloads the
 * vocabulary on first use). So each text is estimated at one token per
 * {@link CHARS_PER_TOKEN} characters, Google's own rule of thumb ("a token is equivalent to about 4
 * characters", ai.google.dev/gemini-api/docs/tokens), plus fitted framing constants for turns,
 * function calls and declarations. The budget corrects the estimate per run by the input tokens
 * the API reports.
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
/** Framing of one content (turn) and of one function call or response part; fitted to recorded runs. */
const TURN_TOKENS = 3;
const PART_TOKENS = 5;

type Measure = (text: string) => number;
type PromptMeasure = (request: CountedRequest) => number;

const estimate: Measure = (text) => Math.ceil(text.length / CHARS_PER_TOKEN);

/** A `generateContent` prompt with each text measured by `measure`; its caches serve every request. */
function contentsPrompt(measure: Measure): PromptMeasure {
  const messageTokens = memo((message: Message): number => {
    switch (message.role) {
      case 'tool':
        return PART_TOKENS + measure(message.toolName) + measure(message.content);
      case 'assistant': {
        let total = TURN_TOKENS + measure(message.content);
        for (const call of message.toolCalls ?? []) total += PART_TOKENS + measure(call.name) + measure(JSON.stringify(call.arguments ?? {}));
        return total;
      }
      default:
        return TURN_TOKENS + measure(message.content);
    }
  });
  const toolTokens = memo((tool: ToolDefinition) => measure(JSON.stringify({ name: tool.name, description: tool.description, parameters: tool.parameters })));
  const systemTokens = lastString(measure);
  return (request) => {
    let total = request.system === undefined ? 0 : TURN_TOKENS + systemTokens(request.system);
    for (const message of request.messages) total += messageTokens(message);
    for (const tool of request.tools) total += toolTokens(tool);
    return total;
  };
}

let count: PromptMeasure | undefined;
let bound: PromptMeasure | undefined;

/** The token counting of a Gemini model (see the module comment), the same for every Gemini model. */
export function geminiTokenCounting(): Required<Pick<Model, 'countTokens' | 'tokenUpperBound'>> {
  return {
    countTokens: (request) => (count ??= contentsPrompt(estimate))(request),
    tokenUpperBound: (request) => (bound ??= contentsPrompt(utf8Bytes))(request),
  };
}
