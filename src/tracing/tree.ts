/**
 * Turns finished spans into the printable span tree of `tracebound show` and `tracebound run`,
 * and the one-line form of a span the `console` exporter prints.
 *
 * Pure functions over {@link SpanRecord}s: they return lines (no trailing newline) and never
 * write. A run prints as its header, one block per child (steps), then a footer with the totals;
 * the footer is always the run's last child, so a step can be printed as soon as it ends without
 * knowing whether another follows.
 */
import { ATTR, EVENT, EVENT_ATTR, OPERATION, RESOURCE_ATTR, SPAN_NAME, TRACER_NAME } from './attributes.js';
import { agentNameOf, isRunSpan as isRun, operationOf } from '../traces/run-summary.js';
import { numberAttribute as num, stringAttribute as str, type AttributeValue, type SpanRecord } from '../traces/span-record.js';

/** How to render. */
export interface TreeOptions {
  /** ANSI colours; pass false when `NO_COLOR` is set or the output is not a TTY. */
  color: boolean;
}

/** What the run's first line shows; known before the run ends. */
export interface RunHeader {
  agentName: string;
  /** Requested model id, e.g. `gpt-4o-mini`. */
  model?: string;
  /** `gen_ai.provider.name`, e.g. `openai`. */
  provider?: string;
}

