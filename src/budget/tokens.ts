/**
 * Prompt token counting for the budget: system prompt + messages + tool definitions, in tokens.
 *
 * How a prompt is counted is the model's: `Model.countTokens` (the OpenAI adapter counts exactly,
 * the Anthropic adapter estimates; see providers/openai-tokens.ts and anthropic-tokens.ts), with
 * `Model.tokenUpperBound` as a cheap bound of it. What is the budget's stays here: a model without
 * `countTokens` is estimated at ~4 characters a token, and every count is corrected per run by the
 * input tokens the provider reports ({@link TokenCounter.observe}).
 */
import type { Message } from '../messages.js';
import type { CountedRequest, Model, ToolDefinition } from '../providers/model.js';
import { memo } from '../providers/token-memo.js';

export { contextWindow, type ContextWindowOverrides } from './context-window.js';
export type { CountedRequest } from '../providers/model.js';

/** Counts the prompt tokens of a request before it is sent: system + messages + tool schemas. */
export interface TokenCounter {
  /** Prompt tokens the request is expected to cost (tokens), corrections of this run applied. */
  count(request: CountedRequest): number;
  /**
   * A cheap upper bound of what {@link count} returns for the request (tokens; no tokenizer
   * runs), or undefined when there is none (the model gives no `tokenUpperBound`, or counting is
   * itself this cheap).
   */
  upperBound(request: CountedRequest): number | undefined;
  /**
   * Feeds back what the provider reported for a request this counter counted, so later counts
   * are corrected.
   * @param counted what {@link count} returned for that request (tokens).
   * @param reportedInputTokens the provider's input tokens for it, cache reads and writes
   *   included (tokens; `Usage.inputTokens`). Non-positive or non-finite values are ignored.
   */
  observe(counted: number, reportedInputTokens: number): void;
  /**
   * Feeds back what the provider reported for a request that was sent without being counted (on
   * its upper bound). Nothing is counted now: the counter counts that request, and learns from
   * it, when it next has to count exactly, so a count near a limit is still corrected by the
   * run's last call. Until then, upper bounds allow for the correction it may bring.
   * @param reportedInputTokens as for {@link observe}.
   */
  observeUncounted(request: CountedRequest, reportedInputTokens: number): void;
}

type PromptCount = (request: CountedRequest) => number;

const useful = (reported: number): boolean => Number.isFinite(reported) && reported > 0;

/**
 * The counter of a model that counts: its counts corrected by adding the last observed gap
 * (reported - counted). The gap is mostly a fixed amount the count cannot see: Anthropic's
 * tool-use system prompt and message framing (hundreds of tokens that do not grow with the
 * conversation), or a hidden preamble of an OpenAI model. On the recorded Anthropic runs a ratio
 * correction multiplied that fixed gap into every new token (mean error 48% on the next call)
 * where the offset stayed within 5%. The last observation is used, not an average: the run's
 * conversation only grows, so the latest call is the closest.
 */
function modelCounter(raw: PromptCount, rawBound: PromptCount | undefined): TokenCounter {
  let offset = 0;
  let uncounted: { request: CountedRequest; reported: number } | undefined;
  const catchUp = (): void => {
    if (!uncounted) return;
    offset = uncounted.reported - raw(uncounted.request);
    uncounted = undefined;
  };
  return {
    count: (request) => {
      catchUp();
      return Math.max(0, raw(request) + offset);
    },
    // The bound holds for the count made with the current offset (the correction is monotonic).
    // With an observation not yet learned, the next offset is reported - count(that request),
    // at most `reported`, so the bound adds that much instead.
    upperBound: (request) => (rawBound ? Math.max(0, rawBound(request) + (uncounted ? uncounted.reported : offset)) : undefined),
    observe: (counted, reported) => {
      if (!Number.isFinite(counted) || !useful(reported)) return;
      uncounted = undefined;
      offset = reported - (counted - offset);
    },
    observeUncounted: (request, reported) => {
      if (useful(reported)) uncounted = { request, reported };
    },
  };
}

/** Characters per token of English text in the BPE vocabularies of current models. */
const CHARS_PER_TOKEN = 4;

/**
 * The counter of a model that does not count: ~4 characters a token, scaled by the last observed
 * ratio reported/estimated (characters per token vary with language and content, so the error
 * is proportional to the text). The estimate is as cheap as a bound would be, so it has none.
 */
function characterCounter(): TokenCounter {
  const messageChars = memo((message: Message): number => {
    let chars = message.content.length;
    if (message.role === 'assistant') {
      for (const call of message.toolCalls ?? []) chars += call.name.length + JSON.stringify(call.arguments ?? {}).length;
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
  let ratio = 1;
  const learn = (estimated: number, reported: number): void => {
    if (estimated > 0 && useful(reported)) ratio = reported / estimated;
  };
  return {
    count: (request) => Math.round(raw(request) * ratio),
    upperBound: () => undefined,
    observe: (counted, reported) => {
      if (Number.isFinite(counted)) learn(counted / ratio, reported);
    },
    observeUncounted: (request, reported) => learn(raw(request), reported),
  };
}

/**
 * A fresh token counter for one run of `model` (corrections from {@link TokenCounter.observe} are
 * per run): the model's own `countTokens` (and `tokenUpperBound`) when it has one, corrected by
 * the last observed gap, else an estimate of ~4 characters a token, corrected by the last
 * observed ratio.
 */
export function tokenCounterFor(model: Pick<Model, 'countTokens' | 'tokenUpperBound'>): TokenCounter {
  const { countTokens, tokenUpperBound } = model;
  if (!countTokens) return characterCounter();
  return modelCounter(
    (request) => countTokens.call(model, request),
    tokenUpperBound && ((request) => tokenUpperBound.call(model, request)),
  );
}
