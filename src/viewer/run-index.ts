/**
 * The viewer's in-memory index of runs: spans grouped by trace, as they arrive from the trace
 * file or over OTLP, and each trace's run summaries, computed again only for the traces that
 * changed. Everything the JSON API answers is read from here.
 */
import { ATTR } from '../tracing/attributes.js';
import { summarizeRuns, type RunSummary } from '../traces/run-summary.js';
import type { AttributeValue, SpanRecord } from '../traces/span-record.js';
import type { BudgetView, ConversationView, ProblemView, RunDetail, RunList, RunQuery, SpanDetail, SpanRow } from './api-types.js';

/** Where a span came from: the followed file, or an OTLP/HTTP request. */
export type SpanOrigin = 'file' | 'otlp';

interface TraceEntry {
  /** By span id: a span sent both ways (file and OTLP) is kept once. */
  spans: Map<string, { span: SpanRecord; origin: SpanOrigin }>;
  /** The runs as last summarized; the trace is in `dirty` when spans arrived since. */
  summaries: RunSummary[];
}

/** Most problems (malformed lines, rejected requests) kept to show; older ones are dropped. */
const MAX_PROBLEMS = 20;

function nsToMs(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}

function totalTokens(summary: RunSummary): number {
  return summary.tokens.input + summary.tokens.output;
}

/** Runs and spans seen so far; `version` grows with every change, for live updates. */
export class RunIndex {
  private readonly traces = new Map<string, TraceEntry>();
  private readonly dirty = new Set<string>();
  /** Run span id -> its summary, every run (sub-runs too); rebuilt for dirty traces on read. */
  private readonly runs = new Map<string, RunSummary>();
  private readonly problemList: ProblemView[] = [];
  private readonly listeners = new Set<() => void>();
  private changeVersion = 0;
  /** Trace id -> the version of its last change, so a page showing one run reads it again only when it changed. */
  private readonly traceChanged = new Map<string, number>();

  /** Grows by one with every change; the UI refetches when it moves. */
  get version(): number {
    return this.changeVersion;
  }

  /** Calls `listener` after each change; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(traceIds: Iterable<string> = []): void {
    this.changeVersion += 1;
    for (const traceId of traceIds) this.traceChanged.set(traceId, this.changeVersion);
    for (const listener of this.listeners) listener();
  }

  /** Traces that changed after `version` (a version this index gave earlier). */
  changedSince(version: number): string[] {
    const traceIds: string[] = [];
    for (const [traceId, changed] of this.traceChanged) if (changed > version) traceIds.push(traceId);
    return traceIds;
  }

  /** Adds spans (a span already held, by trace and span id, is ignored). */
  add(spans: readonly SpanRecord[], origin: SpanOrigin): void {
    if (spans.length === 0) return;
    const touched = new Set<string>();
    for (const span of spans) {
      let trace = this.traces.get(span.traceId);
      if (trace === undefined) this.traces.set(span.traceId, (trace = { spans: new Map(), summaries: [] }));
      if (trace.spans.has(span.spanId)) continue;
      trace.spans.set(span.spanId, { span, origin });
      this.dirty.add(span.traceId);
      touched.add(span.traceId);
    }
    this.changed(touched);
  }

  /** Forgets every span read from the file (it was truncated or replaced); OTLP spans stay. */
  resetFile(): void {
    for (const [traceId, trace] of this.traces) {
      for (const [spanId, entry] of trace.spans) if (entry.origin === 'file') trace.spans.delete(spanId);
      this.dirty.add(traceId);
    }
    this.problemList.length = 0;
    this.changed(this.traces.keys());
  }

  /** Records a line or request that could not be read, to show in the UI. */
  problem(problem: ProblemView): void {
    this.problemList.push(problem);
    if (this.problemList.length > MAX_PROBLEMS) this.problemList.shift();
    this.changed();
  }

  get problems(): readonly ProblemView[] {
    return this.problemList;
  }

  /** Brings the summaries of changed traces up to date. */
  private refresh(): void {
    for (const traceId of this.dirty) {
      const trace = this.traces.get(traceId);
      if (trace === undefined) continue;
      for (const old of trace.summaries) this.runs.delete(old.spanId);
      trace.summaries = summarizeRuns([...trace.spans.values()].map((entry) => entry.span));
      for (const summary of trace.summaries) this.runs.set(summary.spanId, summary);
      if (trace.spans.size === 0) this.traces.delete(traceId);
    }
    this.dirty.clear();
  }

