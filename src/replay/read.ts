/**
 * Reads a recorded trace back into runs: the inverse of `tracing/instrumentation.ts`.
 *
 * A run is found through its spans' parent links, whatever line, resource or scope they sit in,
 * so a file from tracebound's exporter and one from an OpenTelemetry Collector (several resources
 * and runs per line, other services' spans mixed in) read alike. Replay needs the recorded
 * content, so a span recorded without it, or with content not in the shape tracebound writes,
 * fails with a {@link ReplayFileError} naming the line, span and attribute.
 */
import type { StopReason } from '../errors.js';
import type { Message, ReasoningPart, ToolCall, Usage } from '../messages.js';
import type { FinishReason, ToolDefinition } from '../providers/model.js';
import { ATTR, EVENT, OPERATION } from '../tracing/attributes.js';
import type { AttributeValue, SpanRecord } from '../traces/span-record.js';
import { describe, readTraceFile, TraceFileError } from '../traces/trace-file.js';
import { semconvFinishReason } from '../tracing/instrumentation.js';
import type {
  RecordedBudgetEvent,
  RecordedCompression,
  RecordedModelCall,
  RecordedRun,
  RecordedSource,
  RecordedStep,
  RecordedToolCall,
} from './recording.js';

/** Where a {@link ReplayFileError} points. */
export interface ReplayFilePlace {
  file: string;
  /** 1-based line of the `ExportTraceServiceRequest`; absent for the whole file. */
  line?: number;
  spanId?: string;
  /** The attribute (with a JSON path inside its value) or OTLP field that is wrong. */
  field?: string;
}

/**
 * A trace file that cannot be replayed: unreadable, not OTLP/JSON, without tracebound runs, or
 * with a run whose spans lack what replay needs. `message` says what is wrong and what to do.
 */
export class ReplayFileError extends Error {
  override readonly name = 'ReplayFileError';
  readonly file: string;
  readonly line?: number;
  readonly spanId?: string;
  readonly field?: string;

  /**
   * @param place where the problem is; `message` starts with its file, line and span
   * @param detail what is wrong and what to do about it
   */
  constructor(place: ReplayFilePlace, detail: string, options?: ErrorOptions) {
    const where = [place.file, place.line ? `line ${place.line}` : '', place.spanId ? `span ${place.spanId}` : ''];
    super(`${where.filter(Boolean).join(': ')}: ${detail}`, options);
    this.file = place.file;
    if (place.line) this.line = place.line;
    if (place.spanId) this.spanId = place.spanId;
    if (place.field) this.field = place.field;
  }
}

const NO_CONTENT =
  'recorded without content: record with content capture on (tracedRuntime({ captureContent: true }), the default for the trace file)';
const BAD_CONTENT =
  'replay needs the content as tracebound records it (OpenTelemetry GenAI JSON): re-record the run, without a redact hook that rewrites it';
const BAD_SPAN = 'the span is not as tracebound writes it (another tool, or an edited file): re-record the run with tracebound';

/** A span being decoded, and the file it came from (for errors). */
interface At {
  span: SpanRecord;
  file: string;
}

function sourceOf({ span, file }: At): RecordedSource {
  return { file: span.source?.file ?? file, line: span.source?.line ?? 0, spanId: span.spanId };
}

function fail(at: At, field: string, problem: string, fix: string): never {
  const { file, line } = sourceOf(at);
  throw new ReplayFileError(
    { file, line, spanId: at.span.spanId, field },
    `${field} of "${at.span.name}" ${problem}: ${fix}`,
  );
}

// ---- attributes ----

function optString(at: At, key: string): string | undefined {
  const value = at.span.attributes[key];
  if (value !== undefined && typeof value !== 'string') fail(at, key, `is ${describe(value)}, expected a string`, BAD_SPAN);
  return value;
}

function optNumber(at: At, key: string): number | undefined {
  const value = at.span.attributes[key];
  if (value !== undefined && typeof value !== 'number') fail(at, key, `is ${describe(value)}, expected a number`, BAD_SPAN);
  return value;
}

function reqString(at: At, key: string): string {
  return optString(at, key) ?? fail(at, key, 'is missing', BAD_SPAN);
}

function reqNumber(at: At, key: string): number {
  return optNumber(at, key) ?? fail(at, key, 'is missing', BAD_SPAN);
}

