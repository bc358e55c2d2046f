/**
 * Shared helpers of the runtime integration tests: the real provider SDKs against the recorded
 * server, a traced runtime over an in-memory span collector, the span tree, and expected values
 * read from the recorded fixtures (tests/fixtures/{openai,anthropic}, see SOURCES.md there).
 */
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import { addUsage, emptyUsage, type Usage } from '../../src/messages.js';
import { priceCall } from '../../src/pricing/price.js';
import type { Model } from '../../src/providers/model.js';
import type { RunEvent } from '../../src/runtime/events.js';
import { collectSpans, type SpanCollector } from '../../src/testing/collect-spans.js';
import { loadFixture, startRecordedServer, type RecordedExchange, type RecordedServer } from '../../src/testing/recorded-server.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';
import { tracedRuntime, type TracedRuntime } from '../../src/telemetry/traced-runtime.js';

/** Recorded JSON, read loosely: the tests take expected values out of it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export type Provider = 'openai' | 'anthropic' | 'gcp.gemini' | 'gcp.vertex_ai';

const DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** A fixture as the recorded server serves it. */
export function exchange(provider: Provider, name: string): Promise<RecordedExchange> {
  return loadFixture(`${DIR}${provider}/${name}`);
}

/** The recorded body of a `.json` fixture. */
export function body(provider: Provider, name: string): Json {
  return (JSON.parse(readFileSync(`${DIR}${provider}/${name}`, 'utf8')) as { body: Json }).body;
}

/** The raw text of an `.sse` fixture. */
export function sseText(provider: Provider, name: string): string {
  return readFileSync(`${DIR}${provider}/${name}`, 'utf8');
}

/** The JSON `data:` payloads of an `.sse` fixture, in order, without `[DONE]`. */
export function sseData(provider: Provider, name: string): Json[] {
  return sseText(provider, name)
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice('data: '.length)) as Json);
}

/** Usage in tracebound's (GenAI semconv) terms, from each recorded usage shape. */
export const recordedUsage = {
  /** Chat Completions `usage`: cached and reasoning tokens are already inside prompt/completion. */
  openaiChat(u: Json): Usage {
    return {
      inputTokens: u.prompt_tokens,
      outputTokens: u.completion_tokens,
      cacheReadTokens: u.prompt_tokens_details?.cached_tokens ?? 0,
      cacheWriteTokens: 0,
      reasoningTokens: u.completion_tokens_details?.reasoning_tokens ?? 0,
    };
  },
  /** Responses API `usage`. */
  openaiResponses(u: Json): Usage {
    return {
      inputTokens: u.input_tokens,
      outputTokens: u.output_tokens,
      cacheReadTokens: u.input_tokens_details?.cached_tokens ?? 0,
      cacheWriteTokens: 0,
      reasoningTokens: u.output_tokens_details?.reasoning_tokens ?? 0,
    };
  },
  /** Anthropic `usage`: `input_tokens` excludes cache reads and writes, so they are ADDED. */
  anthropic(u: Json): Usage {
    const read = u.cache_read_input_tokens ?? 0;
    const write = u.cache_creation_input_tokens ?? 0;
    return {
      inputTokens: u.input_tokens + read + write,
      outputTokens: u.output_tokens,
      cacheReadTokens: read,
      cacheWriteTokens: write,
      reasoningTokens: u.output_tokens_details?.thinking_tokens ?? 0,
    };
  },
};

/** The usage chunk of a Chat Completions stream (the last chunk with `usage`, sent by `include_usage`). */
export function chatStreamUsage(name: string): Json {
  const usage = sseData('openai', name).filter((e) => e.usage).at(-1)?.usage;
  if (!usage) throw new Error(`${name} has no usage chunk`);
  return usage;
}

/** The response of a Responses stream's `response.completed` event. */
export function responsesCompleted(name: string): Json {
  const event = sseData('openai', name).find((e) => e.type === 'response.completed');
  if (!event) throw new Error(`${name} has no response.completed event`);
  return event.response;
}

/**
 * An Anthropic stream as recorded: `message_start`'s message, and its usage with every count
 * the last `message_delta` carries laid over it (the delta's usage is cumulative).
 */
