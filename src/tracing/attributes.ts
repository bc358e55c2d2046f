/**
 * Every span, attribute and event name tracebound writes; nothing else spells them.
 *
 * Sources:
 * - OpenTelemetry GenAI semantic conventions, checked against `@opentelemetry/semantic-conventions`
 *   1.45 (incubating entry point), where all `gen_ai.*` names below are defined. Most are in
 *   "development" status; they are copied here rather than imported, as the semconv package
 *   advises for incubating names.
 * - Cost: the open semconv proposal `gen_ai.usage.cost.*` (semantic-conventions-genai PR #443).
 * - Langfuse: its OpenTelemetry attribute mapping (langfuse.com/integrations/native/opentelemetry),
 *   which reads `langfuse.observation.*` and `langfuse.trace.*`.
 * - `error.type`, `server.address`, `server.port`: stable OpenTelemetry general attributes.
 */
export const ATTR = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  agentName: 'gen_ai.agent.name',
  agentId: 'gen_ai.agent.id',
  conversationId: 'gen_ai.conversation.id',

  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  requestTemperature: 'gen_ai.request.temperature',
  requestStream: 'gen_ai.request.stream',
  responseId: 'gen_ai.response.id',
  responseModel: 'gen_ai.response.model',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',

  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationTokens: 'gen_ai.usage.cache_creation.input_tokens',
  usageReasoningTokens: 'gen_ai.usage.reasoning.output_tokens',

  costAmount: 'gen_ai.usage.cost.amount',
  costCurrency: 'gen_ai.usage.cost.currency',
  costSource: 'gen_ai.usage.cost.source',

  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  toolDefinitions: 'gen_ai.tool.definitions',

  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  toolDescription: 'gen_ai.tool.description',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',

  errorType: 'error.type',
  serverAddress: 'server.address',
  serverPort: 'server.port',

  operation: 'tracebound.operation',
  priceTableVersion: 'tracebound.price_table.version',
  steps: 'tracebound.steps',
  toolCalls: 'tracebound.tool_calls',
  stopReason: 'tracebound.stop_reason',
  stepIndex: 'tracebound.step.index',
  stepFinish: 'tracebound.step.finish',
  contextUtilization: 'tracebound.context.utilization',
  retryAttempts: 'tracebound.retry.attempts',
  toolTimeoutMs: 'tracebound.tool.timeout_ms',
  budgetMaxSteps: 'tracebound.budget.max_steps.limit',
  budgetMaxToolCalls: 'tracebound.budget.max_tool_calls.limit',
  budgetRunCostLimit: 'tracebound.budget.run_cost_usd.limit',
  budgetRunCostSpent: 'tracebound.budget.run_cost_usd.spent',
  budgetRunCostRemaining: 'tracebound.budget.run_cost_usd.remaining',
  budgetSpendLimit: 'tracebound.budget.spend_usd.limit',
  budgetSpendSpent: 'tracebound.budget.spend_usd.spent',
  budgetSpendRemaining: 'tracebound.budget.spend_usd.remaining',
  budgetSpendWindow: 'tracebound.budget.spend_usd.window',
  budgetContextLimit: 'tracebound.budget.context_tokens.limit',
  budgetContextPeak: 'tracebound.budget.context_tokens.peak',
  contextTokensBefore: 'tracebound.context.tokens_before',
  contextTokensAfter: 'tracebound.context.tokens_after',
  contextLimit: 'tracebound.context.limit',
  contextStrategy: 'tracebound.context.strategy',
  contextMessagesBefore: 'tracebound.context.messages_before',
  contextMessagesAfter: 'tracebound.context.messages_after',
  contextPromptTokens: 'tracebound.context.prompt_tokens',
  replaySource: 'tracebound.replay.source',
  replayMode: 'tracebound.replay.mode',
  replayDifferences: 'tracebound.replay.differences',
  serveSource: 'tracebound.serve.source',
  serveMessageId: 'tracebound.serve.message_id',
  serveInvalidField: 'tracebound.serve.invalid_field',
  deliveryOutput: 'tracebound.delivery.output',
  deliveryAttempt: 'tracebound.delivery.attempt',
  httpRequestMethod: 'http.request.method',
  httpResponseStatusCode: 'http.response.status_code',
  urlFull: 'url.full',

  langfuseTraceName: 'langfuse.trace.name',
  langfuseTraceInput: 'langfuse.trace.input',
  langfuseTraceOutput: 'langfuse.trace.output',
  langfuseSessionId: 'langfuse.session.id',
  langfuseObservationType: 'langfuse.observation.type',
  langfuseModelName: 'langfuse.observation.model.name',
  langfuseUsageDetails: 'langfuse.observation.usage_details',
  langfuseCostDetails: 'langfuse.observation.cost_details',
} as const;

/** `gen_ai.operation.name` values (semconv) and tracebound's own `tracebound.operation` values. */
export const OPERATION = {
  invokeAgent: 'invoke_agent',
  chat: 'chat',
  executeTool: 'execute_tool',
  step: 'step',
  compressContext: 'compress_context',
} as const;

/** Span event names. */
export const EVENT = {
  budgetCheck: 'tracebound.budget.check',
  budgetSettle: 'tracebound.budget.settle',
  budgetStoreError: 'tracebound.budget.store_error',
  retry: 'tracebound.retry',
  priceUnknown: 'tracebound.price.unknown',
} as const;

/** Attribute keys of tracebound's span events. */
export const EVENT_ATTR = {
  scope: 'scope',
  limit: 'limit',
  spent: 'spent',
  reserved: 'reserved',
  remaining: 'remaining',
  decision: 'decision',
  requestedUsd: 'requested_usd',
  grantedUsd: 'granted_usd',
  maxOutputTokens: 'max_output_tokens',
  actual: 'actual',
  attempt: 'attempt',
  delayMs: 'delay_ms',
  errorType: 'error.type',
  errorMessage: 'error.message',
  /** `onStoreError` of a `tracebound.budget.store_error`: `closed` | `open`. */
  policy: 'policy',
  /** USD spent but not recorded in the spend window (a settle the store did not take). */
  unsettledUsd: 'unsettled_usd',
  model: 'model',
  provider: 'provider',
} as const;

/** Span names of the span catalogue (DESIGN.md). */
export const SPAN_NAME = {
  run: (agentName: string) => `${OPERATION.invokeAgent} ${agentName}`,
  step: (index: number) => `step ${index}`,
  chat: (model: string) => `${OPERATION.chat} ${model}`,
  tool: (toolName: string) => `${OPERATION.executeTool} ${toolName}`,
  compress: () => OPERATION.compressContext,
  /** One delivery attempt of an outcome to an output (`deliver webhook`). */
  deliver: (output: string) => `deliver ${output}`,
  /** A message `serve` rejected before running it (`invalid_input http`). */
  invalidInput: (source: string) => `invalid_input ${source}`,
} as const;

/** The `tracebound.*` resource/scope name of tracebound's tracer. */
export const TRACER_NAME = 'tracebound';
