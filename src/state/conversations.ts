/**
 * Conversations as middleware: a run with a `conversationId` takes the conversation's lease and
 * loads its messages before its first step (`load_conversation`), runs with them ahead of its
 * input, and when it resolves saves its turn (input, answers, tool calls and results) and gives
 * the lease back in one write (`save_conversation`). A run that rejects saves nothing. The lease
 * keeps two runs of one conversation from interleaving, in one process or across the processes
 * sharing the store: the second waits, up to `waitMs`, then fails with `ConversationBusyError`.
 *
 * A summary the `summarize` compression makes of the loaded history is saved with the turn, and
 * later runs load it in place of the messages it covers, so they summarise again only once the
 * history outgrows the context again.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as wait } from 'node:timers/promises';
import type { Message } from '../messages.js';
import type { Conversation, ConversationSummary, Conversations } from '../runtime/conversations.js';
import type { RunResult } from '../runtime/events.js';
import type { Middleware, RunContext, StepContext } from '../runtime/middleware.js';
import type { StepOutcome } from '../runtime/outcomes.js';
import { toRunError } from '../runtime/run-signal.js';
import { ConversationBusyError } from './errors.js';
import type { Lease, Store, Turn } from './store.js';

/** Default longest wait for another run of the same conversation, in ms. */
export const DEFAULT_CONVERSATION_WAIT_MS = 30_000;
/** Default lease of a run on its conversation, in ms; renewed every third of it while the run lives. */
export const DEFAULT_CONVERSATION_LEASE_MS = 15_000;
/** Polling a held conversation starts at this delay (ms) and doubles up to the next. */
const FIRST_POLL_MS = 5;
const LONGEST_POLL_MS = 100;

/** What the conversation middleware needs. Durations in ms. */
export interface ConversationOptions {
  store: Store;
  /** Longest wait for another run of the same conversation. Default 30,000. */
  waitMs?: number;
  /**
   * How long a run's lease on its conversation lasts without renewal: after a crash, the longest
   * a conversation stays held. Default 15,000.
   */
  leaseMs?: number;
  /**
   * Retention: keep at most this many messages, the oldest dropped in the save's write, so the
   * kept ones start with a user message; never fewer than the latest turn. Default: all.
   */
  maxMessages?: number;
  /** Retention: forget a conversation this long after its last turn. Default: kept until deleted. */
  ttlMs?: number;
}