export function anthropicStream(name: string): { message: Json; usage: Json; stopReason: string } {
  const events = sseData('anthropic', name);
  const message = events.find((e) => e.type === 'message_start')?.message;
  const delta = events.filter((e) => e.type === 'message_delta').at(-1);
  if (!message || !delta) throw new Error(`${name} lacks message_start or message_delta`);
  const usage = { ...message.usage };
  for (const [k, v] of Object.entries(delta.usage as Record<string, unknown>)) if (v !== null && v !== undefined) usage[k] = v;
  return { message, usage, stopReason: delta.delta.stop_reason };
}

/** Anthropic `stop_reason` as `gen_ai.response.finish_reasons` names it (semconv values). */
export const anthropicFinish: Record<string, string> = { end_turn: 'stop', tool_use: 'tool_calls' };

/** A server, a span collector, a traced runtime, and every span the runtime started. */
export interface Harness {
  server: RecordedServer;
  collector: SpanCollector;
  runtime: TracedRuntime;
  /** Every span started through the runtime's tracer, ended or not. */
  started: Span[];
  close(): Promise<void>;
}

/**
 * Wraps a tracer provider so every span started through it is remembered: the in-memory exporter
 * only ever sees ended spans, so this is how a test sees a span that was never ended.
 */
function tracking(provider: TracerProvider, started: Span[]): TracerProvider {
  return {
    getTracer(name, version, options) {
      const tracer = provider.getTracer(name, version, options);
      const startActiveSpan = (...args: unknown[]) => (tracer.startActiveSpan as (...a: unknown[]) => unknown)(...args);
      return {
        startSpan(spanName, spanOptions, context) {
          const span = tracer.startSpan(spanName, spanOptions, context);
          started.push(span);
          return span;
        },
        startActiveSpan: startActiveSpan as Tracer['startActiveSpan'],
      };
    },
  };
}

/** The runtime of the brief: in-memory spans, content captured, fast retries. */
export async function harness(options: { langfuseAttributes?: boolean } = {}): Promise<Harness> {
  const server = await startRecordedServer();
  const collector = collectSpans();
  const started: Span[] = [];
  const runtime = tracedRuntime({
    tracerProvider: tracking(collector.tracerProvider, started),
    captureContent: true,
    langfuseAttributes: options.langfuseAttributes,
    retry: { initialDelayMs: 1, maxDelayMs: 50 },
  });
  return { server, collector, runtime, started, close: () => server.close() };
}

/** Asserts every span the runtime started has ended, and the collector holds exactly those. */
export function expectAllEnded(h: Harness): void {
  expect(h.started.length).toBeGreaterThan(0);
  const open = h.started.filter((s) => !(s as unknown as ReadableSpan).ended).map((s) => (s as unknown as ReadableSpan).name);
  expect(open).toEqual([]);
  expect(h.collector.spans()).toHaveLength(h.started.length);
}

/** The spans of one run, as DESIGN.md's span catalogue arranges them. */
export interface Tree {
  run: ReadableSpan;
  /** `step 1`, `step 2`, ... in order. */
  steps: ReadableSpan[];
  /** The one `chat` span of each step, in step order. */
  chats: ReadableSpan[];
  /** The `execute_tool` spans of each step, in start order. */
  tools: ReadableSpan[][];
}

const id = (s: ReadableSpan) => s.spanContext().spanId;
const startNs = (s: ReadableSpan) => s.startTime[0] * 1e9 + s.startTime[1];

/**
 * Checks the span tree of one run (names, kinds, parentage, one trace, nothing else) and returns
 * it: `invoke_agent <agent>` (root, INTERNAL) > `step N` (INTERNAL) > one `chat <model>` (CLIENT)
 * and `execute_tool <tool>` spans (INTERNAL).
 */