/** A content attribute: present only when content was captured. */
function content(at: At, key: string): string {
  return optString(at, key) ?? fail(at, key, 'is missing', NO_CONTENT);
}

function jsonContent(at: At, key: string): unknown {
  const text = content(at, key);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return fail(at, key, `is not JSON (${(error as Error).message})`, BAD_CONTENT);
  }
}

/** The five `gen_ai.usage.*` token counts; one left out counts as 0. */
function usageOf(at: At): Usage {
  return {
    inputTokens: optNumber(at, ATTR.usageInputTokens) ?? 0,
    outputTokens: optNumber(at, ATTR.usageOutputTokens) ?? 0,
    cacheReadTokens: optNumber(at, ATTR.usageCacheReadTokens) ?? 0,
    cacheWriteTokens: optNumber(at, ATTR.usageCacheCreationTokens) ?? 0,
    reasoningTokens: optNumber(at, ATTR.usageReasoningTokens) ?? 0,
  };
}

// ---- semconv JSON content ----

/** Reports a bad value at a JSON path inside the content attribute being decoded. */
type Bad = (path: string, problem: string) => never;

function badIn(at: At, attribute: string): Bad {
  return (path, problem) => fail(at, `${attribute}${path}`, problem, BAD_CONTENT);
}

function list(value: unknown, path: string, bad: Bad): unknown[] {
  return Array.isArray(value) ? value : bad(path, `is ${describe(value)}, expected an array`);
}

function object(value: unknown, path: string, bad: Bad): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : bad(path, `is ${describe(value)}, expected an object`);
}

function string(value: unknown, path: string, bad: Bad): string {
  return typeof value === 'string' ? value : bad(path, `is ${describe(value)}, expected a string`);
}

/** A semconv message part, as tracebound writes them. */
type Part =
  | { type: 'text'; content: string }
  | { type: 'reasoning'; content: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'tool_call_response'; id: string; response: string };

function decodePart(value: unknown, path: string, bad: Bad): Part {
  const part = object(value, path, bad);
  switch (part.type) {
    case 'text':
    case 'reasoning':
      return { type: part.type, content: string(part.content, `${path}.content`, bad) };
    case 'tool_call': {
      const call: ToolCall = { id: string(part.id, `${path}.id`, bad), name: string(part.name, `${path}.name`, bad), arguments: part.arguments };
      // The provider's signature of the call (see toolCallPart in tracing/instrumentation.ts).
      if (part.signature !== undefined) call.signature = string(part.signature, `${path}.signature`, bad);
      return { type: 'tool_call', call };
    }
    case 'tool_call_response':
      return { type: 'tool_call_response', id: string(part.id, `${path}.id`, bad), response: string(part.response, `${path}.response`, bad) };
    default:
      return bad(`${path}.type`, `is ${describe(part.type)}, expected text, reasoning, tool_call or tool_call_response`);
  }
}

function partsOf(message: Record<string, unknown>, path: string, bad: Bad): Part[] {
  return list(message.parts, `${path}.parts`, bad).map((part, i) => decodePart(part, `${path}.parts[${i}]`, bad));
}

/**
 * The text of a message's parts, and its tool calls and reasoning when the role may carry them
 * (`fromModel`: an assistant message).
 */
function textOf(
  parts: readonly Part[],
  fromModel: boolean,
  path: string,
  bad: Bad,
): { text: string; calls: ToolCall[]; reasoning: ReasoningPart[] } {
  let text = '';
  const calls: ToolCall[] = [];
  const reasoning: ReasoningPart[] = [];
  parts.forEach((part, i) => {
    if (part.type === 'text') text += part.content;
    else if (part.type === 'tool_call' && fromModel) calls.push(part.call);
    else if (part.type === 'reasoning' && fromModel) reasoning.push({ text: part.content });
    else bad(`${path}.parts[${i}].type`, `is "${part.type}", which a message of this role does not carry`);
  });
  return { text, calls, reasoning };
}

/** What the run's tool spans tell about each call id: the tool's name and whether it failed. */
type ToolIndex = ReadonlyMap<string, { name: string; isError: boolean }>;