  /** Top-level runs (sub-runs show inside their parent), newest first. */
  private topRuns(): RunSummary[] {
    this.refresh();
    return [...this.runs.values()].filter((run) => run.parentRunId === undefined).sort((a, b) => b.start - a.start);
  }

  /**
   * One page of the runs list, newest first, filtered; with totals and the filter choices of
   * every run (not only the page).
   */
  list(query: RunQuery): RunList {
    const all = this.topRuns();
    const matches = all.filter(
      (run) =>
        (query.agent === undefined || run.agent === query.agent) &&
        (query.stopReason === undefined || (run.stopReason ?? run.status) === query.stopReason) &&
        (query.conversation === undefined || run.conversationId === query.conversation),
    );
    const facets = { agents: new Set<string>(), stopReasons: new Set<string>(), conversations: new Set<string>() };
    for (const run of all) {
      facets.agents.add(run.agent);
      facets.stopReasons.add(run.stopReason ?? run.status);
      if (run.conversationId !== undefined) facets.conversations.add(run.conversationId);
    }
    let costUsd = 0;
    let input = 0;
    let output = 0;
    for (const run of matches) {
      costUsd += run.costUsd ?? 0;
      input += run.tokens.input;
      output += run.tokens.output;
    }
    return {
      version: this.changeVersion,
      total: matches.length,
      offset: query.offset,
      runs: matches.slice(query.offset, query.offset + query.limit),
      totals: { runs: matches.length, costUsd, inputTokens: input, outputTokens: output, tokens: input + output },
      facets: {
        agents: [...facets.agents].sort(),
        stopReasons: [...facets.stopReasons].sort(),
        conversations: [...facets.conversations].sort(),
      },
      problems: [...this.problemList],
    };
  }

  /** A run's summary by its run span id, sub-runs included. */
  summary(spanId: string): RunSummary | undefined {
    this.refresh();
    return this.runs.get(spanId);
  }

  /**
   * A run and every span under it (sub-runs nested), in waterfall order: depth first, siblings by
   * start time. Times are ms from the run's start.
   */
  run(spanId: string): RunDetail | undefined {
    const summary = this.summary(spanId);
    const trace = summary && this.traces.get(summary.traceId);
    const root = trace?.spans.get(spanId)?.span;
    if (summary === undefined || trace === undefined || root === undefined) return undefined;
    const children = new Map<string, SpanRecord[]>();
    for (const { span } of trace.spans.values()) {
      if (span.parentSpanId === undefined) continue;
      const siblings = children.get(span.parentSpanId);
      if (siblings === undefined) children.set(span.parentSpanId, [span]);
      else siblings.push(span);
    }
    const origin = root.startTimeUnixNano;
    const rows: SpanRow[] = [];
    const seen = new Set<string>();
    const stack: { span: SpanRecord; depth: number }[] = [{ span: root, depth: 0 }];
    for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
      const { span, depth } = item;
      // A damaged file's parent ids may loop; list each span once.
      if (seen.has(span.spanId)) continue;
      seen.add(span.spanId);
      rows.push(spanRow(span, depth, origin));
      const kids = (children.get(span.spanId) ?? []).slice().sort((a, b) => (a.startTimeUnixNano < b.startTimeUnixNano ? 1 : -1));
      for (const kid of kids) stack.push({ span: kid, depth: depth + 1 });
    }
    const subRuns = [...this.runs.values()].filter((run) => run.traceId === summary.traceId && run.spanId !== spanId && seen.has(run.spanId));
    return { summary, subRuns, spans: rows };
  }

  /** One span of a run in full, or undefined when the run or the span is unknown. */
  span(runSpanId: string, spanId: string): SpanDetail | undefined {
    const summary = this.summary(runSpanId);
    const trace = summary && this.traces.get(summary.traceId);
    const root = trace?.spans.get(runSpanId)?.span;
    const span = trace?.spans.get(spanId)?.span;
    return root && span ? spanDetail(span, root.startTimeUnixNano) : undefined;
  }

  /** Every run of a conversation (sub-runs left out), oldest first, with each answer's text. */
  conversation(id: string): ConversationView {
    const runs = this.topRuns()
      .filter((run) => run.conversationId === id)
      .reverse()
      .map((run) => {
        const recorded = this.traces.get(run.traceId)?.spans.get(run.spanId)?.span.attributes[ATTR.outputMessages];
        const output = typeof recorded === 'string' ? answerText(recorded) : undefined;
        return output === undefined ? run : { ...run, output };
      });
    return { conversationId: id, runs };
  }

  /**
   * An agent's spend over time: each top-level run's cost and the running total, oldest first,
   * with the budget limits its run spans recorded (the latest run's, as the policy may change).
   */
  budget(agent: string): BudgetView {
    const runs = this.topRuns()
      .filter((run) => run.agent === agent)
      .reverse();
    let cumulative = 0;
    const points = runs.map((run) => {
      cumulative += run.costUsd ?? 0;
      const span = this.traces.get(run.traceId)?.spans.get(run.spanId)?.span;
      const windowSpent = span ? numberAttribute(span.attributes[ATTR.budgetSpendSpent]) : undefined;
      return {
        spanId: run.spanId,
        start: run.start,
        costUsd: run.costUsd ?? 0,
        cumulativeUsd: cumulative,
        ...(windowSpent !== undefined ? { windowSpentUsd: windowSpent } : {}),
      };
    });
    const latest = runs.at(-1);
    const span = latest && this.traces.get(latest.traceId)?.spans.get(latest.spanId)?.span;
    const limits: BudgetView['limits'] = {};
    if (span) {
      const spend = numberAttribute(span.attributes[ATTR.budgetSpendLimit]);
      const window = span.attributes[ATTR.budgetSpendWindow];
      const run = numberAttribute(span.attributes[ATTR.budgetRunCostLimit]);
      if (spend !== undefined) limits.spendUsd = spend;
      if (typeof window === 'string') limits.spendWindow = window;
      if (run !== undefined) limits.runCostUsd = run;
    }
    return { agent, points, limits, totalUsd: cumulative, tokens: runs.reduce((sum, run) => sum + totalTokens(run), 0) };
  }

  /** Agents with at least one top-level run, sorted. */
  agents(): string[] {
    return [...new Set(this.topRuns().map((run) => run.agent))].sort();
  }
}

