/**
 * Real trace files for the CLI tests: spans made with the OpenTelemetry SDK, serialized with the
 * same `JsonTraceSerializer` the file exporter uses, one line per export batch.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type HrTime, type Span } from '@opentelemetry/api';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { ATTR, EVENT, EVENT_ATTR, OPERATION, SPAN_NAME, TRACER_NAME } from '../../src/tracing/attributes.js';

/** Epoch second all fixture times count from. */
const EPOCH_S = 1_700_000_000;

/** A time `ms` (may be fractional, to the nanosecond) after the fixture epoch. */
export function at(ms: number): HrTime {
  const nanos = Math.round(ms * 1e6);
  return [EPOCH_S + Math.floor(nanos / 1e9), nanos % 1e9];
}

/** An HrTime as bigint epoch nanoseconds, as the reader returns times. */
export function hrToNanos(time: HrTime): bigint {
  return BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
}

export interface Recording {
  dir: string;
  file: string;
  /** The SDK's own view of the spans, in end order. */
  spans: ReadableSpan[];
  /** The text written: one OTLP/JSON line per batch. */
  text: string;
}

/** Serializes batches of spans as OTLP/JSON lines. */
export function toLines(batches: ReadableSpan[][]): string {
  const decoder = new TextDecoder();
  return batches.map((batch) => `${decoder.decode(JsonTraceSerializer.serializeRequest(batch))}\n`).join('');
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'tracebound-cli-'));
}

/**
 * Records the catalogue's weather run with fixed times:
 *
 * ```
 * invoke_agent weather            0 → 1234.5678 ms
 *   step 1                        1 → 800
 *     chat gpt-4o-mini            2 → 505     100/20 tokens, $0.000027, budget check + settle
 *     execute_tool get_weather  510 → 630     call_1
 *     execute_tool get_weather  511 → 790     call_2, ERROR TimeoutError
 *   step 2                      801 → 1230
 *     chat gpt-4o-mini          802 → 1229    200/40 tokens (cache read 50, reasoning 10), no cost, a retry
 * ```
 *
 * written as two lines: step 1's spans, then the rest.
 */
export async function recordWeatherRun(): Promise<Recording> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'weather-service' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer(TRACER_NAME, '1.0.0');
  const start = (name: string, startMs: number, attributes: Attributes, parent?: Span, kind = SpanKind.INTERNAL): Span =>
    tracer.startSpan(
      name,
      { kind, startTime: at(startMs), attributes },
      parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
    );
  const chatAttributes = (usage: Attributes): Attributes => ({
    [ATTR.operationName]: OPERATION.chat,
    [ATTR.providerName]: 'openai',
    [ATTR.requestModel]: 'gpt-4o-mini',
    ...usage,
  });
  const toolAttributes = (callId: string): Attributes => ({
    [ATTR.operationName]: OPERATION.executeTool,
    [ATTR.toolName]: 'get_weather',
    [ATTR.toolCallId]: callId,
    [ATTR.toolType]: 'function',
  });

  const run = start(SPAN_NAME.run('weather'), 0, {
    [ATTR.operationName]: OPERATION.invokeAgent,
    [ATTR.agentName]: 'weather',
    [ATTR.providerName]: 'openai',
    [ATTR.requestModel]: 'gpt-4o-mini',
  });

  const step1 = start(SPAN_NAME.step(1), 1, { [ATTR.operation]: OPERATION.step, [ATTR.stepIndex]: 1 }, run);
  const chat1 = start(
    SPAN_NAME.chat('gpt-4o-mini'),
    2,
    chatAttributes({
      [ATTR.usageInputTokens]: 100,
      [ATTR.usageOutputTokens]: 20,
      [ATTR.costAmount]: 0.000027,
      [ATTR.responseFinishReasons]: ['tool_calls'],
    }),
    step1,
    SpanKind.CLIENT,
  );
  chat1.addEvent(
    EVENT.budgetCheck,
    { scope: 'run', limit: 0.05, spent: 0, reserved: 0.0001, remaining: 0.0499, decision: 'allow', requested_usd: 0.0001, granted_usd: 0.0001, max_output_tokens: 1024 },
    at(2),
  );
  chat1.addEvent(EVENT.budgetSettle, { scope: 'run', reserved: 0.0001, actual: 0.000027 }, at(505));
  chat1.end(at(505));
  const tool1 = start(SPAN_NAME.tool('get_weather'), 510, toolAttributes('call_1'), step1);
  const tool2 = start(SPAN_NAME.tool('get_weather'), 511, toolAttributes('call_2'), step1);
  tool1.end(at(630));
  tool2.setAttribute(ATTR.errorType, 'TimeoutError');
  tool2.recordException(new Error('get_weather timed out after 250 ms'), at(790));
  tool2.setStatus({ code: SpanStatusCode.ERROR, message: 'get_weather timed out after 250 ms' });
  tool2.end(at(790));
  step1.setAttribute(ATTR.stepFinish, 'tool_calls');
  step1.end(at(800));

  const step2 = start(SPAN_NAME.step(2), 801, { [ATTR.operation]: OPERATION.step, [ATTR.stepIndex]: 2 }, run);
  const chat2 = start(
    SPAN_NAME.chat('gpt-4o-mini'),
    802,
    chatAttributes({
      [ATTR.usageInputTokens]: 200,
      [ATTR.usageOutputTokens]: 40,
      [ATTR.usageCacheReadTokens]: 50,
      [ATTR.usageReasoningTokens]: 10,
    }),
    step2,
    SpanKind.CLIENT,
  );
  chat2.addEvent(
    EVENT.retry,
    { [EVENT_ATTR.attempt]: 1, [EVENT_ATTR.errorType]: 'RateLimitError', [EVENT_ATTR.delayMs]: 500 },
    at(900),
  );
  chat2.end(at(1229));
  step2.setAttribute(ATTR.stepFinish, 'final');
  step2.end(at(1230));

  run.setAttributes({
    [ATTR.usageInputTokens]: 300,
    [ATTR.usageOutputTokens]: 60,
    [ATTR.usageCacheReadTokens]: 50,
    [ATTR.usageReasoningTokens]: 10,
    [ATTR.runCostUsd]: 0.000123,
    [ATTR.steps]: 2,
    [ATTR.toolCalls]: 2,
    [ATTR.stopReason]: 'final',
  });
  run.setStatus({ code: SpanStatusCode.OK });
  run.end(at(1234.5678));

  const spans = exporter.getFinishedSpans();
  await provider.shutdown();
  const text = toLines([spans.slice(0, 4), spans.slice(4)]);
  const dir = await tempDir();
  const file = join(dir, 'traces.jsonl');
  await writeFile(file, text);
  return { dir, file, spans, text };
}