/**
 * Semconv input messages back to {@link Message}s. A tool message's name comes from the tool call
 * it answers (earlier in the messages, or else the run's tool span with that id), and its
 * `isError` from that tool span's status, since the semconv part carries neither.
 */
function decodeMessages(value: unknown, tools: ToolIndex, bad: Bad): Message[] {
  const names = new Map<string, string>();
  return list(value, '', bad).map((item, i): Message => {
    const path = `[${i}]`;
    const message = object(item, path, bad);
    const parts = partsOf(message, path, bad);
    switch (message.role) {
      case 'system':
      case 'user':
        return { role: message.role, content: textOf(parts, false, path, bad).text };
      case 'assistant': {
        const { text, calls } = textOf(parts, true, path, bad);
        for (const call of calls) names.set(call.id, call.name);
        return { role: 'assistant', content: text, ...(calls.length ? { toolCalls: calls } : {}) };
      }
      case 'tool': {
        const [part] = parts;
        if (parts.length !== 1 || part?.type !== 'tool_call_response') {
          return bad(`${path}.parts`, 'must be one tool_call_response part');
        }
        const recorded = tools.get(part.id);
        const toolName = names.get(part.id) ?? recorded?.name ?? bad(`${path}.parts[0].id`, `"${part.id}" answers no recorded tool call`);
        return { role: 'tool', toolCallId: part.id, toolName, content: part.response, ...(recorded?.isError ? { isError: true } : {}) };
      }
      default:
        return bad(`${path}.role`, `is ${describe(message.role)}, expected system, user, assistant or tool`);
    }
  });
}

/** `gen_ai.system_instructions`: `[{ type: 'text', content }]`. */
function decodeSystem(value: unknown, bad: Bad): string {
  const parts = list(value, '', bad).map((part, i) => decodePart(part, `[${i}]`, bad));
  return textOf(parts, false, '', bad).text;
}

/** `gen_ai.tool.definitions`: `[{ type: 'function', name, description, parameters }]`. */
function decodeTools(value: unknown, bad: Bad): ToolDefinition[] {
  return list(value, '', bad).map((item, i) => {
    const path = `[${i}]`;
    const definition = object(item, path, bad);
    return {
      name: string(definition.name, `${path}.name`, bad),
      description: string(definition.description, `${path}.description`, bad),
      parameters: object(definition.parameters, `${path}.parameters`, bad),
    };
  });
}

/** `gen_ai.output.messages`: assistant messages (tracebound writes one) with reasoning, text and tool calls. */
function decodeOutput(value: unknown, bad: Bad): { text: string; toolCalls: ToolCall[]; reasoning: ReasoningPart[]; finishReason?: string } {
  let text = '';
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningPart[] = [];
  let finishReason: string | undefined;
  list(value, '', bad).forEach((item, i) => {
    const path = `[${i}]`;
    const message = object(item, path, bad);
    if (message.role !== 'assistant') bad(`${path}.role`, `is ${describe(message.role)}, expected "assistant"`);
    const decoded = textOf(partsOf(message, path, bad), true, path, bad);
    text += decoded.text;
    toolCalls.push(...decoded.calls);
    reasoning.push(...decoded.reasoning);
    if (typeof message.finish_reason === 'string') finishReason ??= message.finish_reason;
  });
  return { text, toolCalls, reasoning, ...(finishReason !== undefined ? { finishReason } : {}) };
}

// ---- spans ----

/** Children of each span, keyed by trace id and parent span id, in start order. */
type ChildIndex = ReadonlyMap<string, readonly SpanRecord[]>;

const key = (traceId: string, spanId: string) => `${traceId}/${spanId}`;

function byStart(a: SpanRecord, b: SpanRecord): number {
  return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : a.startTimeUnixNano > b.startTimeUnixNano ? 1 : 0;
}

function indexChildren(spans: readonly SpanRecord[]): ChildIndex {
  const index = new Map<string, SpanRecord[]>();
  for (const span of spans) {
    if (span.parentSpanId === undefined) continue;
    const k = key(span.traceId, span.parentSpanId);
    index.set(k, [...(index.get(k) ?? []), span]);
  }
  for (const children of index.values()) children.sort(byStart);
  return index;
}

function childrenOf(index: ChildIndex, span: SpanRecord): readonly SpanRecord[] {
  return index.get(key(span.traceId, span.spanId)) ?? [];
}