/**
 * The text parts of recorded output messages (`gen_ai.output.messages`, GenAI semconv shape:
 * `[{ role, parts: [{ type: 'text', content }] }]`); the JSON as recorded when it has another shape.
 */
function answerText(recorded: string): string {
  try {
    const messages = JSON.parse(recorded) as { parts?: { type?: unknown; content?: unknown }[] }[];
    const texts = messages.flatMap((message) => (message.parts ?? []).filter((part) => part.type === 'text').map((part) => String(part.content)));
    return texts.length > 0 ? texts.join('\n') : recorded;
  } catch {
    return recorded;
  }
}

function numberAttribute(value: AttributeValue | undefined): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

/**
 * Longest string attribute a waterfall row carries, in characters. Message content can make a
 * long run's spans weigh megabytes (every chat span repeats the history); the full span is
 * fetched when it is selected.
 */
const ROW_STRING_LIMIT = 200;

function shortAttributes(attributes: Record<string, AttributeValue>): { attributes: Record<string, AttributeValue>; truncated: boolean } {
  let truncated = false;
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value === 'string' && value.length > ROW_STRING_LIMIT) {
      out[key] = `${value.slice(0, ROW_STRING_LIMIT)}…`;
      truncated = true;
    } else out[key] = value;
  }
  return { attributes: out, truncated };
}

function spanRow(span: SpanRecord, depth: number, origin: bigint): SpanRow {
  const { attributes, truncated } = shortAttributes(span.attributes);
  return {
    spanId: span.spanId,
    ...(span.parentSpanId !== undefined ? { parentSpanId: span.parentSpanId } : {}),
    name: span.name,
    kind: span.kind,
    depth,
    startMs: nsToMs(span.startTimeUnixNano - origin),
    durationMs: nsToMs(span.endTimeUnixNano - span.startTimeUnixNano),
    startEpochMs: nsToMs(span.startTimeUnixNano),
    status: span.status,
    attributes,
    truncated,
    events: span.events.map((event) => ({ name: event.name, atMs: nsToMs(event.timeUnixNano - origin), attributes: event.attributes })),
  };
}

/** A span in full (content, resource), times in ms from its run's start. */
function spanDetail(span: SpanRecord, origin: bigint): SpanDetail {
  return {
    ...spanRow(span, 0, origin),
    attributes: span.attributes,
    truncated: false,
    resource: span.resource,
  };
}
