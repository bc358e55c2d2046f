/**
 * The attributes of each tracebound span, computed from plain run data. One module, so what each
 * span carries (names in attributes.ts) can be read in one place. Callers compute these only
 * when the span is recording.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Message, ToolCall, Usage } from '../messages.js';
import type { CallCost } from '../pricing/price.js';
import { spendWindows, type BudgetPolicy } from '../budget/policy.js';
import type { FinishReason, Model, ModelRequest, ModelResponse, ToolDefinition } from '../providers/model.js';
import type { RunEvent } from '../runtime/events.js';
import type { RunState } from '../runtime/run-state.js';
import { ATTR, EVENT, EVENT_ATTR, OPERATION } from './attributes.js';

/**
 * Whether message content goes into spans, and how it is redacted first. `redact` gets each
 * content attribute's JSON value and its attribute name, and returns what to record.
 */
export interface ContentCapture {
  enabled: boolean;
  redact?: (value: string, attribute: string) => string;
}

/**
 * What goes on spans beyond the conventions' own attributes: content (when captured) and
 * Langfuse's `langfuse.*` keys (only when the Langfuse exporter is on: nothing else reads them).
 */
export interface SpanRecording extends ContentCapture {
  langfuse: boolean;
}

/** Adds a content attribute (JSON), redacted, only when content capture is on. */
function putContent(attrs: Attributes, capture: ContentCapture, attribute: string, value: () => unknown): void {
  if (!capture.enabled) return;
  const raw = value();
  const json = typeof raw === 'string' ? raw : JSON.stringify(raw);
  attrs[attribute] = capture.redact ? capture.redact(json, attribute) : json;
}

/** A tool call as a semconv message part. */
function toolCallPart(call: ToolCall) {
  return { type: 'tool_call', id: call.id, name: call.name, arguments: call.arguments };
}

/**
 * Messages in the semconv `gen_ai.input.messages` shape: `[{ role, parts: [...] }]` with parts
 * `text`, `tool_call` and `tool_call_response`.
 */
export function semconvMessages(messages: readonly Message[]): unknown[] {
  return messages.map((m) => {
    switch (m.role) {
      case 'system':
      case 'user':
        return { role: m.role, parts: [{ type: 'text', content: m.content }] };
      case 'assistant':
        return {
          role: 'assistant',
          parts: [
            ...(m.content ? [{ type: 'text', content: m.content }] : []),
            ...(m.toolCalls ?? []).map(toolCallPart),
          ],
        };
      case 'tool':
        return { role: 'tool', parts: [{ type: 'tool_call_response', id: m.toolCallId, response: m.content }] };
    }
  });
}

// Attributes are built by assignment, not object spread: spreads of computed keys cost
// microseconds each on Node 20, and these run for every span (see bench/overhead.ts).

/**
 * Adds the `gen_ai.usage.*` token attributes: input and output always, the cache and reasoning
 * counts only when not zero (an absent count is zero; writing zeros costs every span).
 */
export function putUsage(attrs: Attributes, usage: Usage): Attributes {
  attrs[ATTR.usageInputTokens] = usage.inputTokens;
  attrs[ATTR.usageOutputTokens] = usage.outputTokens;
  if (usage.cacheReadTokens) attrs[ATTR.usageCacheReadTokens] = usage.cacheReadTokens;
  if (usage.cacheWriteTokens) attrs[ATTR.usageCacheCreationTokens] = usage.cacheWriteTokens;
  if (usage.reasoningTokens) attrs[ATTR.usageReasoningTokens] = usage.reasoningTokens;
  return attrs;
}

/**
 * Adds a model call's cost attributes (`gen_ai.usage.cost.*`, proposal PR #443, whose latest draft
 * puts them on model-call spans only); none when the price is unknown.
 */
function putCallCost(attrs: Attributes, cost: CallCost | undefined): void {
  if (!cost) return;
  attrs[ATTR.costAmount] = cost.usd;
  attrs[ATTR.costCurrency] = 'USD';
  attrs[ATTR.costSource] = cost.source;
  attrs[ATTR.priceTableVersion] = cost.priceTableVersion;
}

/**
 * Langfuse's generation usage and cost. `usage_details` splits input into uncached, cache read and
 * cache write, and output into visible and reasoning (`output_reasoning_tokens`, the key Langfuse's
 * own OpenTelemetry mapping gives `gen_ai.usage.reasoning.output_tokens`), so each token is counted
 * once; `total` is given so Langfuse does not infer it.
 */
