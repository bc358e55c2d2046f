/** tracebound's public API. */
export { agent, type Agent, type AgentOptions, type AnswerOf, type OutputOf } from './agent.js';
export type { Guardrail, GuardrailInfo, Guardrails, GuardrailStage, GuardrailTrip, GuardrailVerdict } from './guardrail.js';
export { tool, type Tool, type ToolContext, type ToolOptions } from './tool.js';
export {
  addUsage,
  emptyUsage,
  type AssistantMessage,
  type Message,
  type ReasoningPart,
  type SystemMessage,
  type ToolCall,
  type ToolMessage,
  type Usage,
  type UserMessage,
} from './messages.js';
export {
  DefinitionError,
  OutputValidationError,
  RunAbortedError,
  RunError,
  ResumeError,
  RunInProgressError,
  RunLeaseLostError,
  RunNotFoundError,
  RunTimeoutError,
  type RunProgress,
  type StopReason,
} from './errors.js';
export type { BudgetPolicy } from './budget/policy.js';
export { BudgetConfigError } from './budget/guard.js';
export {
  spendKey,
  type Acquired,
  type ConversationStore,
  type Lease,
  type RunClaim,
  type RunRecord,
  type RunStore,
  type ReserveRequest,
  type ReserveResult,
  type SettleRequest,
  type SpendStore,
  type Store,
  type Turn,
  type WindowState,
} from './state/store.js';
export { BudgetStoreError, ConversationBusyError, StoreError } from './state/errors.js';
export { memoryStore, type MemoryStoreOptions } from './state/memory.js';
export { redisStore, type RedisStoreOptions } from './state/redis.js';
export { sqliteStore, type SqliteStoreOptions } from './state/sqlite.js';
export type { Conversation, ConversationInfo, ConversationQuery, ConversationSummary, Conversations } from './runtime/conversations.js';
export { contextWindow, tokenCounterFor, type TokenCounter } from './budget/tokens.js';
export {
  dropToolResults,
  summarize,
  trim,
  type CompressionInput,
  type CompressionStrategy,
} from './budget/compress.js';
export type {
  CountedRequest,
  FinishReason,
  Model,
  ModelRequest,
  ModelResponse,
  ModelStreamChunk,
  OutputRequest,
  ToolDefinition,
} from './providers/model.js';
export {
  AuthenticationError,
  ContextLengthExceededError,
  ModelCallError,
  RETRYABLE_KINDS,
  type ModelErrorKind,
} from './providers/errors.js';
export { openai } from './providers/openai.js';
export { anthropic } from './providers/anthropic.js';
export { google, type GoogleModelOptions } from './providers/google.js';
export { aiSdk, providerName, type AiSdkOptions } from './providers/ai-sdk.js';
export { fallback, type FallbackOptions } from './providers/fallback.js';
export { priceCall, type CallCost, type ModelPrice, type PriceOverrides } from './pricing/price.js';
export { createRuntime, type RuntimeOptions } from './create-runtime.js';
export type { Runtime, RunOptions } from './runtime/runtime.js';
export type { BudgetCheck, BudgetSettle, Interruption, PartialOutput, RunEvent, RunResult, StepFinish } from './runtime/events.js';
export type {
  ApprovalDecision,
  Approvals,
  ResumeOptions,
  RunEventEntry,
  RunInfo,
  RunQuery,
  RunStatus,
  Runs,
  SubscribeOptions,
} from './runtime/runs.js';
export type {
  CompressContext,
  ConversationContext,
  GuardrailContext,
  Middleware,
  ModelCallContext,
  ResumePoint,
  RunContext,
  StepContext,
  ToolCallContext,
} from './runtime/middleware.js';
export type { RunAbort } from './runtime/run-signal.js';
export type { CompressOutcome, ModelCallOutcome, StepOutcome } from './runtime/outcomes.js';
export {
  newRunState,
  RUN_STATE_VERSION,
  type BudgetLedger,
  type LastCallReason,
  type PendingApproval,
  type RunState,
  type RunStateInit,
  type RunTotals,
  type RunTraceRef,
} from './runtime/run-state.js';
export type { HookContext, Hooks } from './runtime/hooks.js';
export type { ToolOutcome } from './runtime/tools.js';
export type { RetryPolicy } from './runtime/retry.js';
export { tracedRuntime, type TracedRuntime, type TracedRuntimeOptions } from './telemetry/traced-runtime.js';
export { DEFAULT_TRACE_FILE, TracingConfigError, type ExporterName } from './telemetry/setup.js';
export type { ExportStats } from './telemetry/export-guard.js';
export { flushOnExit } from './cli/exit.js';
export { APPROVAL, ATTR, EVENT, SPAN_NAME } from './tracing/attributes.js';
export { mcpTools, McpServerError, type McpTools, type McpToolsOptions, type McpStdioServer, type McpHttpServer } from './mcp/index.js';