type Style = 'bold' | 'dim' | 'red' | 'yellow';
const ANSI: Record<Style, string> = { bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m' };

function paint(style: Style, text: string, options: TreeOptions): string {
  return options.color ? `${ANSI[style]}${text}\x1b[0m` : text;
}

const BRANCH = '├─ ';
const LAST = '└─ ';
const PIPE = '│  ';
const SPACE = '   ';


function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** Milliseconds, one decimal below 10 ms where rounding would hide the difference. */
function formatDuration(span: SpanRecord): string {
  const ms = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
  return `${Math.abs(ms) < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

/** USD with six decimals, so a tiny but real cost never prints as `$0.000000`. */
function formatUsd(amount: number): string {
  return amount > 0 && amount < 0.0000005 ? '<$0.000001' : `$${amount.toFixed(6)}`;
}

/** `tokens in/out` plus cache reads and reasoning when non-zero; undefined with no usage at all. */
function formatTokens(span: SpanRecord): string | undefined {
  const input = num(span, ATTR.usageInputTokens);
  const output = num(span, ATTR.usageOutputTokens);
  if (input === undefined && output === undefined) return undefined;
  const extras: string[] = [];
  const cacheRead = num(span, ATTR.usageCacheReadTokens) ?? 0;
  const reasoning = num(span, ATTR.usageReasoningTokens) ?? 0;
  if (cacheRead > 0) extras.push(`cache read ${cacheRead}`);
  if (reasoning > 0) extras.push(`reasoning ${reasoning}`);
  const tokens = `tokens ${input ?? '?'}/${output ?? '?'}`;
  return extras.length > 0 ? `${tokens} (${extras.join(', ')})` : tokens;
}

/**
 * The recorded cost (a run's `tracebound.run.cost_usd`, else `gen_ai.usage.cost.amount`, where
 * older recordings also kept a run's total, else a priced tool call's `tracebound.tool.cost_usd`), or `cost ?` where a cost was expected but is absent
 * (an unpriced model): printing `$0` there would claim the call was free.
 */
function formatCost(span: SpanRecord, expected: boolean, options: TreeOptions): string | undefined {
  const amount = num(span, ATTR.runCostUsd) ?? num(span, ATTR.costAmount) ?? num(span, ATTR.toolCostUsd);
  if (amount !== undefined) return formatUsd(amount);
  return expected ? paint('yellow', 'cost ?', options) : undefined;
}

/** `ERROR <error.type>: <first line of the status message>`, or undefined unless status is ERROR. */
function formatError(span: SpanRecord, options: TreeOptions): string | undefined {
  if (span.status.code !== 'ERROR') return undefined;
  const type = str(span, ATTR.errorType);
  const message = span.status.message?.split('\n')[0]?.slice(0, 120);
  const text = ['ERROR', type].filter(Boolean).join(' ') + (message ? `: ${message}` : '');
  return paint('red', text, options);
}

function joinParts(parts: (string | undefined)[]): string {
  return parts.filter((part): part is string => part !== undefined && part !== '').join('  ');
}

function formatEventValue(value: AttributeValue): string {
  if (Array.isArray(value)) return JSON.stringify(value);
  return typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value);
}

const SHOWN_EVENTS: ReadonlySet<string> = new Set(Object.values(EVENT));

/**
 * A budget event in words. A model call's check: `budget run: lower, $0.000164 of $0.000244
 * held, $0.000086 spent of $0.000250, max tokens lowered to 166` (`allow` held the call's worst
 * case; `lower` could hold only part of it, so max output tokens were lowered to what fits;
 * `refuse` could not hold even the minimum output, so the run stops `budget_exceeded`, or answers
 * once more with `onLimit: 'finish'`). A priced tool call's check (it has a `tool_call_id`, and
 * no tokens: its price is held whole or not at all): `budget run: tool call call_1: allow, $0.010000
 * reserved, $0.000000 spent of $0.015000`, or `refuse (its $0.010000 does not fit, not run),
 * $0.010000 spent of $0.015000, $0.005000 left`. Settles name the tool call too.
 */
function describeBudgetEvent(name: string, a: Record<string, AttributeValue>): string | undefined {
  const usd = (key: string) => (typeof a[key] === 'number' ? formatUsd(a[key] as number) : '?');
  const toolCall = a[EVENT_ATTR.toolCallId];
  const scope = `budget ${String(a[EVENT_ATTR.scope])}${toolCall === undefined ? '' : `: tool call ${String(toolCall)}`}`;
  if (name === EVENT.budgetCheck) {
    const decision = a[EVENT_ATTR.decision];
    const spent = `${usd(EVENT_ATTR.spent)} spent of ${usd(EVENT_ATTR.limit)}`;
    if (toolCall !== undefined) {
      return decision === 'refuse'
        ? `${scope}: refuse (its ${usd(EVENT_ATTR.requestedUsd)} does not fit, not run), ${spent}, ${usd(EVENT_ATTR.remaining)} left`
        : `${scope}: ${String(decision)}, ${usd(EVENT_ATTR.grantedUsd)} reserved, ${spent}`;
    }
    const held = `${usd(EVENT_ATTR.grantedUsd)} of ${usd(EVENT_ATTR.requestedUsd)} held, ${spent}`;
    if (decision === 'refuse') return `${scope}: refuse (not even the minimum output fits), ${held}`;
    const tokens = `max tokens ${decision === 'lower' ? 'lowered to ' : ''}${String(a[EVENT_ATTR.maxOutputTokens])}`;
    return `${scope}: ${String(decision)}, ${held}, ${tokens}`;
  }
  if (name === EVENT.budgetSettle) {
    return `${scope}: settled ${usd(EVENT_ATTR.actual)} (held ${usd(EVENT_ATTR.reserved)})`;
  }
  return undefined;
}

/** tracebound's own events (budget decisions, retries, unknown prices), one line each. */
function eventLines(span: SpanRecord, prefix: string, options: TreeOptions): string[] {
  return span.events
    .filter((event) => SHOWN_EVENTS.has(event.name))
    .map((event) => {
      const name = event.name.startsWith(`${TRACER_NAME}.`) ? event.name.slice(TRACER_NAME.length + 1) : event.name;
      const text =
        describeBudgetEvent(event.name, event.attributes) ??
        [name, ...Object.entries(event.attributes).map(([key, value]) => `${key}=${formatEventValue(value)}`)].join(' ');
      return paint('dim', prefix, options) + paint('dim', `· ${text}`, options);
    });
}

/**
 * What a `compress_context` span did: `tokens 9120 → 7400 of 8000 by drop_tool_results,trim`
 * (prompt tokens before and after, the `contextTokens` limit, the strategies used).
 */
function formatCompression(span: SpanRecord): string | undefined {
  const before = num(span, ATTR.contextTokensBefore);
  if (before === undefined) return undefined;
  const after = num(span, ATTR.contextTokensAfter);
  const limit = num(span, ATTR.contextLimit);
  const strategy = str(span, ATTR.contextStrategy);
  return [
    `tokens ${before} → ${after ?? '?'}`,
    limit === undefined ? '' : ` of ${limit}`,
    strategy ? ` by ${strategy}` : '',
    after !== undefined && limit !== undefined && after > limit ? ' (still over)' : '',
  ].join('');
}

/** How many messages a `load_conversation` / `save_conversation` span loaded or saved: `4 messages`. */
function formatMessages(span: SpanRecord): string | undefined {
  const count = num(span, ATTR.conversationMessages);
  return count === undefined ? undefined : plural(count, 'message');
}

/** A guardrail check's verdict: `pass`, or `fail: <reason>`. */
function formatGuardrail(span: SpanRecord): string | undefined {
  const result = str(span, ATTR.guardrailResult);
  const reason = str(span, ATTR.guardrailReason);
  return result === 'fail' && reason !== undefined ? `fail: ${reason}` : result;
}

/** One span's line after its connector: name, call id, duration, messages loaded/saved, tokens, cost, error. */
function describeSpan(span: SpanRecord, options: TreeOptions): string {
  const operation = operationOf(span);
  return joinParts([
    span.name,
    operation === OPERATION.executeTool ? str(span, ATTR.toolCallId) : undefined,
    formatDuration(span),
    operation === OPERATION.step ? str(span, ATTR.stepFinish) : undefined,
    operation === OPERATION.compressContext ? formatCompression(span) : undefined,
    operation === OPERATION.loadConversation || operation === OPERATION.saveConversation ? formatMessages(span) : undefined,
    operation === OPERATION.guardrail ? formatGuardrail(span) : undefined,
    formatTokens(span),
    formatCost(span, operation === OPERATION.chat, options),
    formatError(span, options),
  ]);
}

/**
 * The header of a run, from its span.
 *
 * @param run an `invoke_agent` span
 */
export function runHeaderOf(run: SpanRecord): RunHeader {
  const header: RunHeader = {
    agentName: agentNameOf(run),
  };
  const model = str(run, ATTR.requestModel);
  const provider = str(run, ATTR.providerName);
  if (model !== undefined) header.model = model;
  if (provider !== undefined) header.provider = provider;
  return header;
}

/**
 * The run's first line, e.g. `invoke_agent weather  openai gpt-4o-mini`. Printable when the run
 * starts, before any step ends.
 */
export function renderRunHeader(header: RunHeader, options: TreeOptions): string {
  return joinParts([paint('bold', SPAN_NAME.run(header.agentName), options), [header.provider, header.model].filter(Boolean).join(' ')]);
}

/**
 * What to change when a run stopped on a limit, from the limits on its span:
 * `raise budget.maxSteps (now 10)`; undefined for other stops.
 */
function limitHint(run: SpanRecord): string | undefined {
  const stop = str(run, ATTR.stopReason);
  const now = (key: string, format: (n: number) => string = String) => {
    const value = num(run, key);
    return value === undefined ? '' : ` (now ${format(value)})`;
  };
  switch (stop) {
    case 'max_steps':
      return `raise budget.maxSteps${now(ATTR.budgetMaxSteps)}`;
    case 'max_tool_calls':
      return `raise budget.maxToolCalls${now(ATTR.budgetMaxToolCalls)}`;
    case 'context_overflow':
      return `raise budget.contextTokens${now(ATTR.budgetContextLimit)} or add a contextStrategy that shrinks the prompt`;
    case 'budget_exceeded': {
      const scopes = [
        num(run, ATTR.budgetRunCostLimit) === undefined ? undefined : `budget.runCostUsd${now(ATTR.budgetRunCostLimit, formatUsd)}`,
        num(run, ATTR.budgetSpendLimit) === undefined ? undefined : `budget.spend.usd${now(ATTR.budgetSpendLimit, formatUsd)}`,
      ].filter((scope): scope is string => scope !== undefined);
      const raise = scopes.length > 0 ? `raise ${scopes.join(' or ')}` : 'raise the USD limit';
      return `${raise}, or lower maxOutputTokens / budget.minOutputTokens so a call fits`;
    }
    default:
      return undefined;
  }
}

/**
 * The run's last line, its totals:
 * `└─ stop final  2 steps  2 tool calls  1234 ms  tokens 300/60  $0.000123`
 * (stop reason from `tracebound.stop_reason`, `?` when absent; steps and tool calls when recorded;
 * duration in ms; total tokens in/out; USD cost or `cost ?`; `ERROR <error.type>` on failure;
 * after a stop on a limit, what to change: `hint: raise budget.maxSteps (now 10)`).
 *
 * @param run the ended `invoke_agent` span
 * @param prefix tree prefix of the run's children; `''` for a run at the top of its trace
 */
export function renderRunFooter(run: SpanRecord, options: TreeOptions, prefix = ''): string {
  return paint('dim', prefix + LAST, options) + describeRunEnd(run, options);
}

/** A run's totals, and after a stop on a limit what to change: the footer's text. */
function describeRunEnd(run: SpanRecord, options: TreeOptions): string {
  const steps = num(run, ATTR.steps);
  const toolCalls = num(run, ATTR.toolCalls);
  const hint = limitHint(run);
  const guardrail = str(run, ATTR.guardrailName);
  return joinParts([
    `stop ${str(run, ATTR.stopReason) ?? '?'}`,
    guardrail === undefined ? undefined : `by ${guardrail} (${str(run, ATTR.guardrailStage) ?? '?'}): ${str(run, ATTR.guardrailReason) ?? ''}`,
    steps === undefined ? undefined : plural(steps, 'step'),
    toolCalls === undefined ? undefined : plural(toolCalls, 'tool call'),
    formatDuration(run),
    formatTokens(run),
    formatCost(run, true, options),
    formatError(run, options),
    hint === undefined ? undefined : paint('yellow', `hint: ${hint}`, options),
  ]);
}

/**
 * One span on one line, as it ends and without its tree: a run as its name and totals
 * (`invoke_agent weather  stop final  2 steps  ...  $0.000123`), any other span as its line in the
 * tree (`chat gpt-4o-mini  503 ms  tokens 100/20  $0.000027`), then its budget, retry and price
 * events after ` · `.
 */
export function renderSpanLine(span: SpanRecord, options: TreeOptions): string {
  const line = isRun(span) ? joinParts([paint('bold', span.name, options), describeRunEnd(span, options)]) : describeSpan(span, options);
  const events = eventLines(span, '', options).map((event) => `  ${event}`);
  return line + events.join('');
}

/** Children of each span, by parent id, in start-time order. */
type ChildIndex = Map<string, SpanRecord[]>;

function byStart(a: SpanRecord, b: SpanRecord): number {
  if (a.startTimeUnixNano !== b.startTimeUnixNano) return a.startTimeUnixNano < b.startTimeUnixNano ? -1 : 1;
  if (a.endTimeUnixNano !== b.endTimeUnixNano) return a.endTimeUnixNano < b.endTimeUnixNano ? -1 : 1;
  return 0;
}

function indexChildren(spans: readonly SpanRecord[]): ChildIndex {
  const index: ChildIndex = new Map();
  for (const span of spans) {
    if (span.parentSpanId === undefined) continue;
    const siblings = index.get(span.parentSpanId) ?? [];
    siblings.push(span);
    index.set(span.parentSpanId, siblings);
  }
  for (const siblings of index.values()) siblings.sort(byStart);
  return index;
}

/** Shared state of one tree walk: the index, and the spans already printed (guards against id cycles). */
interface Walk {
  children: ChildIndex;
  printed: Set<SpanRecord>;
  options: TreeOptions;
}

/**
 * A span and everything under it.
 *
 * @param lead what precedes the span's own line (indent and connector)
 * @param prefix what precedes the lines under it (its events and children)
 */
function renderSubtree(span: SpanRecord, lead: string, prefix: string, walk: Walk): string[] {
  walk.printed.add(span);
  const { options } = walk;
  const children = (walk.children.get(span.spanId) ?? []).filter((child) => !walk.printed.has(child));
  const run = isRun(span);
  const line = run ? renderRunHeader(runHeaderOf(span), options) : describeSpan(span, options);
  // A run's footer always follows its children, so a run always has something below it.
  const hasBelow = run || children.length > 0;
  const lines = [paint('dim', lead, options) + line, ...eventLines(span, prefix + (hasBelow ? '│ ' : '  '), options)];
  children.forEach((child, i) => {
    const last = !run && i === children.length - 1;
    lines.push(...renderSubtree(child, prefix + (last ? LAST : BRANCH), prefix + (last ? SPACE : PIPE), walk));
  });
  if (run) lines.push(renderRunFooter(span, options, prefix));
  return lines;
}

/**
 * One step of a run and the spans under it (model calls, tool calls, compression), as printed
 * under the run header: `├─ step 1  812 ms  tool_calls`, then its children. Lets `tracebound run`
 * print each step as it ends.
 *
 * @param step the ended `step N` span
 * @param descendants spans that may lie under the step (others are ignored), in any order
 */
export function renderStep(step: SpanRecord, descendants: readonly SpanRecord[], options: TreeOptions): string[] {
  return renderSubtree(step, BRANCH, PIPE, { children: indexChildren(descendants), printed: new Set(), options });
}

/**
 * A whole run: header, each child (steps) as a tree, footer.
 *
 * @param run the `invoke_agent` span
 * @param descendants spans that may lie under the run, in any order
 */
export function renderRun(run: SpanRecord, descendants: readonly SpanRecord[], options: TreeOptions): string[] {
  return renderSubtree(run, '', '', { children: indexChildren(descendants), printed: new Set(), options });
}

/** Spans grouped by trace id, traces in order of their first span's start. */
function groupByTrace(spans: readonly SpanRecord[]): SpanRecord[][] {
  const traces = new Map<string, SpanRecord[]>();
  for (const span of spans) {
    const trace = traces.get(span.traceId) ?? [];
    trace.push(span);
    traces.set(span.traceId, trace);
  }
  return [...traces.values()]
    .map((trace) => [...trace].sort(byStart))
    .sort((a, b) => byStart(a[0] as SpanRecord, b[0] as SpanRecord));
}

function renderTrace(trace: readonly SpanRecord[], options: TreeOptions): string[] {
  const first = trace[0] as SpanRecord;
  const service = first.resource[RESOURCE_ATTR.SERVICE_NAME];
  const lines = [paint('dim', joinParts([`trace ${first.traceId}`, service === undefined ? undefined : `service ${String(service)}`]), options)];
  const walk: Walk = { children: indexChildren(trace), printed: new Set(), options };
  const ids = new Set(trace.map((span) => span.spanId));
  const top = (span: SpanRecord): boolean => span.parentSpanId === undefined || !ids.has(span.parentSpanId);
  // Spans left after the walk from the tops have parent ids that loop; print them rather than drop them.
  for (const span of [...trace.filter(top), ...trace.filter((span) => !top(span))]) {
    if (walk.printed.has(span)) continue;
    const subtree = renderSubtree(span, '', '', walk);
    if (span.parentSpanId !== undefined) {
      const why = ids.has(span.parentSpanId) ? 'is in a cycle' : 'is not in the file';
      subtree[0] += paint('dim', `  (parent ${span.parentSpanId} ${why})`, options);
    }
    lines.push(...subtree);
  }
  return lines;
}

/**
 * The `gen_ai.conversation.id` of a trace: that of its first run whose parent is not in the trace
 * (a run nested under another, e.g. an agent used as a tool, belongs to its parent's trace).
 */
function conversationOf(trace: readonly SpanRecord[]): string | undefined {
  const ids = new Set(trace.map((span) => span.spanId));
  const run = trace.find((span) => isRun(span) && (span.parentSpanId === undefined || !ids.has(span.parentSpanId)));
  return run === undefined ? undefined : str(run, ATTR.conversationId);
}

/**
 * Traces in start order, those of one conversation gathered where its first trace starts:
 * `[undefined, [t]]` for a trace outside any conversation, `[id, [t1, t2, ...]]` for one.
 */
function groupByConversation(traces: readonly SpanRecord[][]): [string | undefined, SpanRecord[][]][] {
  const groups: [string | undefined, SpanRecord[][]][] = [];
  const conversations = new Map<string, SpanRecord[][]>();
  for (const trace of traces) {
    const id = conversationOf(trace);
    const group = id === undefined ? undefined : conversations.get(id);
    if (group !== undefined) {
      group.push(trace);
      continue;
    }
    const members = [trace];
    if (id !== undefined) conversations.set(id, members);
    groups.push([id, members]);
  }
  return groups;
}

/**
 * Every span of a trace file as trees: for each trace (in start order) a `trace <id>` line, then
 * each top-level span (a run, or a span whose parent is not in the file, marked so) with its
 * subtree; children in start-time order; a blank line between traces. No span is left out.
 *
 * Runs that carry a `gen_ai.conversation.id` print together, in start order, under a
 * `conversation <id>  <n> runs` heading (placed where the conversation's first run starts), their
 * traces indented by two spaces; runs without one print as above.
 *
 * Lines show: name, tool call id, duration (ms), messages a conversation span loaded or saved,
 * tokens in/out (with cache reads and reasoning when > 0), cost in USD (`cost ?` on a model call without one), `ERROR <error.type>`, and the
 * budget, retry and price events as `· ` sub-lines.
 */
export function renderTraces(spans: readonly SpanRecord[], options: TreeOptions): string[] {
  return groupByConversation(groupByTrace(spans)).flatMap(([conversation, traces], i) => {
    const gap = i > 0 ? [''] : [];
    if (conversation === undefined) return [...gap, ...renderTrace(traces[0] as SpanRecord[], options)];
    const heading = paint('bold', joinParts([`conversation ${conversation}`, plural(traces.length, 'run')]), options);
    const body = traces.flatMap((trace, j) => [...(j > 0 ? [''] : []), ...renderTrace(trace, options).map((line) => `  ${line}`)]);
    return [...gap, heading, ...body];
  });
}
