/**
 * The shapes of the viewer's JSON API (`/api/*`), shared by the server and the browser UI
 * (types only: the UI bundle imports nothing from the server at run time). Times are ms: epoch
 * ms where named `*EpochMs` or `start`, else ms from the run's start; money is USD.
 */
import type { RunSummary } from '../traces/run-summary.js';
import type { AttributeValue, SpanRecord } from '../traces/span-record.js';

export type { RunSummary };

/** Filters and page of `GET /api/runs`. */
export interface RunQuery {
  agent?: string;
  /** A `tracebound.stop_reason`, or the status code for runs that recorded none. */
  stopReason?: string;
  conversation?: string;
  offset: number;
  limit: number;
}

/** A line of the file or an OTLP request that could not be read. */
export interface ProblemView {
  /** The file's path, or `POST /v1/traces`. */
  source: string;
  message: string;
}

/** `GET /api/runs`: one page of top-level runs, newest first. */
export interface RunList {
  /** The index's version when answered; `GET /api/events` says when it moves. */
  version: number;
  /** Runs that match the filters (all pages). */
  total: number;
  offset: number;
  runs: RunSummary[];
  /** Sums over every matching run, not only this page. */
  totals: { runs: number; costUsd: number; inputTokens: number; outputTokens: number; tokens: number };
  /** Choices for the filters, from every run. */
  facets: { agents: string[]; stopReasons: string[]; conversations: string[] };
  problems: ProblemView[];
}

/** A span event, its time in ms from the run's start. */
export interface EventView {
  name: string;
  atMs: number;
  attributes: Record<string, AttributeValue>;
}

/** One waterfall row: a span with long strings cut (see `truncated`). */
export interface SpanRow {
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  /** Nesting under the run span (the run itself is 0). */
  depth: number;
  startMs: number;
  durationMs: number;
  startEpochMs: number;
  status: SpanRecord['status'];
  attributes: Record<string, AttributeValue>;
  /** True when a string attribute was cut; `GET /api/runs/{id}/spans/{spanId}` has it whole. */
  truncated: boolean;
  events: EventView[];
}

/** `GET /api/runs/{id}/spans/{spanId}`: one span, attributes whole, with its resource. */
export interface SpanDetail extends SpanRow {
  resource: Record<string, AttributeValue>;
}

/** `GET /api/runs/{id}`: a run's summary and its spans in waterfall order. */
export interface RunDetail {
  summary: RunSummary;
  /** Runs nested in this one (agents called as tools). */
  subRuns: RunSummary[];
  spans: SpanRow[];
}

/** `GET /api/budget/{agent}`: an agent's spend over its runs, oldest first. */
export interface BudgetView {
  agent: string;
  points: { spanId: string; start: number; costUsd: number; cumulativeUsd: number; windowSpentUsd?: number }[];
  /** Limits the latest run recorded (`tracebound.budget.*.limit`), when it had them. */
  limits: { spendUsd?: number; spendWindow?: string; runCostUsd?: number };
  totalUsd: number;
  tokens: number;
}

/** `GET /api/conversations/{id}`: the conversation's runs (its turns), oldest first. */
export interface ConversationView {
  conversationId: string;
  /** Each turn's run, with its answer's text when content was captured. */
  runs: (RunSummary & { output?: string })[];
}
