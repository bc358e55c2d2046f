/**
 * The loop: a run as steps over its {@link RunState}. Each step asks the model, appends its
 * answer, runs the tool calls it asked for in parallel and appends their results, until an
 * answer (checked against the agent's `output` schema when it has one), a limit, a tool call
 * awaiting approval, or a failure. Every call goes through the
 * middleware chain, which is where tracing, the budget, retries, hooks, run events and
 * checkpoints live; the loop knows none of them. A resumed run starts from its state as it was
 * checkpointed: an interrupted step first finishes its tool calls with the decisions it got.
 */
import type { Agent } from '../agent.js';
import { OutputValidationError } from '../errors.js';
import type { AssistantMessage, ToolCall, ToolMessage } from '../messages.js';
import { checkOutput, outputInstructions, outputText, retryPrompt } from '../output.js';
import type { Tool } from '../tool.js';
import type { ModelRequest, ModelResponse } from '../providers/model.js';
import type { RunEvent, RunResult } from './events.js';
import { isLastStep, stepsExhausted, toolCallLimit, TOOL_LIMIT_RESULT } from './limits.js';
import type { Chain, ResumePoint, RunContext, StepContext, ToolCallContext } from './middleware.js';
import type { StepOutcome } from './outcomes.js';
import { newRunId, newRunState, type PendingApproval, type RunState } from './run-state.js';
import { runResult } from './result.js';
import { progressOf, runSignal, toRunError } from './run-signal.js';
import { toolIndexOf, type ToolIndex } from './tool-index.js';
import { executeTool, toolFailure, type SubRunner, type ToolOutcome } from './tools.js';

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
  /** Set when `state` is a checkpoint this run continues. */
  resumed?: ResumePoint;
  /** The tool call that started this sub-run. */
  parentCall?: RunContext['parentCall'];
}

/** Per run: its sub-runs still unwinding (a tool call cut short by an abort returns before its sub-run ends). */
const subRuns = new WeakMap<RunContext, Set<Promise<void>>>();

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
    signal: abort.signal,
    abort: abort.abort,
    resumed: settings.resumed,
    streaming: settings.streaming,
    parent: settings.parent,
    attributes: settings.attributes,
    parentCall: settings.parentCall,
    emit:
      observers.length === 0 && !sink
        ? ignore
        : (event) => {
            for (const m of observers) m.onEvent?.(run, event);
            sink?.(event);
          },
    compress: chain.compress,
    callModel: chain.modelCall,
    checkGuardrail: chain.guardrail,
    loadConversation: chain.loadConversation,
    saveConversation: chain.saveConversation,
  };
  try {
    return await chain.run(run, async () => {
      try {
        return await steps(run, chain);
      } catch (error) {
        throw toRunError(error, state, abort.signal);
      } finally {
        // A run ends after its sub-runs: none of their spans outlives it.
        const open = subRuns.get(run);
        if (open?.size) await Promise.all(open);
      }
    });
  } finally {
    abort.dispose();
  }
}

async function steps(run: RunContext, chain: Chain): Promise<RunResult> {
  const { agent, state } = run;
  if (state.pendingToolCalls.length > 0) {
    // A resumed interrupted step: its decided calls run (or are denied), then the run goes on.
    for (const a of state.approvals) if (a.decision) run.emit(approvalEvent(state.step, a, a.decision));
    const step: StepContext = { run, index: state.step };
    const outcome = await chain.step(step, () => answerToolCalls(step, chain));
    if (outcome.kind !== 'continue') return runResult(run, 'interrupted');
  }
  for (;;) {
    if (stepsExhausted(agent, state)) return runResult(run, 'max_steps');
    run.signal.throwIfAborted();
    const step: StepContext = { run, index: ++state.step };
    const outcome = await chain.step(step, () => takeStep(step, chain));
    if (outcome.kind === 'continue') continue;
    return runResult(run, outcome.kind === 'final' ? (outcome.why ? 'graceful_limit' : 'final') : outcome.stopReason);
  }
}

async function takeStep(step: StepContext, chain: Chain): Promise<StepOutcome> {
  const { run } = step;
  const { agent, state } = run;
  if (isLastStep(agent, step.index)) state.lastCall ??= 'max_steps';
  const call = await chain.modelCall({ run, step, purpose: 'step', model: agent.model, request: requestOf(agent, state, run.signal), attempts: 0 });
  if (call.kind === 'refused') return { kind: 'stop', stopReason: call.stopReason };
  const { response } = call;
  state.messages.push(assistantMessage(response));
  state.output = response.text;
  if (response.toolCalls.length === 0 || state.lastCall) {
    const stopped = agent.output ? await checkAnswer(step, chain, agent.output, response) : undefined;
    return stopped ?? (state.lastCall ? { kind: 'final', why: state.lastCall } : { kind: 'final' });
  }

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
  if (tools.approvals) state.approvals = await approvalsOf(agent.name, tools, response.toolCalls);
  return answerToolCalls(step, chain);
}

