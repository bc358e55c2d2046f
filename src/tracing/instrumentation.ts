/**
 * The attributes of each tracebound span, computed from plain run data. One module, so the span
 * catalogue of DESIGN.md and ATTRIBUTES.md can be read in one place. Callers compute these only
 * when the span is recording.
 */
import type { Attributes } from '@opentelemetry/api';
import type { Message, ToolCall, Usage } from '../messages.js';
import type { CallCost } from '../pricing/price.js';
import type { Model, ModelRequest, ModelResponse, ToolDefinition } from '../providers/model.js';
import { ATTR, OPERATION } from './attributes.js';

/**
 * Whether message content goes into spans, and how it is redacted first. `redact` gets each
 * content attribute's JSON value and its attribute name, and returns what to record.
 */
export interface ContentCapture {
  enabled: boolean;
  redact?: (value: string, attribute: string) => string;
}

function content(capture: ContentCapture, attribute: string, value: unknown): Attributes {
  if (!capture.enabled) return {};
  const json = typeof value === 'string' ? value : JSON.stringify(value);
  return { [attribute]: capture.redact ? capture.redact(json, attribute) : json };
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

/** The `gen_ai.usage.*` token attributes. */
export function usageAttributes(usage: Usage): Attributes {
  return {
    [ATTR.usageInputTokens]: usage.inputTokens,
    [ATTR.usageOutputTokens]: usage.outputTokens,
    [ATTR.usageCacheReadTokens]: usage.cacheReadTokens,
    [ATTR.usageCacheCreationTokens]: usage.cacheWriteTokens,
    [ATTR.usageReasoningTokens]: usage.reasoningTokens,
  };
}

/** Cost attributes (`gen_ai.usage.cost.*`, proposal PR #443); none at all when the price is unknown. */
export function costAttributes(cost: Pick<CallCost, 'usd' | 'source' | 'priceTableVersion'> | undefined): Attributes {
  if (!cost) return {};
  return {
    [ATTR.costAmount]: cost.usd,
    [ATTR.costCurrency]: 'USD',
    [ATTR.costSource]: cost.source,
    [ATTR.priceTableVersion]: cost.priceTableVersion,
  };
}

/**
 * Langfuse's generation usage and cost: `usage_details` splits input into uncached, cache read
 * and cache write (Langfuse sums the keys, so each token is counted once), and `total` is given
 * so Langfuse does not infer it.
 */
function langfuseUsage(usage: Usage, cost: CallCost | undefined): Attributes {
  const usageDetails = {
    input: usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens,
    input_cache_read: usage.cacheReadTokens,
    input_cache_creation: usage.cacheWriteTokens,
    output: usage.outputTokens,
    total: usage.inputTokens + usage.outputTokens,
  };
  return {
    [ATTR.langfuseUsageDetails]: JSON.stringify(usageDetails),
    ...(cost
      ? { [ATTR.langfuseCostDetails]: JSON.stringify({ input: cost.inputUsd, output: cost.outputUsd, total: cost.usd }) }
      : {}),
  };
}

/** Start attributes of the run span `invoke_agent {agent}`. */
export function runAttributes(
  run: { agentName: string; agentId?: string; model: Model; conversationId?: string; input: string },
  capture: ContentCapture,
): Attributes {
  return {
    [ATTR.operationName]: OPERATION.invokeAgent,
    [ATTR.agentName]: run.agentName,
    ...(run.agentId ? { [ATTR.agentId]: run.agentId } : {}),
    ...(run.conversationId
      ? { [ATTR.conversationId]: run.conversationId, [ATTR.langfuseSessionId]: run.conversationId }
      : {}),
    [ATTR.providerName]: run.model.provider,
    [ATTR.requestModel]: run.model.modelId,
    [ATTR.langfuseTraceName]: run.agentName,
    [ATTR.langfuseObservationType]: 'agent',
    ...content(capture, ATTR.langfuseTraceInput, run.input),
  };
}

/** End attributes of the run span: totals, cost, counts, stop reason and the step/tool limits. */
export function runEndAttributes(
  end: {
    usage: Usage;
    cost: { usd: number; source: 'provider' | 'local'; priceTableVersion: string } | undefined;
    steps: number;
    toolCalls: number;
    stopReason: string;
    output?: string;
    maxSteps: number;
    maxToolCalls?: number;
  },
  capture: ContentCapture,
): Attributes {
  return {
    ...usageAttributes(end.usage),
    ...costAttributes(end.cost),
    [ATTR.steps]: end.steps,
    [ATTR.toolCalls]: end.toolCalls,
    [ATTR.stopReason]: end.stopReason,
    [ATTR.budgetMaxSteps]: end.maxSteps,
    ...(end.maxToolCalls !== undefined ? { [ATTR.budgetMaxToolCalls]: end.maxToolCalls } : {}),
    ...(end.output !== undefined ? content(capture, ATTR.langfuseTraceOutput, end.output) : {}),
  };
}

/** Attributes of a `step {n}` span. */
export function stepAttributes(index: number, agentName: string): Attributes {
  return { [ATTR.operation]: OPERATION.step, [ATTR.stepIndex]: index, [ATTR.agentName]: agentName };
}

/** Request attributes of a `chat {model}` span. */
export function chatRequestAttributes(
  model: Model,
  request: ModelRequest,
  agentName: string,
  streaming: boolean,
  capture: ContentCapture,
): Attributes {
  return {
    [ATTR.operationName]: OPERATION.chat,
    [ATTR.agentName]: agentName,
    [ATTR.providerName]: model.provider,
    [ATTR.requestModel]: model.modelId,
    [ATTR.requestStream]: streaming,
    ...(request.maxOutputTokens !== undefined ? { [ATTR.requestMaxTokens]: request.maxOutputTokens } : {}),
    ...(request.temperature !== undefined ? { [ATTR.requestTemperature]: request.temperature } : {}),
    ...(model.server ? { [ATTR.serverAddress]: model.server.address } : {}),
    ...(model.server?.port !== undefined ? { [ATTR.serverPort]: model.server.port } : {}),
    [ATTR.langfuseObservationType]: 'generation',
    [ATTR.langfuseModelName]: model.modelId,
    ...(request.system
      ? content(capture, ATTR.systemInstructions, [{ type: 'text', content: request.system }])
      : {}),
    ...content(capture, ATTR.inputMessages, semconvMessages(request.messages)),
    ...(request.tools.length ? content(capture, ATTR.toolDefinitions, toolDefinitions(request.tools)) : {}),
  };
}

function toolDefinitions(tools: readonly ToolDefinition[]): unknown[] {
  return tools.map((t) => ({ type: 'function', name: t.name, description: t.description, parameters: t.parameters }));
}

/** Response attributes of a `chat {model}` span: id, model, finish reason, usage, cost. */
export function chatResponseAttributes(
  response: ModelResponse,
  cost: CallCost | undefined,
  capture: ContentCapture,
): Attributes {
  return {
    ...(response.id ? { [ATTR.responseId]: response.id } : {}),
    ...(response.model ? { [ATTR.responseModel]: response.model } : {}),
    [ATTR.responseFinishReasons]: [response.finishReason],
    ...usageAttributes(response.usage),
    ...costAttributes(cost),
    ...langfuseUsage(response.usage, cost),
    ...content(capture, ATTR.outputMessages, [
      {
        role: 'assistant',
        parts: [
          ...(response.text ? [{ type: 'text', content: response.text }] : []),
          ...response.toolCalls.map(toolCallPart),
        ],
        finish_reason: response.finishReason,
      },
    ]),
  };
}

/** Start attributes of an `execute_tool {tool}` span. */
export function toolAttributes(
  call: ToolCall,
  tool: { description: string; timeoutMs?: number } | undefined,
  agentName: string,
  capture: ContentCapture,
): Attributes {
  return {
    [ATTR.operationName]: OPERATION.executeTool,
    [ATTR.agentName]: agentName,
    [ATTR.toolName]: call.name,
    [ATTR.toolCallId]: call.id,
    [ATTR.toolType]: 'function',
    ...(tool ? { [ATTR.toolDescription]: tool.description } : {}),
    ...(tool?.timeoutMs !== undefined ? { [ATTR.toolTimeoutMs]: tool.timeoutMs } : {}),
    [ATTR.langfuseObservationType]: 'tool',
    ...content(capture, ATTR.toolCallArguments, call.arguments),
  };
}

/** The tool result attribute (content capture only). */
export function toolResultAttributes(result: string, capture: ContentCapture): Attributes {
  return content(capture, ATTR.toolCallResult, result);
}
