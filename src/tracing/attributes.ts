/**
 * Every span, attribute and event name tracebound writes; nothing else spells them.
 *
 * Sources:
 * - OpenTelemetry GenAI semantic conventions, checked against `@opentelemetry/semantic-conventions`
 *   1.45 (incubating entry point), where all `gen_ai.*` names below are defined. Most are in
 *   "development" status; they are copied here rather than imported, as the semconv package
 *   advises for incubating names.
 * - Cost: the open semconv proposal `gen_ai.usage.cost.*` (semantic-conventions-genai PR #443),
 *   whose latest draft puts it on model-call spans only; a run's total is `tracebound.run.cost_usd`
 *   so no backend adds it to its model calls' costs.
 * - Langfuse: its OpenTelemetry attribute mapping (langfuse.com/integrations/native/opentelemetry;
 *   `LangfuseOtelSpanAttributes` in langfuse/langfuse `packages/shared/src/server/otel/attributes.ts`),
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
  /** The content type asked for: `json` on a typed agent's calls (semconv `gen_ai.output.type`). */
  outputType: 'gen_ai.output.type',
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
  /** The run's total cost in USD (its model calls'), on the run span only. */
  runCostUsd: 'tracebound.run.cost_usd',
  /** On a sub-run's span (`agent.asTool()`): the `tracebound.run.id` of the run whose tool call started it. */
  parentRunId: 'tracebound.parent.run.id',

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
  /** The `exception` event's message and stack (OTel exception conventions), the names `redact` gets them under. */
  exceptionMessage: 'exception.message',
  exceptionStacktrace: 'exception.stacktrace',
  serverAddress: 'server.address',
  serverPort: 'server.port',

  operation: 'tracebound.operation',
  priceTableVersion: 'tracebound.price_table.version',
  steps: 'tracebound.steps',
  toolCalls: 'tracebound.tool_calls',
  stopReason: 'tracebound.stop_reason',
  /**
   * A guardrail check (on its `guardrail {name}` span) and, on the run span of a run it stopped
   * (`stop_reason` `guardrail`), the one that failed: its name, stage (`input` | `output`),
   * result (`pass` | `fail`, check spans only) and the reason it gave.
   */
  guardrailName: 'tracebound.guardrail.name',
  guardrailStage: 'tracebound.guardrail.stage',
  guardrailResult: 'tracebound.guardrail.result',
  guardrailReason: 'tracebound.guardrail.reason',
  stepIndex: 'tracebound.step.index',
  stepFinish: 'tracebound.step.finish',
  contextUtilization: 'tracebound.context.utilization',
  retryAttempts: 'tracebound.retry.attempts',
  runId: 'tracebound.run.id',
  /** On the run span: the tenant the run is for (run option `tenant`). */
  tenant: 'tracebound.tenant',
  /** On the run span: the user the run is for (run option `user`; OpenTelemetry semconv `user.id`). */
  userId: 'user.id',
  /** On a resumed run's span: the first step that part takes (the interrupted step, or the one after the last checkpoint). */
  resumeFromStep: 'tracebound.resume.from_step',
  /** On the tool span of a call that needed approval: `approved` | `denied`. */
  approval: 'tracebound.approval',
  stepLastCallReason: 'tracebound.step.last_call_reason',
  toolTimeoutMs: 'tracebound.tool.timeout_ms',
  /** On a tool span: what the call cost in USD (the tool's `costUsd`), counted in the run's cost. */
  toolCostUsd: 'tracebound.tool.cost_usd',
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
  /** Messages a `load_conversation` span loaded, or a `save_conversation` span saved. */
  conversationMessages: 'tracebound.conversation.messages',
  /** The store a state operation used: `memory`, `sqlite`, `redis` or a custom name. */
  store: 'tracebound.store',
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
  /**
   * Where older tracebound recordings kept the run's input; no longer written (Langfuse 4 takes a
   * trace's input from its root observation), only read to say why such a recording cannot replay.
   */
  langfuseTraceInput: 'langfuse.trace.input',
  langfuseSessionId: 'langfuse.session.id',
  langfuseObservationType: 'langfuse.observation.type',
  langfuseObservationInput: 'langfuse.observation.input',
  langfuseObservationOutput: 'langfuse.observation.output',
  /** ISO 8601 time of a streamed generation's first chunk (Langfuse's `completionStartTime`). */
  langfuseCompletionStartTime: 'langfuse.observation.completion_start_time',
  langfuseModelName: 'langfuse.observation.model.name',
  langfuseUsageDetails: 'langfuse.observation.usage_details',
  langfuseCostDetails: 'langfuse.observation.cost_details',
} as const;