export function spanTree(spans: ReadableSpan[], agentName: string, modelId: string): Tree {
  const runs = spans.filter((s) => s.name === `invoke_agent ${agentName}`);
  expect(runs).toHaveLength(1);
  const run = runs[0] as ReadableSpan;
  expect(run.parentSpanContext).toBeUndefined();
  expect(run.kind).toBe(SpanKind.INTERNAL);
  expect(run.attributes[ATTR.operationName]).toBe('invoke_agent');
  expect(run.attributes[ATTR.agentName]).toBe(agentName);
  for (const s of spans) expect(s.spanContext().traceId).toBe(run.spanContext().traceId);

  const steps = spans.filter((s) => s.name.startsWith('step ')).sort((a, b) => startNs(a) - startNs(b));
  expect(steps.map((s) => s.name)).toEqual(steps.map((_, i) => `step ${i + 1}`));
  const chats: ReadableSpan[] = [];
  const tools: ReadableSpan[][] = [];
  for (const [i, step] of steps.entries()) {
    expect(step.parentSpanContext?.spanId).toBe(id(run));
    expect(step.kind).toBe(SpanKind.INTERNAL);
    expect(step.attributes[ATTR.stepIndex]).toBe(i + 1);
    const children = spans.filter((s) => s.parentSpanContext?.spanId === id(step)).sort((a, b) => startNs(a) - startNs(b));
    const chat = children.filter((s) => s.name.startsWith('chat '));
    expect(chat.map((c) => c.name)).toEqual([`chat ${modelId}`]);
    expect(chat[0]?.kind).toBe(SpanKind.CLIENT);
    expect(chat[0]?.attributes[ATTR.operationName]).toBe('chat');
    chats.push(chat[0] as ReadableSpan);
    const stepTools = children.filter((s) => s.name.startsWith('execute_tool '));
    for (const t of stepTools) {
      expect(t.kind).toBe(SpanKind.INTERNAL);
      expect(t.name).toBe(`execute_tool ${String(t.attributes[ATTR.toolName])}`);
      expect(t.attributes[ATTR.operationName]).toBe('execute_tool');
    }
    // Nothing else hangs under a step here (no compression in these runs).
    expect(children).toHaveLength(chat.length + stepTools.length);
    tools.push(stepTools);
  }
  // Every span is the run, a step, or a child of a step.
  expect(spans).toHaveLength(1 + steps.length + chats.length + tools.flat().length);
  return { run, steps, chats, tools };
}

/** What one chat span must say, taken from a recorded response. */
export interface ExpectedCall {
  usage: Usage;
  responseId: string;
  responseModel: string;
  finishReason: string;
}

/** The USD of one call as the pricing module prices it; fails when the model has no price. */
export function priced(provider: Provider, modelId: string, usage: Usage): number {
  const cost = priceCall(provider, modelId, usage);
  expect(cost, `${provider}:${modelId} has a price`).toBeDefined();
  return cost?.usd ?? Number.NaN;
}

/** Asserts a chat span's request, response, token, cost and retry attributes. */
export function expectChatSpan(
  span: ReadableSpan,
  provider: Provider,
  modelId: string,
  server: RecordedServer,
  call: ExpectedCall,
  retries = 0,
): void {
  const a = span.attributes;
  expect(a[ATTR.providerName]).toBe(provider);
  expect(a[ATTR.requestModel]).toBe(modelId);
  expect(a[ATTR.serverAddress]).toBe('127.0.0.1');
  expect(a[ATTR.serverPort]).toBe(Number(new URL(server.url).port));
  expect(a[ATTR.responseId]).toBe(call.responseId);
  expect(a[ATTR.responseModel]).toBe(call.responseModel);
  expect(a[ATTR.responseFinishReasons]).toEqual([call.finishReason]);
  expect({
    input: a[ATTR.usageInputTokens],
    output: a[ATTR.usageOutputTokens],
    cacheRead: count(a, ATTR.usageCacheReadTokens),
    cacheWrite: count(a, ATTR.usageCacheCreationTokens),
    reasoning: count(a, ATTR.usageReasoningTokens),
  }).toEqual({
    input: call.usage.inputTokens,
    output: call.usage.outputTokens,
    cacheRead: call.usage.cacheReadTokens,
    cacheWrite: call.usage.cacheWriteTokens,
    reasoning: call.usage.reasoningTokens,
  });
  // Priced on the model that served the call (it is the one billed).
  expect(a[ATTR.costAmount]).toBeCloseTo(priced(provider, call.responseModel, call.usage), 12);
  expect(a[ATTR.costCurrency]).toBe('USD');
  expect(a[ATTR.costSource]).toBe('local');
  // Written only when there were retries.
  expect(a[ATTR.retryAttempts]).toBe(retries || undefined);
  expect(span.events.filter((e) => e.name === EVENT.retry)).toHaveLength(retries);
  expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
}