/** Whether a span is of a GenAI operation (`gen_ai.operation.name`) or one of tracebound's own (`tracebound.operation`). */
function isOperation(span: SpanRecord, operation: string): boolean {
  return span.attributes[ATTR.operationName] === operation || span.attributes[ATTR.operation] === operation;
}

/**
 * A tool call, with the sub-runs it started (`agent.asTool()` starts one, a tool calling
 * `context.runAgent` any number): the `invoke_agent` spans directly under its `execute_tool` span,
 * in start order, each read like any run.
 */
function recordedToolCall(at: At, index: ChildIndex): RecordedToolCall {
  const errorType = optString(at, ATTR.errorType);
  const subRuns = childrenOf(index, at.span)
    .filter((span) => isOperation(span, OPERATION.invokeAgent))
    .map((span) => recordedRun(span, index, at.file));
  return {
    id: reqString(at, ATTR.toolCallId),
    name: reqString(at, ATTR.toolName),
    arguments: parseArguments(content(at, ATTR.toolCallArguments)),
    result: content(at, ATTR.toolCallResult),
    isError: at.span.status.code === 'ERROR',
    ...(errorType !== undefined ? { errorType } : {}),
    ...(subRuns.length ? { subRun: subRuns[0], subRuns } : {}),
    source: sourceOf(at),
  };
}

/**
 * Arguments are recorded as JSON, except arguments the model sent as text that is not JSON: those
 * are recorded as the raw text, which is what they were.
 */
function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function recordedModelCall(at: At, purpose: RecordedModelCall['purpose'], tools: ToolIndex): RecordedModelCall {
  const { attributes, status } = at.span;
  const messages = decodeMessages(jsonContent(at, ATTR.inputMessages), tools, badIn(at, ATTR.inputMessages));
  const system = attributes[ATTR.systemInstructions] === undefined
    ? undefined
    : decodeSystem(jsonContent(at, ATTR.systemInstructions), badIn(at, ATTR.systemInstructions));
  const definitions = attributes[ATTR.toolDefinitions] === undefined
    ? []
    : decodeTools(jsonContent(at, ATTR.toolDefinitions), badIn(at, ATTR.toolDefinitions));
  const maxOutputTokens = optNumber(at, ATTR.requestMaxTokens);
  const temperature = optNumber(at, ATTR.requestTemperature);
  const failed = status.code === 'ERROR';
  // A failed call has no output; any other call without one was recorded without content.
  const response = failed && attributes[ATTR.outputMessages] === undefined ? undefined : recordedResponse(at);
  const costUsd = optNumber(at, ATTR.costAmount);
  return {
    purpose,
    provider: reqString(at, ATTR.providerName),
    model: reqString(at, ATTR.requestModel),
    request: {
      ...(system !== undefined ? { system } : {}),
      messages,
      tools: definitions,
      ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
    },
    ...(response ? { response } : {}),
    ...(failed ? { error: optString(at, ATTR.errorType) ?? '_OTHER' } : {}),
    ...(costUsd !== undefined ? { costUsd } : {}),
    source: sourceOf(at),
  };
}

function recordedResponse(at: At): NonNullable<RecordedModelCall['response']> {
  const output = decodeOutput(jsonContent(at, ATTR.outputMessages), badIn(at, ATTR.outputMessages));
  const id = optString(at, ATTR.responseId);
  const model = optString(at, ATTR.responseModel);
  return {
    ...(id !== undefined ? { id } : {}),
    ...(model !== undefined ? { model } : {}),
    text: output.text,
    toolCalls: output.toolCalls,
    ...(output.reasoning.length ? { reasoning: output.reasoning } : {}),
    finishReason: finishReasonOf(at, output.finishReason),
    usage: usageOf(at),
  };
}

/**
 * The call's finish reason: `gen_ai.response.finish_reasons`, else the output message's
 * (semconv's `tool_call` there is tracebound's `tool_calls`; older recordings wrote `tool_calls`).
 */