/** Makes the conversation middleware of one runtime. */
export function conversationMiddleware(options: ConversationOptions): Middleware {
  const { store, waitMs = DEFAULT_CONVERSATION_WAIT_MS, leaseMs = DEFAULT_CONVERSATION_LEASE_MS, maxMessages, ttlMs } = options;
  if (maxMessages !== undefined && !(Number.isInteger(maxMessages) && maxMessages > 0)) {
    throw new RangeError(`conversationMaxMessages must be a positive integer, got ${maxMessages}`);
  }
  const runs = new WeakMap<RunContext, RunConversation>();
  const conversations = store.conversations;

  /**
   * Takes the lease, polling while another run holds it.
   * @throws {ConversationBusyError} once `waitMs` passed; a run error when the run is aborted.
   */
  async function take(run: RunContext, id: string, lease: Lease): Promise<Conversation | undefined> {
    const deadline = performance.now() + waitMs;
    for (let delay = FIRST_POLL_MS; ; delay = Math.min(delay * 2, LONGEST_POLL_MS)) {
      const got = await conversations.acquire(id, lease);
      if (got.held) return got.conversation;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new ConversationBusyError(
          id,
          `Conversation "${id}" stayed in use by another run for ${waitMs} ms (two runs of one conversation never interleave): retry later, or raise conversationWaitMs.`,
        );
      }
      try {
        // A ref'd timer: a process whose only run waits here must not exit.
        await wait(Math.min(delay, left), undefined, { signal: run.signal });
      } catch (error) {
        throw toRunError(error, run.state, run.signal);
      }
    }
  }

  /** A run of conversation `id`: its history loaded before it, its turn saved after it, under the conversation's lease. */
  async function inConversation(ctx: RunContext, next: () => Promise<RunResult>, id: string): Promise<RunResult> {
    const lease: Lease = { owner: `${ctx.state.runId}/${randomUUID()}`, ttlMs: leaseMs };
    let held = false;
    let saved = false;
    let renewal: NodeJS.Timeout | undefined;
    /** The stored messages, before any middleware filtered them: retention counts these. */
    let stored: readonly Message[] = [];
    let view: Prefix | undefined;
    try {
      let own: RunConversation;
      if (ctx.resumed) {
        // Its state already holds the history it loaded and its turn so far: only the lease is taken again.
        await take(ctx, id, lease);
        held = true;
        renewal = setInterval(() => void conversations.renew(id, lease).catch(() => false), leaseMs / 3).unref();
        own = { turn: (ctx.state.conversationTurn ??= [...ctx.state.input]) };
      } else {
        const history = await ctx.loadConversation({ run: ctx, conversationId: id, store: store.name, messages: [] }, async () => {
          const conversation = await take(ctx, id, lease);
          held = true;
          stored = conversation?.messages ?? [];
          // A renewal that fails leaves the lease to lapse; the save then finds it lost and says so.
          renewal = setInterval(() => void conversations.renew(id, lease).catch(() => false), leaseMs / 3).unref();
          view = prefixOf(conversation);
          return [...(view.note ? [view.note] : []), ...view.rest];
        });
        ctx.state.messages.unshift(...history);
        // In the state, so a checkpoint keeps it for a resumed run to save.
        own = { turn: (ctx.state.conversationTurn = [...ctx.state.input]) };
        // A history a middleware filtered no longer maps onto the stored messages: no summary of
        // it is kept then.
        const loaded = view ? [...(view.note ? [view.note] : []), ...view.rest] : [];
        if (view && loaded.length === history.length && loaded.every((m, i) => m === history[i])) own.prefix = view;
      }
      runs.set(ctx, own);
      const result = await next();
      clearInterval(renewal);
      // Tool calls without their results would break the next turn's request: an interrupted
      // run saves nothing, and its resumed run saves the whole turn.
      if (result.stopReason === 'interrupted') return result;
      await ctx.saveConversation({ run: ctx, conversationId: id, store: store.name, messages: own.turn }, async (messages) => {
        const turn: Turn = { owner: lease.owner, agent: ctx.agent.name, messages };
        const drop = maxMessages === undefined ? 0 : dropped(stored, messages, maxMessages);
        if (drop > 0) turn.drop = drop;
        if (ttlMs !== undefined) turn.ttlMs = ttlMs;
        if (own.summary) turn.summary = own.summary;
        if (!(await conversations.append(id, turn))) {
          throw new ConversationBusyError(
            id,
            `Conversation "${id}": this run's lease lapsed (it was not renewed for ${leaseMs} ms) and its turn was not saved: raise conversationLeaseMs if the process stalls that long.`,
          );
        }
        saved = true;
      });
      return result;
    } finally {
      clearInterval(renewal);
      if (held && !saved) await conversations.release(id, lease.owner).catch(() => undefined);
    }
  }

  /** A step of a run with a conversation: what it appends to the messages goes into the turn. */
  async function recordStep(ctx: StepContext, next: () => Promise<StepOutcome>, turn: Message[]): Promise<StepOutcome> {
    const { messages } = ctx.run.state;
    const before = messages[lastAssistant(messages)];
    const length = messages.length;
    const outcome = await next();
    // A step appends one answer and the results of its tool calls; compression may have
    // rewritten what came before, so the step's own messages are found from its answer. A
    // resumed interrupted step appends only the results of its answer's tool calls.
    const at = lastAssistant(messages);
    if (at >= 0 && messages[at] !== before) turn.push(...messages.slice(at));
    else turn.push(...messages.slice(length));
    return outcome;
  }

  return {
    name: 'conversations',
    // A run without a conversation, and its steps, pass through: no async frame here.
    wrapRun(ctx, next) {
      const id = ctx.state.conversationId;
      return id === undefined ? next() : inConversation(ctx, next, id);
    },
    wrapStep(ctx, next) {
      const turn = runs.get(ctx.run)?.turn;
      return turn ? recordStep(ctx, next, turn) : next();
    },
    async wrapCompress(ctx, next) {
      const own = runs.get(ctx.run);
      const outcome = await next();
      if (own?.prefix && ctx.strategy === 'summarize') {
        const summarized = summaryOf(own.prefix, ctx.messages, outcome.messages);
        if (summarized) {
          own.prefix = summarized.prefix;
          own.summary = summarized.summary;
        }
      }
      return outcome;
    },
  };
}