/**
 * Span attributes typed `double`: by the semconv registry (`gen_ai.request.temperature`,
 * `gen_ai.response.time_to_first_chunk`, the cost amount of PR #443) or by tracebound (USD amounts,
 * utilization). A whole-number value of these (a temperature of 1, a cost of 0) must still be
 * exported as an OTLP `doubleValue`, which the OpenTelemetry serializers do not do on their own
 * (they type a JS number by whether it is an integer): see telemetry/otlp-doubles.ts.
 */
export const DOUBLE_ATTRIBUTES: ReadonlySet<string> = new Set<string>([
  ATTR.requestTemperature,
  ATTR.responseTimeToFirstChunk,
  ATTR.costAmount,
  ATTR.runCostUsd,
  ATTR.contextUtilization,
  ATTR.budgetRunCostLimit,
  ATTR.budgetRunCostSpent,
  ATTR.budgetRunCostRemaining,
  ATTR.budgetSpendLimit,
  ATTR.budgetSpendSpent,
  ATTR.budgetSpendRemaining,
]);

/** `gen_ai.operation.name` values (semconv) and tracebound's own `tracebound.operation` values. */
export const OPERATION = {
  invokeAgent: 'invoke_agent',
  chat: 'chat',
  executeTool: 'execute_tool',
  step: 'step',
  compressContext: 'compress_context',
  guardrail: 'guardrail',
  loadConversation: 'load_conversation',
  saveConversation: 'save_conversation',
} as const;

/** Span event names. */
export const EVENT = {
  budgetCheck: 'tracebound.budget.check',
  budgetSettle: 'tracebound.budget.settle',
  budgetStoreError: 'tracebound.budget.store_error',
  retry: 'tracebound.retry',
  priceUnknown: 'tracebound.price.unknown',
  /** A decision on a tool call awaiting approval, on the resumed run's span. */
  approval: 'tracebound.approval',
  /** A typed agent's answer failed its schema and goes back to the model once, on the step span. */
  outputInvalid: 'tracebound.output.invalid',
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
  /** `tracebound.approval`'s tool call (`gen_ai.tool.call.id`), decision (boolean) and the approver's reason. */
  toolCallId: 'tool_call_id',
  approved: 'approved',
  reason: 'reason',
} as const;

/** `tracebound.approval` values on a tool span. */
export const APPROVAL = { approved: 'approved', denied: 'denied' } as const;

/** Event attributes typed `double`, per event: the USD amounts of the budget events. */
export const DOUBLE_EVENT_ATTRIBUTES: ReadonlyMap<string, ReadonlySet<string>> = new Map<string, ReadonlySet<string>>([
  [
    EVENT.budgetCheck,
    new Set<string>([EVENT_ATTR.limit, EVENT_ATTR.spent, EVENT_ATTR.reserved, EVENT_ATTR.remaining, EVENT_ATTR.requestedUsd, EVENT_ATTR.grantedUsd]),
  ],
  [EVENT.budgetSettle, new Set<string>([EVENT_ATTR.reserved, EVENT_ATTR.actual])],
]);

/** Span names: `invoke_agent {agent}`, `step {n}`, `chat {model}`, `execute_tool {tool}`, `compress_context`, ... */
export const SPAN_NAME = {
  run: (agentName: string) => `${OPERATION.invokeAgent} ${agentName}`,
  step: (index: number) => `step ${index}`,
  chat: (model: string) => `${OPERATION.chat} ${model}`,
  tool: (toolName: string) => `${OPERATION.executeTool} ${toolName}`,
  compress: () => OPERATION.compressContext,
  /** One guardrail check. */
  guardrail: (name: string) => `${OPERATION.guardrail} ${name}`,
  loadConversation: () => OPERATION.loadConversation,
  saveConversation: () => OPERATION.saveConversation,
  /** One delivery attempt of an outcome to an output (`deliver webhook`). */
  deliver: (output: string) => `deliver ${output}`,
  /** A message `serve` rejected before running it (`invalid_input http`). */
  invalidInput: (source: string) => `invalid_input ${source}`,
  /** An MCP client request: `{mcp.method.name} {target}`, e.g. `tools/call get-sum` (MCP semconv). */
  mcpCall: (method: string, target: string) => `${method} ${target}`,
} as const;

