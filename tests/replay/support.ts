/**
 * Helpers of the replay tests: a guard that fails any network connection, and the parts of a run
 * that a replay must reproduce (output, usage, cost, tool calls, span tree shape), in a form
 * `toEqual` can compare between a recording and its replay.
 */
import net from 'node:net';
import { expect } from 'vitest';
import type { Agent } from '../../src/agent.js';
import type { Message } from '../../src/messages.js';
import type { RecordedRun } from '../../src/replay/recording.js';
import { replayTrace, type ReplayOptions } from '../../src/replay/replay.js';
import type { RunResult } from '../../src/runtime/events.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans, type SpanCollector } from '../../src/testing/collect-spans.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { spanRecordOf, type AttributeValue, type SpanRecord } from '../../src/traces/span-record.js';
import { readTraceFile } from '../../src/traces/trace-file.js';

/** Connection attempts seen while the guard was on; each one also failed. */
export interface ConnectionGuard {
  readonly attempts: string[];
  restore(): void;
}

/**
 * Makes every outgoing socket connection (TCP, TLS, IPC, so any HTTP client) fail at once and
 * remembers where it went, until `restore()`. A replay run under it proves it is offline.
 */
export function forbidConnections(): ConnectionGuard {
  const attempts: string[] = [];
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const [first, second] = args as [unknown, unknown];
    const target = typeof first === 'object' && first !== null ? JSON.stringify(first) : `${String(second ?? '')}:${String(first)}`;
    attempts.push(target);
    throw new Error(`replay test: a network connection was attempted (${target})`);
  } as typeof original;
  return { attempts, restore: () => (net.Socket.prototype.connect = original) };
}

/** Runs `fn` with connections forbidden and asserts none was attempted. */
export async function offline<T>(fn: () => Promise<T>): Promise<T> {
  const guard = forbidConnections();
  try {
    return await fn();
  } finally {
    guard.restore();
    expect(guard.attempts, 'network connections attempted during replay').toEqual([]);
  }
}

/** Replays with a traced runtime over a span collector (content captured), connections forbidden. */
export async function replayTraced(file: string, a: Agent, options: Omit<ReplayOptions, 'runtime'> = {}) {
  const collector = collectSpans();
  const runtime = tracedRuntime({ tracerProvider: collector.tracerProvider, captureContent: true });
  const replay = await offline(() => replayTrace(file, a, { ...options, runtime }));
  return { replay, collector };
}

/** The attributes a replay must reproduce on each span (not times, ids or the server address). */
const KEPT = [
  ATTR.operationName,
  ATTR.agentName,
  ATTR.providerName,
  ATTR.requestModel,
  ATTR.stepIndex,
  ATTR.stepFinish,
  ATTR.toolName,
  ATTR.toolCallId,
  ATTR.toolCallArguments,
  ATTR.toolCallResult,
  ATTR.responseId,
  ATTR.responseModel,
  ATTR.responseFinishReasons,
  ATTR.usageInputTokens,
  ATTR.usageOutputTokens,
  ATTR.usageCacheReadTokens,
  ATTR.usageCacheCreationTokens,
  ATTR.usageReasoningTokens,
  ATTR.costAmount,
  ATTR.runCostUsd,
  ATTR.inputMessages,
  ATTR.outputMessages,
  ATTR.stopReason,
  ATTR.steps,
  ATTR.toolCalls,
  ATTR.errorType,
] as const;

/** A span as compared: name, kind, status, the kept attributes, its events' names, its children. */
export interface SpanShape {
  name: string;
  kind: string;
  status: string;
  attributes: Record<string, AttributeValue>;
  events: string[];
  children: SpanShape[];
}

/**
 * Whether replay reproduces a span: not one a served tool made while it ran (an MCP server's
 * `tools/call`), since a served tool does not run; a sub-run under a tool call is run again.
 */