function finishReasonOf(at: At, fromOutput: string | undefined): FinishReason {
  const reasons: AttributeValue | undefined = at.span.attributes[ATTR.responseFinishReasons];
  if (reasons === undefined) {
    if (fromOutput === undefined) return fail(at, ATTR.responseFinishReasons, 'is missing', BAD_SPAN);
    return fromOutput === semconvFinishReason('tool_calls') ? 'tool_calls' : fromOutput;
  }
  const [first] = Array.isArray(reasons) ? reasons : [];
  return typeof first === 'string' ? first : fail(at, ATTR.responseFinishReasons, `is ${describe(reasons)}, expected an array of strings`, BAD_SPAN);
}

function recordedCompression(at: At): RecordedCompression {
  const tokensAfter = optNumber(at, ATTR.contextTokensAfter);
  return {
    // A compression that failed (e.g. its summary was refused) ends before naming its strategies.
    strategy: optString(at, ATTR.contextStrategy) ?? '',
    tokensBefore: reqNumber(at, ATTR.contextTokensBefore),
    ...(tokensAfter !== undefined ? { tokensAfter } : {}),
    limit: reqNumber(at, ATTR.contextLimit),
  };
}

const BUDGET_EVENTS: ReadonlySet<string> = new Set([EVENT.budgetCheck, EVENT.budgetSettle]);

/** Budget events of the given spans (the step's, and its compression's for summary calls), in time order. */
function budgetEvents(spans: readonly SpanRecord[]): RecordedBudgetEvent[] {
  return spans
    .flatMap((span) => span.events.filter((event) => BUDGET_EVENTS.has(event.name)))
    .sort((a, b) => (a.timeUnixNano < b.timeUnixNano ? -1 : a.timeUnixNano > b.timeUnixNano ? 1 : 0))
    .map((event) => ({ name: event.name, attributes: { ...event.attributes } }));
}

/** Tool calls in the order the model asked for them (its response's order), else in start order. */
function inAskedOrder(calls: readonly RecordedToolCall[], asked: readonly ToolCall[]): RecordedToolCall[] {
  const position = (call: RecordedToolCall) => {
    const i = asked.findIndex((a) => a.id === call.id);
    return i < 0 ? asked.length : i;
  };
  return [...calls].sort((a, b) => position(a) - position(b));
}

/** A step span and what is under it, tool calls already decoded. */
interface StepSpans {
  step: At;
  compress?: SpanRecord;
  /** Its own model call and any summary calls under its compression, in start order. */
  chats: SpanRecord[];
  summaries: ReadonlySet<SpanRecord>;
  toolCalls: RecordedToolCall[];
}

/** Spans of other operations directly under a step (the user's own) are left out. */
function stepSpans(step: At, index: ChildIndex): StepSpans {
  const children = childrenOf(index, step.span);
  const compress = children.find((span) => isOperation(span, OPERATION.compressContext));
  const summaries = compress ? childrenOf(index, compress).filter((span) => isOperation(span, OPERATION.chat)) : [];
  return {
    step,
    ...(compress ? { compress } : {}),
    chats: [...summaries, ...children.filter((span) => isOperation(span, OPERATION.chat))].sort(byStart),
    summaries: new Set(summaries),
    toolCalls: children
      .filter((span) => isOperation(span, OPERATION.executeTool))
      .map((span) => recordedToolCall({ span, file: step.file }, index)),
  };
}

function recordedStep({ step, compress, chats, summaries, toolCalls }: StepSpans, tools: ToolIndex): RecordedStep {
  const finish = optString(step, ATTR.stepFinish);
  const modelCalls = chats.map((span) => recordedModelCall({ span, file: step.file }, summaries.has(span) ? 'summary' : 'step', tools));
  const asked = modelCalls.filter((call) => call.purpose === 'step').flatMap((call) => call.response?.toolCalls ?? []);
  return {
    index: reqNumber(step, ATTR.stepIndex),
    ...(finish !== undefined ? { finish } : {}),
    modelCalls,
    toolCalls: inAskedOrder(toolCalls, asked),
    ...(compress ? { compression: recordedCompression({ span: compress, file: step.file }) } : {}),
    budgetEvents: budgetEvents(compress ? [step.span, compress] : [step.span]),
  };
}

/** Every value of {@link StopReason}; a Record so the compiler flags one added to the type. */
const STOP_REASONS: Record<StopReason, true> = {
  final: true,
  max_steps: true,
  max_tool_calls: true,
  budget_exceeded: true,
  context_overflow: true,
  graceful_limit: true,
  interrupted: true,
  guardrail: true,
  aborted: true,
  timeout: true,
  error: true,
};