function putLangfuseUsage(attrs: Attributes, usage: Usage, cost: CallCost | undefined): void {
  // Written by hand: JSON.stringify of these small objects costs more than the rest of the span.
  const uncached = usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens;
  attrs[ATTR.langfuseUsageDetails] =
    `{"input":${uncached},"input_cache_read":${usage.cacheReadTokens},"input_cache_creation":${usage.cacheWriteTokens},` +
    `"output":${usage.outputTokens - usage.reasoningTokens},"output_reasoning_tokens":${usage.reasoningTokens},` +
    `"total":${usage.inputTokens + usage.outputTokens}}`;
  if (cost) attrs[ATTR.langfuseCostDetails] = `{"input":${cost.inputUsd},"output":${cost.outputUsd},"total":${cost.usd}}`;
}

/** Who a span belongs to: set on every span (`gen_ai.agent.name`, `gen_ai.conversation.id`). */
export interface SpanOwner {
  agentName: string;
  conversationId?: string;
}

function putOwner(attrs: Attributes, owner: SpanOwner): void {
  attrs[ATTR.agentName] = owner.agentName;
  if (owner.conversationId) attrs[ATTR.conversationId] = owner.conversationId;
}

/** Start attributes of the run span `invoke_agent {agent}`. */
export function runAttributes(
  run: SpanOwner & { agentId?: string; model: Model; input: string | readonly Message[] },
  rec: SpanRecording,
): Attributes {
  const attrs: Attributes = {};
  attrs[ATTR.operationName] = OPERATION.invokeAgent;
  putOwner(attrs, run);
  if (run.agentId) attrs[ATTR.agentId] = run.agentId;
  attrs[ATTR.providerName] = run.model.provider;
  attrs[ATTR.requestModel] = run.model.modelId;
  if (rec.langfuse) {
    if (run.conversationId) attrs[ATTR.langfuseSessionId] = run.conversationId;
    attrs[ATTR.langfuseTraceName] = run.agentName;
    attrs[ATTR.langfuseObservationType] = 'agent';
  }
  if (rec.enabled) {
    // Replay reads the input back from the semconv messages; Langfuse 4 shows its trace's input
    // from the root observation's, so the same messages go there.
    putContent(attrs, rec, ATTR.inputMessages, () => runInputMessages(run.input));
    if (rec.langfuse) attrs[ATTR.langfuseObservationInput] = attrs[ATTR.inputMessages];
  }
  return attrs;
}

/** The run's input as semconv messages: a user message for a string, else the conversation. */
function runInputMessages(input: string | readonly Message[]): unknown[] {
  return semconvMessages(typeof input === 'string' ? [{ role: 'user', content: input }] : input);
}

/**
 * End attributes of the run span: totals, cost (`tracebound.run.cost_usd`, USD, absent when a call
 * was unpriced), counts, stop reason, the step/tool limits and, with content capture, the output.
 */
export function runEndAttributes(
  end: {
    usage: Usage;
    /** The run's USD; `undefined` when a call had no known price or no call was made. */
    costUsd: number | undefined;
    steps: number;
    toolCalls: number;
    stopReason: string;
    output?: string;
    maxSteps?: number;
    maxToolCalls?: number;
  },
  rec: SpanRecording,
): Attributes {
  const attrs = putUsage({}, end.usage);
  if (end.costUsd !== undefined) attrs[ATTR.runCostUsd] = end.costUsd;
  attrs[ATTR.steps] = end.steps;
  attrs[ATTR.toolCalls] = end.toolCalls;
  attrs[ATTR.stopReason] = end.stopReason;
  if (end.maxSteps !== undefined) attrs[ATTR.budgetMaxSteps] = end.maxSteps;
  if (end.maxToolCalls !== undefined) attrs[ATTR.budgetMaxToolCalls] = end.maxToolCalls;
  if (end.output !== undefined && rec.enabled) {
    // The run's answer as semconv output messages (replay reads it back), and for Langfuse on the
    // observation itself.
    putContent(attrs, rec, ATTR.outputMessages, () => [{ role: 'assistant', parts: [{ type: 'text', content: end.output }], finish_reason: 'stop' }]);
    if (rec.langfuse) putContent(attrs, rec, ATTR.langfuseObservationOutput, () => end.output);
  }
  return attrs;
}

/** Attributes of a `step {n}` span. */
export function stepAttributes(index: number, owner: SpanOwner): Attributes {
  const attrs: Attributes = {};
  attrs[ATTR.operation] = OPERATION.step;
  attrs[ATTR.stepIndex] = index;
  putOwner(attrs, owner);
  return attrs;
}

