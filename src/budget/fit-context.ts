/**
 * Fitting a prompt into the budget's `contextTokens`: the policy's compression strategies run in
 * order until the prompt fits, each through the chain's compression point (so each is a traced
 * `compress_context` span and runs the compression hooks).
 */
import { NEVER_ABORTED } from '../abort.js';
import type { Agent } from '../agent.js';
import type { Message } from '../messages.js';
import type { ModelRequest } from '../providers/model.js';
import type { ModelCallContext } from '../runtime/middleware.js';
import { BUILT_IN_STRATEGIES, DEFAULT_STRATEGIES, transcript, type CompressionStrategy } from './compress.js';
import type { TokenCounter } from './tokens.js';

/** The system prompt of a summarising call. */
const SUMMARY_INSTRUCTIONS =
  'Summarize the conversation below so an assistant can continue it: keep every fact, number, decision, ' +
  'tool result and open question that may matter; drop pleasantries. Answer with the summary only.';
/** Most output tokens of a summary. */
const SUMMARY_MAX_TOKENS = 1_024;
/** The budget refused a summarising call: the fit ends with `budget_exceeded`. */
class SummaryRefused extends Error {
  override readonly name = 'SummaryRefused';
}

/**
 * The result of fitting: the messages to send, and whether they were counted (their upper bound
 * was over the limit); or why they cannot be sent (no strategy brought the prompt under the
 * limit, or the budget refused a summarising call).
 */
export type Fit =
  | { fits: true; messages: Message[]; counted: boolean }
  | { fits: false; stopReason: 'context_overflow' | 'budget_exceeded' };

function strategiesOf(agent: Agent): (CompressionStrategy | 'refuse')[] {
  return (agent.budget.contextStrategy ?? DEFAULT_STRATEGIES).map((s) =>
    typeof s === 'string' ? (s === 'refuse' ? 'refuse' : (BUILT_IN_STRATEGIES[s] as CompressionStrategy)) : s,
  );
}

/**
 * Counts the call's prompt and, when it is over `limit`, runs the agent's strategies in order
 * until it fits. A prompt whose upper bound is within the limit fits without being counted.
 * @param counter counts prompts of this run's requests
 * @returns the messages to send; the request's own when it fits as it is.
 * @throws what a strategy throws.
 */
export async function fitContext(ctx: ModelCallContext, request: ModelRequest, limit: number, counter: TokenCounter): Promise<Fit> {
  const bound = counter.upperBound(request);
  if (bound !== undefined && bound <= limit) return { fits: true, messages: request.messages, counted: false };
  const { run, step } = ctx;
  const count = (messages: readonly Message[]) => counter.count({ system: request.system, tools: request.tools, messages: [...messages] });
  let messages = request.messages;
  let tokens = count(messages);
  for (const strategy of strategiesOf(run.agent)) {
    if (tokens <= limit) break;
    const name = strategy === 'refuse' ? 'refuse' : strategy.name;
    const compression = { run, step, strategy: name, messages, tokensBefore: tokens, limit };
    try {
      const outcome = await run.compress(compression, async () => {
        if (strategy === 'refuse') return { messages, tokensAfter: tokens };
        const compressed = await strategy.compress({
          messages,
          limit,
          count,
          signal: run.signal ?? NEVER_ABORTED,
          summarize: (older) => summarize(ctx, compression, older),
        });
        return { messages: compressed, tokensAfter: count(compressed) };
      });
      messages = outcome.messages;
      tokens = outcome.tokensAfter;
    } catch (error) {
      if (error instanceof SummaryRefused) return { fits: false, stopReason: 'budget_exceeded' };
      throw error;
    }
    if (strategy === 'refuse') break;
  }
  return tokens <= limit ? { fits: true, messages, counted: true } : { fits: false, stopReason: 'context_overflow' };
}

/** A summarising model call through the whole chain, under the compression that asked for it. */
async function summarize(ctx: ModelCallContext, compression: ModelCallContext['compression'], older: readonly Message[]): Promise<string> {
  const request: ModelRequest = {
    system: SUMMARY_INSTRUCTIONS,
    messages: [{ role: 'user', content: transcript(older) }],
    tools: [],
    maxOutputTokens: SUMMARY_MAX_TOKENS,
  };
  if (ctx.run.signal) request.signal = ctx.run.signal;
  // The agent's model (a fallback() falls back for a summary too), whichever model the step is trying.
  const outcome = await ctx.run.callModel({ run: ctx.run, step: ctx.step, purpose: 'summary', model: ctx.run.agent.model, compression, request, attempts: 0 });
  if (outcome.kind === 'refused') throw new SummaryRefused('the budget refused the summarising call');
  return outcome.response.text;
}