/**
 * Checks a typed agent's final answer (`state.output`) against its schema and keeps it in
 * `state.answer`. An answer that fails goes back to the model once, in this step, with the error
 * (an `output-retry` event, then a model call of its own through the chain).
 * @returns the stop when the budget refused the second call; undefined once the answer is kept.
 * @throws {OutputValidationError} when the second answer fails too, or at once when an answer is
 *   a refusal.
 */
async function checkAnswer(step: StepContext, chain: Chain, schema: NonNullable<Agent['output']>, response: ModelResponse): Promise<StepOutcome | undefined> {
  const { run } = step;
  const { agent, state } = run;
  throwIfRefused(run, response);
  let check = checkOutput(schema, state.output);
  if (!check.ok) {
    run.emit({ type: 'output-retry', step: step.index, kind: check.kind, error: check.message });
    state.messages.push({ role: 'user', content: retryPrompt(check.message) });
    const call = await chain.modelCall({ run, step, purpose: 'step', model: agent.model, request: requestOf(agent, state, run.signal), attempts: 0 });
    if (call.kind === 'refused') return { kind: 'stop', stopReason: call.stopReason };
    // The answer, not more work: tool calls asked for here stay out of the conversation, which a
    // provider would otherwise reject on the next turn for lacking their results.
    state.messages.push(assistantMessage({ ...call.response, toolCalls: [] }));
    state.output = call.response.text;
    throwIfRefused(run, call.response);
    check = checkOutput(schema, state.output);
    if (!check.ok) {
      throw new OutputValidationError(`agent "${agent.name}": the answer failed its output schema twice; ${check.message}`, progressOf(state), state.output, check.issues, check.kind);
    }
  }
  state.answer = check.json;
  return undefined;
}

/** @throws {OutputValidationError} (reason `refusal`) when a typed agent's model refused to answer. */
function throwIfRefused(run: RunContext, response: ModelResponse): void {
  if (response.refusal === undefined) return;
  // The refusal's words stay on the error's `text`: the message reaches spans, which carry no answer text unless content capture is on.
  const message = `agent "${run.agent.name}": the model refused to answer (its words are the error's text); a refusal is not asked again`;
  throw new OutputValidationError(message, progressOf(run.state), response.refusal, [], 'refusal');
}

/**
 * Runs one tool call and adds its price to the cost of the run and of every ancestor run (a
 * sub-agent's tool, like its model calls, is spent from its parents too) as soon as it is known,
 * inside the chain: the budget's settle (around it) then finds the cost already counted, as for a
 * model call.
 */
async function executeCosted(ctx: ToolCallContext, chain: Chain, available: readonly string[]): Promise<ToolOutcome> {
  const { tool, call, run } = ctx;
  const outcome = await executeTool(tool, call, run.signal, available, subRunnerOf(ctx, chain));
  if (outcome.costUsd !== undefined) {
    for (let r: RunContext | undefined = run; r; r = r.parentCall?.run) r.state.totals.costUsd += outcome.costUsd;
  }
  return outcome;
}

/**
 * Runs the step's pending tool calls that may run (in parallel, through the chain): those that
 * need no approval and those approved; a denied call goes through the chain too, but its core
 * answers with the denial and the tool never runs. Once every call has a result they go into the
 * messages in the calls' order; while a call waits for a decision the step stops `interrupted`,
 * its results kept in the state.
 */
async function answerToolCalls(step: StepContext, chain: Chain): Promise<StepOutcome> {
  const { run } = step;
  const { agent, state } = run;
  const tools = toolIndexOf(agent);
  const calls = state.pendingToolCalls;
  const waiting = state.approvals.length > 0 ? new Map(state.approvals.map((a) => [a.toolCallId, a])) : undefined;
  const answered = state.toolResults.length > 0 ? new Set(state.toolResults.map((m) => m.toolCallId)) : undefined;
  // Due: not answered yet, and needing no approval or decided.
  const due = waiting || answered ? calls.filter((c) => !answered?.has(c.id) && (!waiting?.has(c.id) || waiting.get(c.id)?.decision !== undefined)) : calls;
  let ran = 0;
  const outcomes = await Promise.all(
    due.map((c) => {
      const tool = tools.byName.get(c.name);
      const decision = waiting?.get(c.id)?.decision;
      if (!decision) {
        ran++;
        const ctx: ToolCallContext = { run, step, call: c, tool };
        return chain.toolCall(ctx, () => executeCosted(ctx, chain, tools.names));
      }
      if (decision.approved) {
        ran++;
        const ctx: ToolCallContext = { run, step, call: c, tool, approval: 'approved' };
        return chain.toolCall(ctx, () => executeCosted(ctx, chain, tools.names));
      }
      return chain.toolCall({ run, step, call: c, tool, approval: 'denied' }, async () => denied(c, decision.reason));
    }),
  );
  state.totals.toolCalls += ran;
  // Calls cut short by the run's stop answered nothing: no result goes into the messages.
  run.signal.throwIfAborted();
  if (!waiting && !answered) {
    due.forEach((c, i) => state.messages.push(toolMessage(c, outcomes[i] as ToolOutcome)));
    state.pendingToolCalls = [];
    return { kind: 'continue' };
  }
  due.forEach((c, i) => state.toolResults.push(toolMessage(c, outcomes[i] as ToolOutcome)));
  state.approvals = state.approvals.filter((a) => !a.decision);
  if (state.approvals.length > 0) return { kind: 'stop', stopReason: 'interrupted' };
  const results = new Map(state.toolResults.map((m) => [m.toolCallId, m]));
  for (const c of calls) state.messages.push(results.get(c.id) as ToolMessage);
  state.pendingToolCalls = [];
  state.toolResults = [];
  return { kind: 'continue' };
}

