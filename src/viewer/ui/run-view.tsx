/** One run: its summary, the waterfall of its spans to scale, and the selected span's details. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ATTR } from '../../tracing/attributes.js';
import type { RunDetail, SpanRow } from '../api-types.js';
import { useJson, useLiveVersion } from './api.js';
import { duration, kindOf, markOf, time, tokens, usd } from './format.js';
import { href, navigate, type Route } from './route.js';
import { SpanDetails } from './span-details.js';

/** Height of one waterfall row in px; rows are absolutely placed, so only visible ones render. */
const ROW_HEIGHT = 24;
/** Rows rendered above and below the visible ones, so scrolling shows no blank edge. */
const OVERSCAN = 20;

export function RunView({ route }: { route: Route }) {
  const runId = route.path[1]!;
  const selectedSpan = route.params.span;
  // Until the run is read its trace is unknown, so any change reads it again; then only its own.
  const [traceId, setTraceId] = useState<string>();
  const version = useLiveVersion(traceId);
  const { data, error } = useJson<RunDetail>(`/api/runs/${encodeURIComponent(runId)}`, [version]);
  const loadedTrace = data?.summary.traceId;
  useEffect(() => setTraceId(loadedTrace), [loadedTrace]);
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="muted">Loading run…</p>;
  const { summary } = data;
  const select = (spanId: string) => navigate({ path: route.path, params: { ...route.params, span: spanId } });
  return (
    <section>
      <header class="run-header" data-testid="run-header">
        <h2>
          {summary.agent} <span class={`stop stop-${summary.stopReason ?? summary.status}`}>{summary.stopReason ?? summary.status.toLowerCase()}</span>
        </h2>
        <dl class="facts">
          <Fact name="Start" value={time(summary.start)} />
          <Fact name="Duration" value={duration(summary.durationMs)} />
          <Fact name="Steps" value={String(summary.steps)} />
          <Fact name="Tool calls" value={String(summary.toolCalls)} />
          <Fact
            name="Tokens"
            value={`${tokens(summary.tokens.input)} in / ${tokens(summary.tokens.output)} out${summary.tokens.cacheRead ? ` · ${tokens(summary.tokens.cacheRead)} cache read` : ''}${summary.tokens.reasoning ? ` · ${tokens(summary.tokens.reasoning)} reasoning` : ''}`}
          />
          <Fact name="Cost" value={usd(summary.costUsd)} />
          {summary.model && <Fact name="Model" value={`${summary.provider ?? ''} ${summary.model}`} />}
          {summary.runId && <Fact name="Run id" value={summary.runId} />}
        </dl>
        <p class="links">
          {summary.conversationId && <a href={href({ path: ['conversation', summary.conversationId], params: {} })}>conversation {summary.conversationId}</a>}{' '}
          <a href={href({ path: ['budget', summary.agent], params: {} })}>budget of {summary.agent}</a>
        </p>
      </header>
      <div class="run-body">
        <Waterfall spans={data.spans} total={summary.durationMs} selected={selectedSpan} onSelect={select} />
        <div class="details-pane">
          {selectedSpan ? (
            <SpanDetails runId={runId} spanId={selectedSpan} version={version} />
          ) : (
            <p class="muted">Click a span to see its attributes, events and content.</p>
          )}
        </div>
      </div>
    </section>
  );
}

function Fact({ name, value }: { name: string; value: string }) {
  return (
    <div>
      <dt>{name}</dt>
      <dd>{value}</dd>
    </div>
  );
}

function badges(span: SpanRow): string[] {
  const out: string[] = [];
  const attempts = span.attributes[ATTR.retryAttempts];
  if (typeof attempts === 'number' && attempts > 1) out.push(`retried ×${attempts - 1}`);
  const approval = span.attributes[ATTR.approval];
  if (typeof approval === 'string') out.push(approval);
  return out;
}

function Waterfall({ spans, total, selected, onSelect }: { spans: SpanRow[]; total: number; selected?: string; onSelect(spanId: string): void }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    setHeight(element.clientHeight);
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  // The run's span may end a hair before its last child's (each clock reading is its own).
  const scale = Math.max(total, 0.001, ...spans.map((span) => span.startMs + span.durationMs));
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(spans.length, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const pct = (ms: number) => `${Math.min(100, Math.max(0, (ms / scale) * 100))}%`;
  return (
    <div class="waterfall" data-testid="waterfall">
      <div class="axis">
        <span class="label-col">{spans.length} spans</span>
        <span class="ticks">
          {[0, 0.25, 0.5, 0.75, 1].map((f) => (
            <span key={f} style={{ left: `${f * 100}%` }}>
              {duration(scale * f)}
            </span>
          ))}
        </span>
      </div>
      <div
        class="rows"
        ref={box}
        style={{ height: `${spans.length * ROW_HEIGHT + 2}px` }}
        onScroll={(event) => setScrollTop((event.target as HTMLDivElement).scrollTop)}
      >
        <div style={{ height: `${spans.length * ROW_HEIGHT}px`, position: 'relative' }}>
          {spans.slice(first, last).map((span, i) => {
            const kind = kindOf(span);
            const failed = span.status.code === 'ERROR';
            return (
              <div
                key={span.spanId}
                class={`row kind-${kind}${failed ? ' failed' : ''}${span.spanId === selected ? ' selected' : ''}`}
                style={{ top: `${(first + i) * ROW_HEIGHT}px` }}
                data-span={span.spanId}
                data-kind={kind}
                onClick={() => onSelect(span.spanId)}
                title={`${span.name} · ${duration(span.durationMs)}${failed ? ` · error${span.status.message ? `: ${span.status.message}` : ''}` : ''}`}
              >
                <span class="label-col" style={{ paddingLeft: `${span.depth * 14 + 4}px` }}>
                  {failed && <span class="error-mark">⚠ </span>}
                  {span.name}
                  {badges(span).map((badge) => (
                    <span key={badge} class="badge">
                      {badge}
                    </span>
                  ))}
                </span>
                <span class="track">
                  <span class="bar" style={{ left: pct(span.startMs), width: `max(2px, ${pct(span.durationMs)})` }} />
                  <span class="bar-text" style={{ left: pct(span.startMs) }}>
                    {duration(span.durationMs)}
                  </span>
                  {span.events.map((event, j) => (
                    <span key={j} class={`mark mark-${markOf(event.name)}`} style={{ left: pct(event.atMs) }} title={`${event.name} at ${duration(event.atMs)}`} />
                  ))}
                </span>
              </div>
            );
          })}
        </div>
      </div>
      <div class="legend">
        {['run', 'conversation', 'step', 'compress', 'chat', 'tool', 'mcp'].map((kind) => (
          <span key={kind} class={`key kind-${kind}`}>
            <span class="swatch" /> {kind}
          </span>
        ))}
        <span class="key">
          <span class="mark-key mark-retry" /> retry
        </span>
        <span class="key">
          <span class="mark-key mark-budget" /> budget
        </span>
        <span class="key">
          <span class="mark-key mark-approval" /> approval
        </span>
        <span class="key failed">⚠ error</span>
      </div>
    </div>
  );
}
