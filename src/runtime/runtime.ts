/** A runtime: `run()`, `stream()` and `resume()` over a composed middleware chain. */
import type { Attributes, Context } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import type { Message } from '../messages.js';
import { ResumeError } from '../errors.js';
import type { Conversations } from './conversations.js';
import type { RunEvent, RunResult } from './events.js';
import type { Approvals, DurableRuns, ResumeOptions, RunEventEntry, Runs, SubscribeOptions } from './runs.js';
import { runAgent } from './loop.js';
import type { Chain } from './middleware.js';
import { newRunId, newRunState, RUN_STATE_VERSION, type RunState } from './run-state.js';

/** Options of one run. */
export interface RunOptions {
  /** Aborts the run: in-flight model and tool calls get the signal, and `run()` rejects. */
  signal?: AbortSignal;
  /** Wall-time limit of this run, in ms; overrides the runtime's. */
  timeoutMs?: number;
  /**
   * Continues this conversation: its stored messages come before the input, and the run's turn
   * is saved when it resolves. Also `gen_ai.conversation.id` (and Langfuse's session id).
   */
  conversationId?: string;
  /**
   * The run's id (`tracebound.run.id`, the key of its checkpoints): a random UUID when absent. An
   * id the store already has is refused (`RunInProgressError`): `resume()` continues a run.
   */
  runId?: string;
  /**
   * The tenant the run is for: on the run span (`tracebound.tenant`) and the key of the agent's
   * `per: 'tenant'` spend windows (required when it has one).
   */
  tenant?: string;
  /** The user the run is for: on the run span (`user.id`) and the key of `per: 'user'` spend windows. */
  user?: string;
  /** Parent context of the run span; the active context when absent. */
  context?: Context;
  /** More attributes for the run span (e.g. `tracebound.replay.source` on a replayed run). */
  attributes?: Attributes;
}

/** Runs agents. */
export interface Runtime {
  /**
   * Runs an agent to its end, checkpointing it to the store after every step.
   * @param input the user's message, or a whole conversation to continue.
   * @throws {RunError} (`RunAbortedError`, `RunTimeoutError`, `RunLeaseLostError`) for the
   *   stops `aborted`, `timeout` and `error`, with the partial usage and cost.
   * @throws {RunInProgressError} when `options.runId` names a run the store already has.
   * @throws {ConversationBusyError} when another run held the conversation longer than the
   *   runtime's `conversationWaitMs`; `StoreError` when the store failed loading or saving it.
   */
  run(agent: Agent, input: string | Message[], options?: RunOptions): Promise<RunResult>;
  /**
   * Runs an agent with a streaming model call per step, yielding typed events as they happen.
   * Breaking out of the loop aborts the run.
   * @throws {RunError} from the iteration, as `run()` rejects.
   */
  stream(agent: Agent, input: string | Message[], options?: RunOptions): AsyncIterable<RunEvent>;
  /** The conversations in the runtime's store. */
  readonly conversations: Conversations;
  /** The runs in the runtime's store: status, step, interruptions, result. */
  readonly runs: Runs;
  /**
   * Continues a run from its last checkpoint: an interrupted run with decisions on its tool
   * calls, or a failed run, or a run whose process died (its lease lapsed). No tool call that
   * completed before the checkpoint runs again; the step in flight when a process died is
   * redone (at-least-once for that step, exactly-once for completed ones). Spend, usage and
   * tool calls carry over (`runCostUsd` counts what was spent before). A completed run resolves
   * with its result. Rejects like `run()`.
   * @throws {RunNotFoundError} when the store has no run with that id.
   * @throws {RunInProgressError} when another process holds the run's live lease.
   * @throws {ResumeError} when a decision names no tool call the run waits on (`kind:
   *   'unknown_tool_call'`), or the checkpoint was written by a release with another state shape
   *   (`kind: 'state_version'`).
   */
  resume(agent: Agent, runId: string, options?: ResumeOptions): Promise<RunResult>;
  /**
   * Aborts the run wherever it runs (this process at once; another process sharing the store at
   * its next heartbeat, or at once with Redis): it rejects there with `RunAbortedError`.
   * @returns false when the run is unknown or already ended.
   */
  cancel(runId: string): Promise<boolean>;
  /**
   * Delivers a run's events from any process sharing the store (memory and SQLite: this
   * process), the logged ones after `options.after` first.
   * @returns the unsubscribe function.
   */
  subscribe(runId: string, listener: (event: RunEvent, entry: RunEventEntry) => void, options?: SubscribeOptions): () => void;
}