/**
 * How a tool call of a run starts sub-runs: through the same chain, inside the tool call (so under
 * its span), stopped by the call's signal, with no timeout, conversation or checkpoint of their
 * own (the durable runs middleware skips a run with a `parentCall`). Their events reach the
 * parent's `emit` wrapped as `sub-agent` events.
 */
function subRunnerOf(call: ToolCallContext, chain: Chain): SubRunner {
  const { run } = call;
  return async (child, input, signal, toolCallId) => {
    // `ToolContext` types the agent structurally (tools sit below agents); it is one made by agent().
    const childAgent = child as Agent;
    // The parent's tenant and user key the sub-run's spend windows: a child spends for the same customer.
    const state = newRunState({ runId: newRunId(), agent: childAgent.name, input, tenant: run.state.tenant, user: run.state.user });
    const done = runAgent(childAgent, state, {
      chain,
      streaming: run.streaming,
      signal,
      parentCall: call,
      sink: (event) => run.emit({ type: 'sub-agent', agent: childAgent.name, runId: state.runId, toolCallId, event }),
    });
    let open = subRuns.get(run);
    if (!open) subRuns.set(run, (open = new Set()));
    const settled = done.then(ignore, ignore);
    open.add(settled);
    try {
      const result = await done;
      return { runId: result.runId, output: outputText(result.output) ?? '', stopReason: result.stopReason, costUsd: result.costUsd };
    } finally {
      open.delete(settled);
    }
  };
}

/**
 * The calls that need a person's approval, decided after their arguments validate (a call with
 * invalid arguments runs, and fails as such). A `needsApproval` function that throws fails the run.
 */
async function approvalsOf(agentName: string, tools: ToolIndex, calls: readonly ToolCall[]): Promise<PendingApproval[]> {
  const needed = await Promise.all(calls.map((c) => needsApproval(tools.byName.get(c.name), c, agentName)));
  return calls.filter((_, i) => needed[i]).map((c) => ({ kind: 'tool_approval', toolCallId: c.id, toolName: c.name, arguments: c.arguments }));
}

async function needsApproval(tool: Tool | undefined, call: ToolCall, agentName: string): Promise<boolean> {
  const rule = tool?.needsApproval;
  if (!rule) return false;
  const parsed = tool.parameters.safeParse(call.arguments);
  if (!parsed.success) return false;
  return rule === true || (await rule(parsed.data, { toolCallId: call.id, agent: agentName }));
}

/** The `approval` event of a decision on a pending call of step `step`. */
function approvalEvent(step: number, call: PendingApproval, decision: NonNullable<PendingApproval['decision']>): RunEvent {
  const event: Extract<RunEvent, { type: 'approval' }> = { type: 'approval', step, toolCallId: call.toolCallId, toolName: call.toolName, approved: decision.approved };
  if (decision.reason !== undefined) event.reason = decision.reason;
  return event;
}

/** What a denied call answers the model. */
function denied(call: ToolCall, reason: string | undefined): ToolOutcome {
  return toolFailure('approval_denied', `Tool call "${call.name}" was denied by the approver${reason ? `: ${reason}` : ''}. It did not run.`);
}

function requestOf(agent: Agent, state: RunState, signal: AbortSignal | undefined): ModelRequest {
  const request: ModelRequest = { system: agent.instructions, messages: [...state.messages], tools: toolIndexOf(agent).definitions };
  const output = agent.outputRequest;
  if (output) {
    request.output = output;
    if (!agent.model.structuredOutput) request.system = `${agent.instructions}\n\n${outputInstructions(output)}`;
  }
  if (agent.maxOutputTokens !== undefined) request.maxOutputTokens = agent.maxOutputTokens;
  if (agent.temperature !== undefined) request.temperature = agent.temperature;
  if (state.lastCall) request.toolChoice = 'none';
  if (signal) request.signal = signal;
  return request;
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
