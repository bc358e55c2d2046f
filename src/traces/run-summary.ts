/**
 * Runs of a trace as plain data: one {@link RunSummary} per `invoke_agent` span, with the totals
 * the run span records (tokens, cost, steps, stop reason) and what only its spans tell (tool calls
 * by name). What `tracebound diff` compares, what the viewer lists, what the CLI tree prints in a
 * run's header.
 *
 * Lenient by design: a span missing an attribute yields a summary without that field, never an
 * error, so summaries of foreign or older files still list their runs.
 */
import { ATTR, OPERATION } from '../tracing/attributes.js';
import { numberAttribute as num, stringAttribute as str, type SpanRecord } from './span-record.js';

/** Token counts of a run by kind, as its span's `gen_ai.usage.*` attributes give them (absent = 0). */
export interface TokenCounts {
  /** Prompt tokens, cache reads and writes included (`gen_ai.usage.input_tokens`). */
  input: number;
  /** Completion tokens, reasoning included (`gen_ai.usage.output_tokens`). */
  output: number;
  /** `gen_ai.usage.cache_read.input_tokens`. */
  cacheRead: number;
  /** `gen_ai.usage.cache_creation.input_tokens`. */
  cacheWrite: number;
  /** `gen_ai.usage.reasoning.output_tokens`. */
  reasoning: number;
}

/** One run (one `invoke_agent` span) of a trace, as plain JSON-safe data. */
export interface RunSummary {
  /** `tracebound.run.id`; absent in recordings made without it (foreign or older files). */
  runId?: string;
  traceId: string;
  /** The run span's id: unique in a file, unlike `runId` (a resumed run has one span per part). */
  spanId: string;
  /** `gen_ai.agent.name`, else the span name's `invoke_agent {agent}` suffix. */
  agent: string;
  /** `gen_ai.request.model` of the run span. */
  model?: string;
  /** `gen_ai.provider.name` of the run span. */
  provider?: string;
  /**
   * The run's input as text, when content was captured (`gen_ai.input.messages`): a single user
   * message's text, else the recorded messages' JSON as written. Used to pair runs of two files.
   */
  input?: string;
  /** Start, Unix epoch milliseconds. */
  start: number;
  /** Wall time of the run span, ms (fractional). */
  durationMs: number;
  /** `tracebound.stop_reason` (`final`, `max_steps`, `budget_exceeded`, `error`, ...); absent when not recorded. */
  stopReason?: string;
  /** The run span's status code; `ERROR` with its `error.type` when the run failed. */
  status: SpanRecord['status']['code'];
  errorType?: string;
  /** `tracebound.steps`, else the number of `step` spans found under the run. */
  steps: number;
  /** `tracebound.tool_calls`, else the number of `execute_tool` spans found under the run. */
  toolCalls: number;
  /**
   * `execute_tool` spans under the run by `gen_ai.tool.name` (a sub-run's own tool calls are in
   * its summary, not its parent's).
   */
  toolCallsByName: Record<string, number>;
  tokens: TokenCounts;
  /**
   * USD: `tracebound.run.cost_usd` (model calls, sub-runs and costed tools), else
   * `gen_ai.usage.cost.amount` (where older recordings kept a run's total); absent when the run had
   * an unpriced call.
   */
  costUsd?: number;
  /** `gen_ai.conversation.id`. */
  conversationId?: string;
  /** `tracebound.parent.run.id`: set on a sub-run (an agent called as a tool). */
  parentRunId?: string;
  /** `tracebound.tenant`: the tenant the run was for (run option `tenant`). */
  tenant?: string;
  /** `user.id`: the user the run was for (run option `user`). */
  user?: string;
}


/** `gen_ai.operation.name`, or tracebound's own `tracebound.operation` for steps and compression. */
export function operationOf(span: SpanRecord): string | undefined {
  return str(span, ATTR.operationName) ?? str(span, ATTR.operation);
}

/** Whether the span is a run (`gen_ai.operation.name` = `invoke_agent`). */
export function isRunSpan(span: SpanRecord): boolean {
  return operationOf(span) === OPERATION.invokeAgent;
}

/** A run's agent: `gen_ai.agent.name`, else what follows `invoke_agent ` in the span name. */
export function agentNameOf(run: SpanRecord): string {
  return str(run, ATTR.agentName) ?? run.name.replace(`${OPERATION.invokeAgent} `, '');
}

/**
 * The text of `gen_ai.input.messages` when it is one user message (the string the run was given),
 * else the attribute as recorded; undefined without captured content.
 */