/** A token count that is left out when zero: the absent attribute reads as 0, and a 0 is never written. */
function count(attributes: ReadableSpan['attributes'], key: string): unknown {
  expect(attributes[key]).not.toBe(0);
  return attributes[key] ?? 0;
}

/** Asserts the run span's totals: tokens summed over the calls, cost = sum of the calls' prices. */
export function expectRunTotals(
  run: ReadableSpan,
  provider: Provider,
  modelId: string,
  usages: Usage[],
  end: { stopReason: string; steps: number; toolCalls: number },
): { usage: Usage; usd: number } {
  const usage = usages.reduce(addUsage, emptyUsage());
  const usd = usages.reduce((sum, u) => sum + priced(provider, modelId, u), 0);
  const a = run.attributes;
  expect(a[ATTR.providerName]).toBe(provider);
  expect(a[ATTR.requestModel]).toBe(modelId);
  expect({
    input: a[ATTR.usageInputTokens],
    output: a[ATTR.usageOutputTokens],
    cacheRead: count(a, ATTR.usageCacheReadTokens),
    cacheWrite: count(a, ATTR.usageCacheCreationTokens),
    reasoning: count(a, ATTR.usageReasoningTokens),
  }).toEqual({
    input: usage.inputTokens,
    output: usage.outputTokens,
    cacheRead: usage.cacheReadTokens,
    cacheWrite: usage.cacheWriteTokens,
    reasoning: usage.reasoningTokens,
  });
  expect(a[ATTR.runCostUsd]).toBeCloseTo(usd, 12);
  expect(a[ATTR.costAmount]).toBeUndefined();
  expect(a[ATTR.stopReason]).toBe(end.stopReason);
  expect(a[ATTR.steps]).toBe(end.steps);
  expect(a[ATTR.toolCalls]).toBe(end.toolCalls);
  return { usage, usd };
}

/** Reads a run's event stream to its end; returns the events and what it threw, if anything. */
export async function drain(events: AsyncIterable<RunEvent>, onEvent?: (event: RunEvent) => void): Promise<{ events: RunEvent[]; error: unknown }> {
  const seen: RunEvent[] = [];
  try {
    for await (const event of events) {
      seen.push(event);
      onEvent?.(event);
    }
  } catch (error) {
    return { events: seen, error };
  }
  return { events: seen, error: undefined };
}


/** Concatenated text of the `text-delta` events. */
export function streamedText(events: RunEvent[]): string {
  return events.flatMap((e) => (e.type === 'text-delta' ? [e.text] : [])).join('');
}

/** Byte offset just after the `n`-th SSE event (1-based) of a body: a cut that keeps n events whole. */
export function afterEvents(sse: string, n: number): number {
  const parts = sse.split('\n\n');
  return Buffer.byteLength(parts.slice(0, n).join('\n\n') + '\n\n');
}

/** The spans of one trace (one run), from everything collected. */
export function traceSpans(h: Harness, traceId: string): ReadableSpan[] {
  return h.collector.spans().filter((s) => s.spanContext().traceId === traceId);
}

/** Wraps a model so the test sees the abort signal each of its calls was given. */
export function recordingSignals(model: Model, signals: AbortSignal[]): Model {
  return {
    provider: model.provider,
    modelId: model.modelId,
    server: model.server,
    generate(request) {
      if (request.signal) signals.push(request.signal);
      return model.generate(request);
    },
    stream(request) {
      if (request.signal) signals.push(request.signal);
      return model.stream(request);
    },
  };
}

/** The most `abort` listeners any one of these signals still holds. */
export function mostAbortListeners(signals: AbortSignal[]): number {
  return Math.max(0, ...[...new Set(signals)].map((s) => getEventListeners(s, 'abort').length));
}