/** What a run with a conversation keeps between its load and its save. */
interface RunConversation {
  /** The turn: its input, then what each step appended. */
  turn: Message[];
  /** The loaded history as it now stands in the run's messages (absent when a middleware filtered it). */
  prefix?: Prefix;
  /** A summary made during the run, to save with the turn. */
  summary?: ConversationSummary;
}

/**
 * The history in a run's messages: a summary note standing for the first `covers` stored
 * messages (when there is one), then the stored messages after them, in order.
 */
interface Prefix {
  note?: Message;
  covers: number;
  rest: Message[];
}

/** The history a conversation loads as: its summary in place of what it covers, then the rest. */
function prefixOf(conversation: Conversation | undefined): Prefix {
  if (!conversation) return { covers: 0, rest: [] };
  const { summary, messages } = conversation;
  if (!summary) return { covers: 0, rest: messages };
  return { note: { role: 'user', content: summary.content }, covers: summary.covers, rest: messages.slice(summary.covers) };
}

/**
 * The summary a `summarize` compression made, when it replaced the first messages of the loaded
 * history (the old summary included) with its note and kept everything after them: the new
 * history prefix and the summary to store. Undefined when it summarised something else (part of
 * the turn), which a stored summary could not stand for.
 */
function summaryOf(prefix: Prefix, before: readonly Message[], after: readonly Message[]): { prefix: Prefix; summary: ConversationSummary } | undefined {
  const kept = new Set(after);
  const history = [...(prefix.note ? [prefix.note] : []), ...prefix.rest];
  let k = 0;
  while (k < history.length && !kept.has(history[k] as Message)) k++;
  if (k === 0 || !history.slice(k).every((m) => kept.has(m))) return undefined;
  const inHistory = new Set(history);
  if (!before.every((m) => inHistory.has(m) || kept.has(m))) return undefined;
  const had = new Set(before);
  const note = after.find((m) => !had.has(m));
  if (!note) return undefined;
  // The old note stands for `covers` stored messages; every other history message for one.
  const covers = prefix.note ? prefix.covers + k - 1 : prefix.covers + k;
  return { prefix: { note, covers, rest: history.slice(k) }, summary: { content: note.content, covers } };
}

/**
 * How many of the oldest stored messages to drop so that at most `max` remain after `turn` is
 * added, rounded up to the next user message (a kept history never opens with an answer or a
 * tool result), and never into the turn itself.
 */
function dropped(stored: readonly Message[], turn: readonly Message[], max: number): number {
  let drop = stored.length + turn.length - max;
  if (drop <= 0) return 0;
  while (drop < stored.length && stored[drop]?.role !== 'user') drop++;
  return Math.min(drop, stored.length);
}

/** The index of the last assistant message, -1 when there is none. */
function lastAssistant(messages: readonly Message[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === 'assistant') return i;
  return -1;
}

/** A store's conversations as a runtime shows them. */
export function conversationsOf(store: Store): Conversations {
  const { conversations } = store;
  return {
    get: (id) => conversations.get(id),
    list: (query) => conversations.list(query),
    delete: (id) => conversations.delete(id),
  };
}