function stopReasonOf(at: At): StopReason | undefined {
  const value = optString(at, ATTR.stopReason);
  if (value === undefined || Object.hasOwn(STOP_REASONS, value)) return value as StopReason | undefined;
  return fail(at, ATTR.stopReason, `is "${value}", expected one of ${Object.keys(STOP_REASONS).join(', ')}`, BAD_SPAN);
}

/**
 * The run's input, from its `gen_ai.input.messages`: one user message is the string the run was
 * given, anything else a conversation. Recordings older than that attribute kept the input only in
 * `langfuse.trace.input`, which cannot tell a conversation from a string: those must be re-recorded.
 */
function runInput(at: At, tools: ToolIndex): string | Message[] {
  if (at.span.attributes[ATTR.inputMessages] === undefined && at.span.attributes[ATTR.langfuseTraceInput] !== undefined) {
    return fail(
      at,
      ATTR.inputMessages,
      `is missing (the run's input is only in ${ATTR.langfuseTraceInput}, as an older tracebound recorded it)`,
      're-record the run with this version of tracebound',
    );
  }
  const messages = decodeMessages(jsonContent(at, ATTR.inputMessages), tools, badIn(at, ATTR.inputMessages));
  const [first] = messages;
  return messages.length === 1 && first?.role === 'user' ? first.content : messages;
}

/**
 * The run's output: the text of the assistant message in the run span's `gen_ai.output.messages`
 * (or, as a release before it wrote it, `langfuse.observation.output`); absent for a run that
 * ended without an answer or was recorded without content.
 */
function runOutput(at: At): string | undefined {
  if (at.span.attributes[ATTR.outputMessages] === undefined) return optString(at, ATTR.langfuseObservationOutput);
  const messages = jsonContent(at, ATTR.outputMessages);
  const parts = Array.isArray(messages) ? (messages[0] as { parts?: unknown } | undefined)?.parts : undefined;
  if (!Array.isArray(parts)) return fail(at, ATTR.outputMessages, 'is not a list of messages with parts', BAD_CONTENT);
  return parts
    .filter((p): p is { type: 'text'; content: string } => (p as { type?: unknown }).type === 'text' && typeof (p as { content?: unknown }).content === 'string')
    .map((p) => p.content)
    .join('');
}

/**
 * The history a run that continued a conversation loaded, from its `load_conversation` span's
 * message count and its first model call's messages (which begin with that history); undefined for
 * a run without a conversation.
 *
 * The history itself is not on the load span (only its count): a first step that
 * compressed it sent something else, so such a run cannot be replayed and fails here.
 */
function loadedHistory(run: At, index: ChildIndex, steps: readonly RecordedStep[]): Message[] | undefined {
  const load = childrenOf(index, run.span).find((span) => isOperation(span, OPERATION.loadConversation));
  if (load === undefined) return undefined;
  const at = { span: load, file: run.file };
  const count = reqNumber(at, ATTR.conversationMessages);
  if (count === 0) return [];
  const [first] = steps;
  const call = first?.modelCalls.find((c) => c.purpose === 'step');
  if (first?.compression !== undefined) {
    return fail(
      at,
      ATTR.conversationMessages,
      `counts ${count} loaded messages, but step ${first.index} compressed them before its model call, so the recording does not hold them`,
      'replay a turn whose first step did not compress its context, or raise budget.contextTokens and re-record',
    );
  }
  if (call === undefined || call.request.messages.length < count) {
    return fail(at, ATTR.conversationMessages, `counts ${count} loaded messages, more than the run's first model call sent`, BAD_SPAN);
  }
  return call.request.messages.slice(0, count);
}

