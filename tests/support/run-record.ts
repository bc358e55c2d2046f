/**
 * A realistic durable-run checkpoint for store tests and benchmarks: a `RunRecord` whose state
 * holds a 20-message conversation (user questions, tool calls and their results, answers).
 */
import type { Message } from '../../src/messages.js';
import { newRunState } from '../../src/runtime/run-state.js';
import type { RunRecord } from '../../src/state/store.js';

/** Twenty messages, five exchanges of question, tool call, tool result and answer (the record ~4 KB as JSON). */
export function twentyMessages(): Message[] {
  return Array.from({ length: 5 }, (_, i): Message[] => [
    { role: 'user', content: `Question ${i}: what is the status of order ${4700 + i}? ${'Please check the carrier too. '.repeat(4)}` },
    { role: 'assistant', content: '', toolCalls: [{ id: `call_${i}`, name: 'lookup_order', arguments: { orderId: 4700 + i, carrier: true } }] },
    { role: 'tool', toolCallId: `call_${i}`, toolName: 'lookup_order', content: JSON.stringify({ status: 'shipped', eta: '2026-12-09', events: ['packed', 'handed to carrier', 'in transit'] }) },
    { role: 'assistant', content: `Order ${4700 + i} shipped and should arrive on 9 December. ${'It is in transit with the carrier. '.repeat(3)} — ünïcödé` },
  ]).flat();
}

/** A `running` checkpoint at `step` of run `runId` of `agent`, updated at `updatedAt` (ms). */
export function runRecord(runId: string, agent: string, overrides: Partial<RunRecord> = {}): RunRecord {
  const state = newRunState({ runId, agent, input: 'Where are my orders?' });
  state.messages = twentyMessages();
  state.step = 10;
  state.totals = { usage: { inputTokens: 12_345, outputTokens: 678, cacheReadTokens: 4_096, cacheWriteTokens: 0, reasoningTokens: 120 }, costUsd: 0.0421, priced: true, toolCalls: 5 };
  state.trace = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
  const at = Date.now();
  return { runId, agent, status: 'running', step: state.step, state, createdAt: at, updatedAt: at, ...overrides };
}