/** What a runtime runs over. */
export interface RuntimeParts {
  /** The composed middleware chain of every run (`run()`, `stream()`, `resume()`). */
  chain: Chain;
  /** The conversations of the store the chain uses. */
  conversations: Conversations;
  /** The durable runs of that store. */
  durable: DurableRuns;
  /** The default wall-time limit of each run, in ms. */
  timeoutMs?: number;
}

/** A runtime over a composed chain and its store's conversations and durable runs. */
export function runtimeOver({ chain, conversations, durable, timeoutMs }: RuntimeParts): Runtime {
  const start = (agent: Agent, input: string | Message[], options: RunOptions, sink?: (event: RunEvent) => void) =>
    runAgent(agent, newRunState({ runId: options.runId ?? newRunId(), agent: agent.name, input, conversationId: options.conversationId, tenant: options.tenant, user: options.user }), {
      chain,
      streaming: sink !== undefined,
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? timeoutMs,
      parent: options.context,
      attributes: options.attributes,
      sink,
    });
  return {
    run: (agent, input, options = {}) => start(agent, input, options),
    stream: (agent, input, options = {}) => streamRun((signal, sink) => start(agent, input, { ...options, signal }, sink), options.signal),
    conversations,
    runs: durable.runs,
    async resume(agent, runId, options = {}) {
      const taken = await durable.take(runId, (state) => prepareResume(state, options.approvals));
      if ('result' in taken) return taken.result;
      const { state } = taken;
      return runAgent(agent, state, {
        chain,
        streaming: false,
        signal: options.signal,
        timeoutMs: options.timeoutMs ?? timeoutMs,
        resumed: { fromStep: state.pendingToolCalls.length > 0 ? state.step : state.step + 1, trace: state.trace },
      });
    },
    cancel: (runId) => durable.cancel(runId),
    subscribe: (runId, listener, options = {}) => durable.subscribe(runId, (entry) => listener(entry.event, entry), options.after),
  };
}

/**
 * Readies a checkpointed state to go on: the budget's open reservations are dropped (they died
 * with the process that held them; spend, usage and tool calls carry over), and each decision
 * goes to the tool call it names.
 * @throws {ResumeError} when the checkpoint's state has another shape version than this release's,
 *   or a decision names no tool call the run waits on.
 */
function prepareResume(state: RunState, approvals: Approvals | undefined): void {
  if (state.version !== RUN_STATE_VERSION) {
    throw new ResumeError(state.runId, 'state_version', `run ${JSON.stringify(state.runId)}: its checkpoint has state version ${String(state.version)}; this release reads version ${RUN_STATE_VERSION}`);
  }
  state.budget.reservedUsd = 0;
  for (const [toolCallId, decision] of Object.entries(approvals ?? {})) {
    const pending = state.approvals.find((a) => a.toolCallId === toolCallId);
    if (!pending) {
      const waiting = state.approvals.map((a) => a.toolCallId).join(', ') || 'none';
      throw new ResumeError(state.runId, 'unknown_tool_call', `run ${JSON.stringify(state.runId)} has no tool call ${JSON.stringify(toolCallId)} waiting for approval (waiting: ${waiting})`);
    }
    pending.decision =
      decision === true || decision.approved ? { approved: true } : decision.reason === undefined ? { approved: false } : { approved: false, reason: decision.reason };
  }
}

async function* streamRun(
  start: (signal: AbortSignal, sink: (event: RunEvent) => void) => Promise<RunResult>,
  callerSignal: AbortSignal | undefined,
): AsyncGenerator<RunEvent> {
  const queue: RunEvent[] = [];
  let wake: (() => void) | undefined;
  let finished = false;
  let failure: { error: unknown } | undefined;
  const stop = new AbortController();
  const signal = callerSignal ? AbortSignal.any([callerSignal, stop.signal]) : stop.signal;
  const done = start(signal, (event) => {
    queue.push(event);
    wake?.();
  }).then(
    () => {
      finished = true;
      wake?.();
    },
    (error: unknown) => {
      failure = { error };
      finished = true;
      wake?.();
    },
  );
  try {
    for (;;) {
      while (queue.length) yield queue.shift() as RunEvent;
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failure) throw failure.error;
  } finally {
    if (!finished) {
      stop.abort(new Error('the stream consumer stopped reading'));
      await done;
    }
  }
}