/** Request attributes of a `chat {model}` span. */
export function chatRequestAttributes(
  model: Model,
  request: ModelRequest,
  owner: SpanOwner,
  streaming: boolean,
  rec: SpanRecording,
): Attributes {
  const attrs: Attributes = {};
  attrs[ATTR.operationName] = OPERATION.chat;
  putOwner(attrs, owner);
  attrs[ATTR.providerName] = model.provider;
  attrs[ATTR.requestModel] = model.modelId;
  if (streaming) attrs[ATTR.requestStream] = true;
  if (request.maxOutputTokens !== undefined) attrs[ATTR.requestMaxTokens] = request.maxOutputTokens;
  if (request.temperature !== undefined) attrs[ATTR.requestTemperature] = request.temperature;
  if (model.server) {
    attrs[ATTR.serverAddress] = model.server.address;
    if (model.server.port !== undefined) attrs[ATTR.serverPort] = model.server.port;
  }
  if (rec.langfuse) {
    attrs[ATTR.langfuseObservationType] = 'generation';
    attrs[ATTR.langfuseModelName] = model.modelId;
  }
  if (request.system) putContent(attrs, rec, ATTR.systemInstructions, () => [{ type: 'text', content: request.system }]);
  putContent(attrs, rec, ATTR.inputMessages, () => semconvMessages(request.messages));
  if (request.tools.length) putContent(attrs, rec, ATTR.toolDefinitions, () => toolDefinitions(request.tools));
  return attrs;
}

function toolDefinitions(tools: readonly ToolDefinition[]): unknown[] {
  return tools.map((t) => ({ type: 'function', name: t.name, description: t.description, parameters: t.parameters }));
}

/** Response attributes of a `chat {model}` span: id, model, finish reason, usage, cost, retries. */
export function chatResponseAttributes(
  response: ModelResponse,
  cost: CallCost | undefined,
  retries: number,
  rec: SpanRecording,
): Attributes {
  const attrs: Attributes = {};
  if (response.id) attrs[ATTR.responseId] = response.id;
  if (response.model) attrs[ATTR.responseModel] = response.model;
  attrs[ATTR.responseFinishReasons] = [response.finishReason];
  putCallCost(putUsage(attrs, response.usage), cost);
  if (rec.langfuse) putLangfuseUsage(attrs, response.usage, cost);
  if (retries > 0) attrs[ATTR.retryAttempts] = retries;
  putContent(attrs, rec, ATTR.outputMessages, () => [
    {
      role: 'assistant',
      parts: [
        // Reasoning first, as the model produced it; a redacted block has no text to show.
        ...(response.reasoning ?? []).filter((r) => r.redacted === undefined).map((r) => ({ type: 'reasoning', content: r.text })),
        ...(response.text ? [{ type: 'text', content: response.text }] : []),
        ...response.toolCalls.map(toolCallPart),
      ],
      finish_reason: semconvFinishReason(response.finishReason),
    },
  ]);
  return attrs;
}

/**
 * A finish reason as the semconv output messages schema spells it (`FinishReason`: `stop`,
 * `length`, `content_filter`, `tool_call`, `error`); tracebound's `tool_calls` is `tool_call`
 * there. Other values pass through, as the schema allows any string.
 */
export function semconvFinishReason(reason: FinishReason): string {
  return reason === 'tool_calls' ? 'tool_call' : reason;
}

/**
 * Attributes for a streamed call's first chunk: the time to it in seconds
 * (`gen_ai.response.time_to_first_chunk`) and when it came as an ISO 8601 string, the form
 * Langfuse's ingestion parses (`langfuse.observation.completion_start_time`).
 * @param seconds seconds from the call's start to its first chunk
 * @param at when the first chunk came (ms since the epoch)
 */
export function firstChunkAttributes(seconds: number, at: number, rec: SpanRecording): Attributes {
  const attrs: Attributes = {};
  attrs[ATTR.responseTimeToFirstChunk] = seconds;
  if (rec.langfuse) attrs[ATTR.langfuseCompletionStartTime] = new Date(at).toISOString();
  return attrs;
}

/** Start attributes of an `execute_tool {tool}` span. */
export function toolAttributes(
  call: ToolCall,
  tool: { description: string; timeoutMs?: number } | undefined,
  owner: SpanOwner,
  rec: SpanRecording,
): Attributes {
  const attrs: Attributes = {};
  attrs[ATTR.operationName] = OPERATION.executeTool;
  putOwner(attrs, owner);
  attrs[ATTR.toolName] = call.name;
  attrs[ATTR.toolCallId] = call.id;
  attrs[ATTR.toolType] = 'function';
  if (tool) attrs[ATTR.toolDescription] = tool.description;
  if (tool?.timeoutMs !== undefined) attrs[ATTR.toolTimeoutMs] = tool.timeoutMs;
  if (rec.langfuse) attrs[ATTR.langfuseObservationType] = 'tool';
  putContent(attrs, rec, ATTR.toolCallArguments, () => call.arguments);
  return attrs;
}

