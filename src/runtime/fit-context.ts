/** Fitting a prompt into the budget's `contextTokens`, traced as a `compress_context` span. */
import type { Agent } from '../agent.js';
import { tokenCounterFor } from '../budget/tokens.js';
import type { Message } from '../messages.js';
import type { ModelRequest } from '../providers/model.js';
import { ATTR, OPERATION, SPAN_NAME } from '../tracing/attributes.js';
import { openSpan, recordError, setAttributes, type OpenSpan } from '../tracing/span.js';
import { BUILT_IN_STRATEGIES, DEFAULT_STRATEGIES, transcript, type CompressionStrategy } from '../budget/compress.js';
import { guardedCall } from './model-call.js';
import type { RunScope } from './scope.js';

/** The system prompt of a summarising call. */
const SUMMARY_INSTRUCTIONS =
  'Summarize the conversation below so an assistant can continue it: keep every fact, number, decision, ' +
  'tool result and open question that may matter; drop pleasantries. Answer with the summary only.';
/** Most output tokens of a summary. */
const SUMMARY_MAX_TOKENS = 1_024;

/** The budget refused a summarising call: the run stops with `budget_exceeded`. */
export class SummaryRefused extends Error {
  override readonly name = 'SummaryRefused';
}

/** The result of fitting: the messages to send, or an overflow that no strategy could fix. */
export type Fit = { fits: true; messages: Message[] } | { fits: false; tokens: number };

function strategiesOf(agent: Agent): (CompressionStrategy | 'refuse')[] {
  return (agent.budget.contextStrategy ?? DEFAULT_STRATEGIES).map((s) =>
    typeof s === 'string' ? (s === 'refuse' ? 'refuse' : (BUILT_IN_STRATEGIES[s] as CompressionStrategy)) : s,
  );
}

/**
 * Counts the prompt and, when it is over `contextTokens`, runs the policy's strategies in order
 * until it fits, in a `compress_context` span under the step.
 * @throws {SummaryRefused} when the budget refuses a summarising call; what a strategy throws.
 */
export async function fitContext(agent: Agent, request: ModelRequest, stepIndex: number, step: OpenSpan, scope: RunScope): Promise<Fit> {
  const limit = agent.budget.contextTokens;
  const counter = scope.counter;
  if (limit === undefined || !counter) return { fits: true, messages: request.messages };
  const count = (messages: readonly Message[]) => counter.count({ system: request.system, tools: request.tools, messages: [...messages] });
  const before = count(request.messages);
  if (before <= limit) return { fits: true, messages: request.messages };

  const span = openSpan(scope.tracer, {
    name: SPAN_NAME.compress(),
    parent: step.context,
    attributes: () => ({
      [ATTR.operation]: OPERATION.compressContext,
      [ATTR.agentName]: agent.name,
      [ATTR.contextTokensBefore]: before,
      [ATTR.contextLimit]: limit,
      [ATTR.contextMessagesBefore]: request.messages.length,
    }),
  });
  const used: string[] = [];
  let messages = request.messages;
  let tokens = before;
  try {
    for (const strategy of strategiesOf(agent)) {
      if (tokens <= limit) break;
      if (strategy === 'refuse') {
        used.push('refuse');
        break;
      }
      used.push(strategy.name);
      await scope.hooks.beforeCompress?.({ agent, step: stepIndex, strategy: strategy.name, tokens, limit });
      const tokensBefore = tokens;
      messages = await strategy.compress({
        messages,
        limit,
        count,
        signal: scope.signal,
        summarize: (older) => summarize(agent, older, stepIndex, span, scope),
      });
      tokens = count(messages);
      await scope.hooks.afterCompress?.({ agent, step: stepIndex, strategy: strategy.name, tokensBefore, tokensAfter: tokens, limit });
    }
    setAttributes(span.span, () => ({
      [ATTR.contextTokensAfter]: tokens,
      [ATTR.contextStrategy]: used.join(','),
      [ATTR.contextMessagesAfter]: messages.length,
    }));
    return tokens <= limit ? { fits: true, messages } : { fits: false, tokens };
  } catch (error) {
    setAttributes(span.span, () => ({ [ATTR.contextStrategy]: used.join(',') }));
    recordError(span.span, error, scope.capture);
    throw error;
  } finally {
    span.span.end();
  }
}

async function summarize(agent: Agent, older: readonly Message[], stepIndex: number, parent: OpenSpan, scope: RunScope): Promise<string> {
  const request: ModelRequest = {
    system: SUMMARY_INSTRUCTIONS,
    messages: [{ role: 'user', content: transcript(older) }],
    tools: [],
    maxOutputTokens: SUMMARY_MAX_TOKENS,
    signal: scope.signal,
  };
  // Its own counter: a tool-less summary prompt must not correct the conversation's counts.
  const counter = scope.counter ? tokenCounterFor(agent.model) : undefined;
  const call = await guardedCall(agent.model, request, stepIndex, parent, { ...scope, counter });
  if (call.refused) throw new SummaryRefused('the budget refused the summarising call');
  return call.response.text;
}