/**
 * Attributes of an MCP client span (`mcpTools()`), after the OpenTelemetry semantic conventions for
 * the Model Context Protocol (open-telemetry/semantic-conventions-genai `docs/gen-ai/mcp.md`, v0.1.0:
 * client span `{mcp.method.name} {target}`, kind CLIENT, `error.type` `tool_error` for an
 * `isError` result, `network.transport` `pipe` for stdio and `tcp` for HTTP, trace context in
 * `params._meta`; the attribute names are in `@opentelemetry/semantic-conventions` 1.45's
 * incubating entry point, development status). The tool's name is {@link ATTR}`.toolName`, an
 * error's class {@link ATTR}`.errorType`.
 */
export const MCP_ATTR = {
  methodName: 'mcp.method.name',
  sessionId: 'mcp.session.id',
  protocolVersion: 'mcp.protocol.version',
  jsonrpcRequestId: 'jsonrpc.request.id',
  /** `pipe` for stdio, `tcp` for HTTP (the semconv's guidance for MCP transports). */
  networkTransport: 'network.transport',
} as const;

/** MCP method names tracebound calls. */
export const MCP_METHOD = { toolsCall: 'tools/call' } as const;

/** The `error.type` of a call the server answered with `isError: true` (the semconv's value). */
export const MCP_ERROR_TYPE = { toolError: 'tool_error' } as const;

/** `network.transport` values of MCP's transports. */
export const MCP_TRANSPORT = { pipe: 'pipe', tcp: 'tcp' } as const;

/**
 * Metric instrument names. `gen_ai.client.*` are the OpenTelemetry GenAI client metrics
 * (semantic-conventions `docs/gen-ai/gen-ai-metrics.md`, development status, names also in
 * `@opentelemetry/semantic-conventions` 1.45's incubating entry point); `tracebound.*` are
 * tracebound's own.
 */
export const METRIC = {
  /** Histogram, `{token}`: tokens of each model call, one record per `gen_ai.token.type`. */
  tokenUsage: 'gen_ai.client.token.usage',
  /** Histogram, `s`: each model call's duration, its retries included (`error.type` when it failed). */
  operationDuration: 'gen_ai.client.operation.duration',
  /** Counter, `USD`: what model calls and costed tool calls cost, as on their spans (`gen_ai.usage.cost.amount`, `tracebound.tool.cost_usd`). */
  costUsage: 'tracebound.cost.usage',
  /**
   * Counter, `{decision}`: one per `tracebound.budget.check` event, i.e. per scope of a model or
   * costed tool call the budget lowered or refused (a call every scope allows whole is no event,
   * and not counted).
   */
  budgetDecisions: 'tracebound.budget.decisions',
} as const;

/** Metric attributes that are not span attributes ({@link ATTR} names are shared with spans). */
export const METRIC_ATTR = {
  /** `input` | `output` (semconv `gen_ai.token.type`). */
  tokenType: 'gen_ai.token.type',
  /** A budget decision: `allow` | `lower` | `refuse`. */
  budgetDecision: 'tracebound.budget.decision',
  /**
   * The budget scope that decided: `run` (`budget.runCostUsd`) | `spend` (an agent's spend window) |
   * `tenant` | `user` (a tenant's or user's spend window).
   */
  budgetScope: 'tracebound.budget.scope',
} as const;

/** `gen_ai.token.type` values (semconv). */
export const TOKEN_TYPE = { input: 'input', output: 'output' } as const;

/** The `tracebound.*` resource/scope name of tracebound's tracer. */
export const TRACER_NAME = 'tracebound';

/**
 * Resource attributes tracebound sets or reads: `service.name` is a stable OpenTelemetry name,
 * copied rather than imported from `@opentelemetry/semantic-conventions`, whose entry point
 * costs `import('tracebound')` seven modules for one string.
 */
export const RESOURCE_ATTR = {
  SERVICE_NAME: 'service.name',
} as const;
