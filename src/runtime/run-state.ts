/**
 * The state of one run as plain, serialisable data: what a checkpoint stores and a resume reads
 * back. Everything the loop and its middleware know about a run's progress lives here, in one
 * place; nothing here holds a function, a class instance or a cycle, so
 * `JSON.parse(JSON.stringify(state))` gives an equal state.
 */
import { emptyUsage, type Message, type ToolCall, type ToolMessage, type Usage } from '../messages.js';
import type { Interruption } from './events.js';

/** Why the next model call is the last one, sent without tools (`onLimit: 'finish'`). */
export type LastCallReason = 'max_steps' | 'max_tool_calls' | 'budget';

/** Running totals of a run. */
export interface RunTotals {
  /** Tokens of every model call of the run (GenAI semconv rules, see {@link Usage}). */
  usage: Usage;
  /**
   * USD spent: every priced model call, summarising calls included. The budget's run scope reads
   * its spend from here (the one ledger of what a run spent).
   */
  costUsd: number;
  /** False once a call had no known price: `costUsd` is then a lower bound, reported as unknown. */
  priced: boolean;
  /** Tool calls executed. */
  toolCalls: number;
}

/** What the budget keeps of a run besides its spend (which is {@link RunTotals.costUsd}). */
export interface BudgetLedger {
  /** USD held by this run's open reservations. */
  reservedUsd: number;
  /**
   * The largest prompt of the run, in tokens: as counted before a call, or as the provider
   * reported it for a call the budget did not need to count (0 before any).
   */
  peakPromptTokens: number;
  /** The agent's spend window as the store last reported it, in USD. */
  window?: { spentUsd: number; reservedUsd: number };
  /** USD already spent whose settlement the store has not confirmed (it was down). */
  unsettledUsd: number;
}

/** The trace a run belongs to (set by the tracing middleware; all zeros when untraced). */
export interface RunTraceRef {
  traceId: string;
  spanId: string;
}

/**
 * A tool call waiting for a person's decision (`needsApproval`), and the decision once
 * `runtime.resume()` brought one.
 */
export interface PendingApproval extends Interruption {
  decision?: { approved: boolean; reason?: string };
}

/** The version of {@link RunState}'s shape this release writes and reads. */
export const RUN_STATE_VERSION = 2;

/** One run's state. */
export interface RunState {
  /**
   * The shape's version, so a stored state can be read back by a later release. 2 added
   * `toolResults`, `approvals` and `conversationTurn`.
   */
  version: typeof RUN_STATE_VERSION;
  runId: string;
  /** The agent's name. */
  agent: string;
  conversationId?: string;
  /** The tenant the run is for (`tracebound.tenant`; its key in `per: 'tenant'` spend windows). */
  tenant?: string;
  /** The user the run is for (`user.id`; its key in `per: 'user'` spend windows). */
  user?: string;
  /** The run's input as messages (a string input is one user message). */
  input: Message[];
  /** The whole conversation so far, system prompt excluded. */
  messages: Message[];
  /** The last assistant text (the output when the run ends). */
  output: string;
  totals: RunTotals;
  budget: BudgetLedger;
  /** Steps started: the index of the last one (1-based; 0 before the first). */
  step: number;
  /** Set when the next model call must be the last, sent without tools. */
  lastCall?: LastCallReason;
  /** Tool calls the last assistant message asked for whose results are not in `messages` yet. */
  pendingToolCalls: ToolCall[];
  /**
   * Results of pending tool calls that already ran (or were denied), kept apart until every
   * pending call has one: `messages` then gets them all, in the calls' order (a provider rejects
   * an answer without the results of all its calls). Empty between steps.
   */
  toolResults: ToolMessage[];
  /** Pending tool calls that wait for a person's decision: the run is interrupted while one has none. */
  approvals: PendingApproval[];
  /**
   * A conversation run's turn so far (its input, then each step's messages), kept by the
   * conversation middleware so a resumed run saves the whole turn.
   */
  conversationTurn?: Message[];
  trace?: RunTraceRef;
}

/** What {@link newRunState} takes. */
export interface RunStateInit {
  runId: string;
  agent: string;
  /** The user's message, or a whole conversation to continue. */
  input: string | readonly Message[];
  conversationId?: string;
  tenant?: string;
  user?: string;
}

/** A fresh state: the input as the conversation, every total at zero. */
export function newRunState(init: RunStateInit): RunState {
  const input: Message[] = typeof init.input === 'string' ? [{ role: 'user', content: init.input }] : [...init.input];
  const state: RunState = {
    version: RUN_STATE_VERSION,
    runId: init.runId,
    agent: init.agent,
    input,
    messages: [...input],
    output: '',
    totals: { usage: emptyUsage(), costUsd: 0, priced: true, toolCalls: 0 },
    budget: { reservedUsd: 0, peakPromptTokens: 0, unsettledUsd: 0 },
    step: 0,
    pendingToolCalls: [],
    toolResults: [],
    approvals: [],
  };
  if (init.conversationId !== undefined) state.conversationId = init.conversationId;
  if (init.tenant !== undefined) state.tenant = init.tenant;
  if (init.user !== undefined) state.user = init.user;
  return state;
}

/**
 * A run id (a UUID v4) from the global Web Crypto, which Node loads on first use: importing
 * `node:crypto` would load it with tracebound, costing `import('tracebound')` ~7 ms.
 */
export const newRunId = (): string => globalThis.crypto.randomUUID();

/** The trace id a run's spans carry; all zeros when the run is not traced. */
export function traceIdOf(state: Pick<RunState, 'trace'>): string {
  return state.trace?.traceId ?? '00000000000000000000000000000000';
}