/** The tool result attribute (content capture only) and the call's price in USD, when it has one. */
export function toolResultAttributes(result: string, costUsd: number | undefined, capture: ContentCapture): Attributes {
  const attrs: Attributes = {};
  if (costUsd !== undefined) attrs[ATTR.toolCostUsd] = costUsd;
  putContent(attrs, capture, ATTR.toolCallResult, () => result);
  return attrs;
}

/** The budget attributes of the run span: limit, spent and remaining of each scope the policy sets. */
export function budgetAttributes(policy: BudgetPolicy, state: Pick<RunState, 'totals' | 'budget'>): Attributes {
  const attrs: Attributes = {};
  if (policy.runCostUsd !== undefined) {
    attrs[ATTR.budgetRunCostLimit] = policy.runCostUsd;
    attrs[ATTR.budgetRunCostSpent] = state.totals.costUsd;
    attrs[ATTR.budgetRunCostRemaining] = Math.max(0, policy.runCostUsd - state.totals.costUsd);
  }
  // The agent's own window (`per: 'agent'`); tenant and user windows show in the budget events.
  const window = state.budget.window;
  const spend = spendWindows(policy).find((w) => (w.per ?? 'agent') === 'agent');
  if (spend && window) {
    attrs[ATTR.budgetSpendLimit] = spend.usd;
    attrs[ATTR.budgetSpendSpent] = window.spentUsd;
    attrs[ATTR.budgetSpendRemaining] = Math.max(0, spend.usd - window.spentUsd - window.reservedUsd);
    attrs[ATTR.budgetSpendWindow] = spend.window;
  }
  if (policy.contextTokens !== undefined) {
    attrs[ATTR.budgetContextLimit] = policy.contextTokens;
    attrs[ATTR.budgetContextPeak] = state.budget.peakPromptTokens;
  }
  return attrs;
}

/** The span event of a run event that has one (budget decisions, settlements, store errors, retries). */
export function eventOf(event: RunEvent): { name: string; attributes: Attributes } | undefined {
  switch (event.type) {
    case 'budget-check': {
      const recorded = {
        name: EVENT.budgetCheck,
        attributes: {
          [EVENT_ATTR.scope]: event.scope,
          [EVENT_ATTR.limit]: event.limit,
          [EVENT_ATTR.spent]: event.spent,
          [EVENT_ATTR.reserved]: event.reserved,
          [EVENT_ATTR.remaining]: event.remaining,
          [EVENT_ATTR.decision]: event.decision,
          [EVENT_ATTR.requestedUsd]: event.requestedUsd,
          [EVENT_ATTR.grantedUsd]: event.grantedUsd,
          [EVENT_ATTR.maxOutputTokens]: event.maxOutputTokens,
        } as Attributes,
      };
      if (event.toolCallId !== undefined) recorded.attributes[EVENT_ATTR.toolCallId] = event.toolCallId;
      return recorded;
    }
    case 'budget-settle': {
      const attributes: Attributes = { [EVENT_ATTR.scope]: event.scope, [EVENT_ATTR.reserved]: event.reserved, [EVENT_ATTR.actual]: event.actual };
      if (event.toolCallId !== undefined) attributes[EVENT_ATTR.toolCallId] = event.toolCallId;
      return { name: EVENT.budgetSettle, attributes };
    }
    case 'budget-store-error': {
      const attributes: Attributes = { [EVENT_ATTR.errorType]: event.errorType, [EVENT_ATTR.policy]: event.policy };
      if (event.unsettledUsd !== undefined) attributes[EVENT_ATTR.unsettledUsd] = event.unsettledUsd;
      return { name: EVENT.budgetStoreError, attributes };
    }
    case 'retry':
      return {
        name: EVENT.retry,
        attributes: {
          [EVENT_ATTR.attempt]: event.attempt,
          [EVENT_ATTR.errorType]: event.error.kind,
          [EVENT_ATTR.errorMessage]: event.error.message,
          [EVENT_ATTR.delayMs]: event.delayMs,
        },
      };
    default:
      return undefined;
  }
}

/** The event on a chat span whose model has no known price. */
export function priceUnknownEvent(model: Model): { name: string; attributes: Attributes } {
  return { name: EVENT.priceUnknown, attributes: { [EVENT_ATTR.provider]: model.provider, [EVENT_ATTR.model]: model.modelId } };
}