function replayed(span: SpanRecord, parent: SpanRecord): boolean {
  return parent.attributes[ATTR.operationName] !== 'execute_tool' || span.attributes[ATTR.operationName] === 'invoke_agent';
}

function shapeOf(span: SpanRecord, all: readonly SpanRecord[]): SpanShape {
  const attributes: Record<string, AttributeValue> = {};
  for (const key of KEPT) if (span.attributes[key] !== undefined) attributes[key] = span.attributes[key];
  const children = all
    .filter((s) => s.traceId === span.traceId && s.parentSpanId === span.spanId && replayed(s, span))
    .map((s) => shapeOf(s, all))
    // Parallel tool calls start in any order: order siblings by name and call id instead.
    .sort((a, b) => `${a.name} ${String(a.attributes[ATTR.toolCallId])}`.localeCompare(`${b.name} ${String(b.attributes[ATTR.toolCallId])}`));
  return { name: span.name, kind: span.kind, status: span.status.code, attributes, events: span.events.map((e) => e.name), children };
}

/** The span tree of every top-level run (`invoke_agent` span, not a sub-run's) among the spans, in start order. */
export function runShapes(spans: readonly SpanRecord[]): SpanShape[] {
  return spans
    .filter((s) => s.attributes[ATTR.operationName] === 'invoke_agent' && s.attributes[ATTR.parentRunId] === undefined)
    .sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1))
    .map((run) => shapeOf(run, spans));
}

/** The span tree of the one run a trace file holds. */
export async function recordedShape(file: string, traceId: string): Promise<SpanShape> {
  const spans = (await readTraceFile(file)).filter((s) => s.traceId === traceId);
  const [shape, ...more] = runShapes(spans);
  expect(more).toEqual([]);
  return shape as SpanShape;
}

/** The span tree of the one run a collector holds. */
export function collectedShape(collector: SpanCollector): SpanShape {
  const [shape, ...more] = runShapes(collector.spans().map(spanRecordOf));
  expect(more).toEqual([]);
  return shape as SpanShape;
}

/** Tool calls and their results, as a run's messages hold them, in order. */
export function toolCallsOf(messages: readonly Message[]): { id: string; name: string; arguments: unknown; result?: string }[] {
  const results = new Map(messages.flatMap((m) => (m.role === 'tool' ? [[m.toolCallId, m.content] as const] : [])));
  return messages.flatMap((m) =>
    m.role === 'assistant' ? (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, result: results.get(c.id) })) : [],
  );
}

/** Tool calls and their results, as a recording holds them, in order. */
export function recordedToolCalls(run: RecordedRun): { id: string; name: string; arguments: unknown; result?: string }[] {
  return run.steps.flatMap((s) => s.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, result: c.result })));
}

/** Asserts a replayed run reproduced the recorded one: output, usage, cost, stop, steps, tool calls. */
export function expectSameRun(replayed: RunResult, recorded: RunResult | RecordedRun): void {
  if ('traceId' in recorded && 'spanId' in recorded) {
    expect(replayed.output).toBe(recorded.output);
    expect(replayed.usage).toEqual(recorded.usage);
    expect(replayed.costUsd).toBeCloseTo(recorded.costUsd ?? Number.NaN, 15);
    expect(replayed.stopReason).toBe(recorded.stopReason);
    expect(replayed.steps).toBe(recorded.steps.length);
    expect(toolCallsOf(replayed.messages)).toEqual(recordedToolCalls(recorded));
    return;
  }
  expect(replayed.output).toBe(recorded.output);
  expect(replayed.usage).toEqual(recorded.usage);
  expect(replayed.costUsd).toBe(recorded.costUsd);
  expect(replayed.stopReason).toBe(recorded.stopReason);
  expect(replayed.steps).toBe(recorded.steps);
  expect(replayed.toolCalls).toBe(recorded.toolCalls);
  expect(toolCallsOf(replayed.messages)).toEqual(toolCallsOf(recorded.messages));
}
