/** How the UI spells numbers, times and span kinds. */
import { ATTR, EVENT, MCP_ATTR, OPERATION } from '../../tracing/attributes.js';
import type { SpanRow } from '../api-types.js';

/** USD with up to six decimals, so a tiny but real cost never reads `$0.00`. */
export function usd(amount: number | undefined): string {
  if (amount === undefined) return '—';
  if (amount > 0 && amount < 0.0000005) return '<$0.000001';
  return `$${amount.toFixed(amount >= 1 ? 2 : 6)}`;
}

/** ms below 10 with one decimal, seconds from 10 s. */
export function duration(ms: number): string {
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
}

export function tokens(count: number): string {
  return count.toLocaleString('en-US');
}

/** Local date and time of an epoch-ms instant, to the second. */
export function time(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** What a waterfall bar is coloured by. */
export type SpanKind = 'run' | 'step' | 'chat' | 'tool' | 'mcp' | 'compress' | 'conversation' | 'other';

export function kindOf(span: Pick<SpanRow, 'attributes'>): SpanKind {
  const operation = span.attributes[ATTR.operationName] ?? span.attributes[ATTR.operation];
  if (span.attributes[MCP_ATTR.methodName] !== undefined) return 'mcp';
  switch (operation) {
    case OPERATION.invokeAgent:
      return 'run';
    case OPERATION.step:
      return 'step';
    case OPERATION.chat:
      return 'chat';
    case OPERATION.executeTool:
      return 'tool';
    case OPERATION.compressContext:
      return 'compress';
    case OPERATION.loadConversation:
    case OPERATION.saveConversation:
      return 'conversation';
    default:
      return 'other';
  }
}

/** What a span-event marker shows: retries, budget decisions, approvals, anything else. */
export type MarkKind = 'retry' | 'budget' | 'approval' | 'event';

export function markOf(name: string): MarkKind {
  if (name === EVENT.retry) return 'retry';
  if (name === EVENT.budgetCheck || name === EVENT.budgetSettle || name === EVENT.budgetStoreError) return 'budget';
  if (name === EVENT.approval) return 'approval';
  return 'event';
}