function inputOf(run: SpanRecord): string | undefined {
  const recorded = str(run, ATTR.inputMessages);
  if (recorded === undefined) return undefined;
  let messages: unknown;
  try {
    messages = JSON.parse(recorded);
  } catch {
    return recorded;
  }
  if (!Array.isArray(messages) || messages.length !== 1) return recorded;
  const [message] = messages as { role?: unknown; parts?: unknown }[];
  if (message?.role !== 'user' || !Array.isArray(message.parts)) return recorded;
  const texts = (message.parts as { type?: unknown; content?: unknown }[]).filter((part) => part.type === 'text' && typeof part.content === 'string');
  return texts.length === message.parts.length ? texts.map((part) => part.content as string).join('') : recorded;
}

/** Step and tool-call spans under a run, down to (not into) nested runs. */
function countDescendants(run: SpanRecord, children: ReadonlyMap<string, SpanRecord[]>): { steps: number; toolCallsByName: Record<string, number> } {
  let steps = 0;
  const toolCallsByName: Record<string, number> = {};
  const seen = new Set<SpanRecord>([run]);
  const stack = [...(children.get(run.spanId) ?? [])];
  for (let span = stack.pop(); span !== undefined; span = stack.pop()) {
    // A file's parent ids may loop; never count a span twice.
    if (seen.has(span) || isRunSpan(span)) continue;
    seen.add(span);
    const operation = operationOf(span);
    if (operation === OPERATION.step) steps += 1;
    else if (operation === OPERATION.executeTool) {
      const name = str(span, ATTR.toolName) ?? span.name.replace(`${OPERATION.executeTool} `, '');
      toolCallsByName[name] = (toolCallsByName[name] ?? 0) + 1;
    }
    stack.push(...(children.get(span.spanId) ?? []));
  }
  return { steps, toolCallsByName };
}

/** Nanoseconds since the epoch as milliseconds (fractional). */
function toMs(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}

function summarize(run: SpanRecord, children: ReadonlyMap<string, SpanRecord[]>): RunSummary {
  const counted = countDescendants(run, children);
  const summary: RunSummary = {
    runId: str(run, ATTR.runId),
    traceId: run.traceId,
    spanId: run.spanId,
    agent: agentNameOf(run),
    model: str(run, ATTR.requestModel),
    provider: str(run, ATTR.providerName),
    input: inputOf(run),
    start: toMs(run.startTimeUnixNano),
    durationMs: Number(run.endTimeUnixNano - run.startTimeUnixNano) / 1e6,
    stopReason: str(run, ATTR.stopReason),
    status: run.status.code,
    errorType: run.status.code === 'ERROR' ? str(run, ATTR.errorType) : undefined,
    steps: num(run, ATTR.steps) ?? counted.steps,
    toolCalls: num(run, ATTR.toolCalls) ?? Object.values(counted.toolCallsByName).reduce((sum, n) => sum + n, 0),
    toolCallsByName: counted.toolCallsByName,
    tokens: {
      input: num(run, ATTR.usageInputTokens) ?? 0,
      output: num(run, ATTR.usageOutputTokens) ?? 0,
      cacheRead: num(run, ATTR.usageCacheReadTokens) ?? 0,
      cacheWrite: num(run, ATTR.usageCacheCreationTokens) ?? 0,
      reasoning: num(run, ATTR.usageReasoningTokens) ?? 0,
    },
    costUsd: num(run, ATTR.runCostUsd) ?? num(run, ATTR.costAmount),
    conversationId: str(run, ATTR.conversationId),
    parentRunId: str(run, ATTR.parentRunId),
    tenant: str(run, ATTR.tenant),
    user: str(run, ATTR.userId),
  };
  // Absent fields are left out rather than set to undefined, so a summary prints and compares as JSON.
  for (const key of Object.keys(summary) as (keyof RunSummary)[]) if (summary[key] === undefined) delete summary[key];
  return summary;
}

/**
 * Every run of the spans, sub-runs included (they carry `parentRunId`), in start order.
 *
 * @param spans spans of one file or of several, in any order; linear in their number
 */
export function summarizeRuns(spans: readonly SpanRecord[]): RunSummary[] {
  const children = new Map<string, SpanRecord[]>();
  for (const span of spans) {
    if (span.parentSpanId === undefined) continue;
    const siblings = children.get(span.parentSpanId);
    if (siblings === undefined) children.set(span.parentSpanId, [span]);
    else siblings.push(span);
  }
  return spans
    .filter(isRunSpan)
    .map((run) => summarize(run, children))
    .sort((a, b) => a.start - b.start);
}