/**
 * Records four one-step runs of agent `support`, each its own trace, written one line per run:
 *
 * ```
 *    0 ms  conversation support-42, turn 1   load_conversation 0 messages, save_conversation 2
 * 2000 ms  no conversation
 * 3000 ms  conversation other-7, turn 1
 * 4000 ms  conversation support-42, turn 2   load_conversation 2 messages, save_conversation 4
 * ```
 */
export async function recordConversationRuns(): Promise<Recording> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'support-service' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer(TRACER_NAME, '1.0.0');
  const batches: ReadableSpan[][] = [];
  const recordRun = (startMs: number, conversation?: { id: string; loaded: number }) => {
    const owner: Attributes = { [ATTR.agentName]: 'support', ...(conversation ? { [ATTR.conversationId]: conversation.id } : {}) };
    const run = tracer.startSpan(
      SPAN_NAME.run('support'),
      { startTime: at(startMs), attributes: { ...owner, [ATTR.operationName]: OPERATION.invokeAgent, [ATTR.providerName]: 'openai', [ATTR.requestModel]: 'gpt-4o-mini' } },
      ROOT_CONTEXT,
    );
    const under = trace.setSpan(ROOT_CONTEXT, run);
    const conversationSpan = (name: string, fromMs: number, toMs: number, messages: number) => {
      const span = tracer.startSpan(name, { startTime: at(fromMs), attributes: { ...owner, [ATTR.operation]: name, [ATTR.store]: 'memory' } }, under);
      span.setAttribute(ATTR.conversationMessages, messages);
      span.end(at(toMs));
    };
    if (conversation) conversationSpan(SPAN_NAME.loadConversation(), startMs + 1, startMs + 3, conversation.loaded);
    const step = tracer.startSpan(SPAN_NAME.step(1), { startTime: at(startMs + 4), attributes: { [ATTR.operation]: OPERATION.step, [ATTR.stepIndex]: 1 } }, under);
    step.setAttribute(ATTR.stepFinish, 'final');
    step.end(at(startMs + 500));
    if (conversation) conversationSpan(SPAN_NAME.saveConversation(), startMs + 501, startMs + 504, conversation.loaded + 2);
    run.setAttributes({ [ATTR.steps]: 1, [ATTR.toolCalls]: 0, [ATTR.stopReason]: 'final', [ATTR.runCostUsd]: 0.00001 });
    run.setStatus({ code: SpanStatusCode.OK });
    run.end(at(startMs + 505));
    batches.push(exporter.getFinishedSpans());
    exporter.reset();
  };
  recordRun(0, { id: 'support-42', loaded: 0 });
  recordRun(2000);
  recordRun(3000, { id: 'other-7', loaded: 0 });
  recordRun(4000, { id: 'support-42', loaded: 2 });
  await provider.shutdown();
  const text = toLines(batches);
  const dir = await tempDir();
  const file = join(dir, 'traces.jsonl');
  await writeFile(file, text);
  return { dir, file, spans: batches.flat(), text };
}

/** Writes `text` to a fresh temp file and returns its path. */
export async function writeTemp(text: string, name = 'traces.jsonl'): Promise<string> {
  const file = join(await tempDir(), name);
  await writeFile(file, text);
  return file;
}

/** Runs the CLI in-process, capturing what it writes. */
export async function runCli(argv: string[], color = false): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), color };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