function recordedRun(run: SpanRecord, index: ChildIndex, file: string): RecordedRun {
  const at = { span: run, file };
  const steps = childrenOf(index, run)
    .filter((span) => isOperation(span, OPERATION.step))
    .map((span) => stepSpans({ span, file }, index));
  // Tool calls are decoded first: every step's model calls refer to them by call id.
  const tools: ToolIndex = new Map(steps.flatMap((s) => s.toolCalls).map((call) => [call.id, { name: call.name, isError: call.isError }]));
  const input = runInput(at, tools);
  const output = runOutput(at);
  const stopReason = stopReasonOf(at);
  const costUsd = optNumber(at, ATTR.runCostUsd);
  const recordedSteps = steps.map((s) => recordedStep(s, tools)).sort((a, b) => a.index - b.index);
  const history = loadedHistory(at, index, recordedSteps);
  const parentRunId = optString(at, ATTR.parentRunId);
  return {
    traceId: run.traceId,
    spanId: run.spanId,
    ...(parentRunId !== undefined ? { parentRunId } : {}),
    agentName: reqString(at, ATTR.agentName),
    provider: reqString(at, ATTR.providerName),
    model: reqString(at, ATTR.requestModel),
    input,
    ...(history !== undefined ? { history } : {}),
    ...(output !== undefined ? { output } : {}),
    ...(stopReason !== undefined ? { stopReason } : {}),
    usage: usageOf(at),
    ...(costUsd !== undefined ? { costUsd } : {}),
    steps: recordedSteps,
    source: sourceOf(at),
  };
}

/** Whether a run span hangs directly under a tool call's span in the file: a sub-run of that call. */
function isSubRun(run: SpanRecord, byId: ReadonlyMap<string, SpanRecord>): boolean {
  const parent = run.parentSpanId === undefined ? undefined : byId.get(key(run.traceId, run.parentSpanId));
  return parent !== undefined && isOperation(parent, OPERATION.executeTool);
}

/**
 * Rebuilds every recorded run from spans: each top-level `invoke_agent` span becomes a
 * {@link RecordedRun} with its steps, model calls, tool calls, compression and budget events,
 * found through parent links. A sub-run (an `invoke_agent` span under a tool call's
 * `execute_tool` span, e.g. of `agent.asTool()`) is not a run of the file: it is read into the
 * tool call that started it ({@link RecordedToolCall.subRuns}). A sub-run whose tool call span
 * is not in the file (a partial export) cannot be tied to its call: it is read as a run of the
 * file, its {@link RecordedRun.parentRunId} naming the run that started it (which, when in the
 * file, lacks that call). Spans of other operations (a user's own spans, other services') are
 * ignored.
 * @param spans spans as {@link readTraceFile} returns them (with `withSource` for line numbers)
 * @param file the trace file's name, for errors and for spans without a source
 * @returns the top-level runs in start order
 * @throws {ReplayFileError} when there is no run, or a run's spans lack content or are not as
 *   tracebound writes them (naming the line, span and attribute)
 */
export function recordedRuns(spans: readonly SpanRecord[], file: string): RecordedRun[] {
  const byId = new Map(spans.map((span) => [key(span.traceId, span.spanId), span]));
  const runs = spans.filter((span) => span.attributes[ATTR.operationName] === OPERATION.invokeAgent && !isSubRun(span, byId));
  if (runs.length === 0) {
    const found = spans.length === 0 ? 'the file has no spans' : `none of its ${spans.length} spans is an ${OPERATION.invokeAgent} span`;
    throw new ReplayFileError(
      { file },
      `no tracebound runs in ${file}: ${found}; record one with tracedRuntime() or \`tracebound run\`, or check the path`,
    );
  }
  const index = indexChildren(spans);
  return [...runs].sort(byStart).map((run) => recordedRun(run, index, file));
}

/**
 * Reads a trace file (OTLP/JSON lines, or one OTLP/JSON document) and rebuilds its runs.
 * @returns the runs in start order (see {@link recordedRuns})
 * @throws {ReplayFileError} for a missing, malformed or foreign file (with the line and OTLP field
 *   of a {@link TraceFileError}, its cause), or as {@link recordedRuns} does
 */
export async function readRecording(file: string): Promise<RecordedRun[]> {
  let spans: SpanRecord[];
  try {
    spans = await readTraceFile(file, { withSource: true });
  } catch (error) {
    if (!(error instanceof TraceFileError)) throw error;
    // Its message already says what is wrong and what to do, after the place this error repeats.
    const place = error.line > 0 ? `${error.source}: line ${error.line}: ` : `${error.source}: `;
    throw new ReplayFileError({ file, line: error.line, field: error.field }, error.message.slice(place.length), { cause: error });
  }
  return recordedRuns(spans, file);
}
