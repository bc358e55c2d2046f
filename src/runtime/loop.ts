/**
 * The loop: a run as steps over its {@link RunState}. Each step asks the model, appends its
 * answer, runs the tool calls it asked for in parallel and appends their results, until an
 * answer, a limit or a failure. Every call goes through the middleware chain, which is where
 * tracing, the budget, retries, hooks and stream events live; the loop knows none of them.
 */
import type { Agent } from '../agent.js';
import type { StopReason } from '../errors.js';
import type { AssistantMessage, ToolCall, ToolMessage } from '../messages.js';
import type { ModelRequest, ModelResponse } from '../providers/model.js';
import type { RunEvent, RunResult } from './events.js';
import { isLastStep, stepsExhausted, toolCallLimit, TOOL_LIMIT_RESULT } from './limits.js';
import type { Chain, RunContext, StepContext } from './middleware.js';
import type { StepOutcome } from './outcomes.js';
import { traceIdOf, type RunState } from './run-state.js';
import { runSignal, toRunError } from './run-signal.js';
import { toolIndexOf } from './tool-index.js';
import { executeTool, type ToolOutcome } from './tools.js';

/** How one run is made, besides its agent and state. */
export interface RunSettings {
  chain: Chain;
  streaming: boolean;
  /** The caller's signal. */
  signal?: AbortSignal;
  /** Most wall time of the run, in ms. */
  timeoutMs?: number;
  parent?: RunContext['parent'];
  attributes?: RunContext['attributes'];
  /** Where run events go besides the middleware's `onEvent` (a `stream()` reader). */
  sink?: (event: RunEvent) => void;
}

const ignore = () => {};

/**
 * Runs `agent` from `state` to a stop.
 * @returns the result for every stop but `aborted`, `timeout` and `error`.
 * @throws {RunAbortedError} when the caller's signal aborts, {@link RunTimeoutError} when
 *   `timeoutMs` elapses (each even while a tool or model ignores its own signal),
 *   {@link RunError} with `stopReason: 'error'` for any other failure; each carries the partial
 *   usage and cost.
 */
export async function runAgent(agent: Agent, state: RunState, settings: RunSettings): Promise<RunResult> {
  const { chain } = settings;
  const abort = runSignal(settings.signal, settings.timeoutMs);
  const observers = chain.observers;
  const sink = settings.sink;
  const run: RunContext = {
    agent,
    state,
    signal: abort?.signal,
    streaming: settings.streaming,
    parent: settings.parent,
    attributes: settings.attributes,
    emit:
      observers.length === 0 && !sink
        ? ignore
        : (event) => {
            for (const m of observers) m.onEvent?.(run, event);
            sink?.(event);
          },
    compress: chain.compress,
    callModel: chain.modelCall,
    loadConversation: chain.loadConversation,
    saveConversation: chain.saveConversation,
  };
  try {
    return await chain.run(run, async () => {
      try {
        return await steps(run, chain);
      } catch (error) {
        throw toRunError(error, state, abort?.signal);
      }
    });
  } finally {
    abort?.dispose();
  }
}

async function steps(run: RunContext, chain: Chain): Promise<RunResult> {
  const { agent, state } = run;
  for (;;) {
    if (stepsExhausted(agent, state)) return result(run, 'max_steps');
    run.signal?.throwIfAborted();
    const step: StepContext = { run, index: ++state.step };
    const outcome = await chain.step(step, () => takeStep(step, chain));
    if (outcome.kind === 'continue') continue;
    return result(run, outcome.kind === 'final' ? (outcome.why ? 'graceful_limit' : 'final') : outcome.stopReason);
  }
}

async function takeStep(step: StepContext, chain: Chain): Promise<StepOutcome> {
  const { run } = step;
  const { agent, state } = run;
  if (isLastStep(agent, step.index)) state.lastCall ??= 'max_steps';
  const call = await chain.modelCall({ run, step, purpose: 'step', request: requestOf(agent, state, run.signal), attempts: 0 });
  if (call.kind === 'refused') return { kind: 'stop', stopReason: call.stopReason };
  const { response } = call;
  state.messages.push(assistantMessage(response));
  state.output = response.text;
  if (response.toolCalls.length === 0 || state.lastCall) return state.lastCall ? { kind: 'final', why: state.lastCall } : { kind: 'final' };

  const limit = toolCallLimit(agent, state, response.toolCalls.length);
  if (limit === 'stop') return { kind: 'stop', stopReason: 'max_tool_calls' };
  if (limit === 'finish') {
    // The calls stay answered (providers reject unanswered calls); the next step must answer.
    for (const c of response.toolCalls) state.messages.push(toolMessage(c, { content: TOOL_LIMIT_RESULT, isError: true }));
    state.lastCall = 'max_tool_calls';
    return { kind: 'continue' };
  }
  state.pendingToolCalls = response.toolCalls;
  const tools = toolIndexOf(agent);
  const outcomes = await Promise.all(
    response.toolCalls.map((c) => {
      const tool = tools.byName.get(c.name);
      return chain.toolCall({ run, step, call: c, tool }, () => executeTool(tool, c, run.signal, tools.names));
    }),
  );
  state.totals.toolCalls += outcomes.length;
  // Calls cut short by the run's stop answered nothing: no result goes into the messages.
  run.signal?.throwIfAborted();
  response.toolCalls.forEach((c, i) => state.messages.push(toolMessage(c, outcomes[i] as ToolOutcome)));
  state.pendingToolCalls = [];
  return { kind: 'continue' };
}

function requestOf(agent: Agent, state: RunState, signal: AbortSignal | undefined): ModelRequest {
  const request: ModelRequest = { system: agent.instructions, messages: [...state.messages], tools: toolIndexOf(agent).definitions };
  if (agent.maxOutputTokens !== undefined) request.maxOutputTokens = agent.maxOutputTokens;
  if (agent.temperature !== undefined) request.temperature = agent.temperature;
  if (state.lastCall) request.toolChoice = 'none';
  if (signal) request.signal = signal;
  return request;
}

function result(run: RunContext, stopReason: StopReason): RunResult {
  const { state } = run;
  return {
    runId: state.runId,
    output: state.output,
    messages: state.messages,
    usage: state.totals.usage,
    costUsd: state.totals.priced ? state.totals.costUsd : undefined,
    steps: state.step,
    toolCalls: state.totals.toolCalls,
    stopReason,
    traceId: traceIdOf(state),
  };
}

function assistantMessage(response: ModelResponse): AssistantMessage {
  const message: AssistantMessage = { role: 'assistant', content: response.text };
  if (response.toolCalls.length) message.toolCalls = response.toolCalls;
  if (response.reasoning?.length) message.reasoning = response.reasoning;
  return message;
}

function toolMessage(call: ToolCall, outcome: Pick<ToolOutcome, 'content' | 'isError'>): ToolMessage {
  const message: ToolMessage = { role: 'tool', toolCallId: call.id, toolName: call.name, content: outcome.content };
  if (outcome.isError) message.isError = true;
  return message;
}
