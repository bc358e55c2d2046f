import { context as otelContext, type Attributes } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import { BudgetGuard, hasUsdLimit, type GuardState, type Rates } from '../budget/guard.js';
import { DEFAULT_MAX_STEPS } from '../budget/policy.js';
import { contextWindow, tokenCounterFor } from '../budget/tokens.js';
import { RunAbortedError, RunError, RunTimeoutError, type RunProgress, type StopReason } from '../errors.js';
import { emptyUsage, type AssistantMessage, type Message, type ToolCall, type ToolMessage } from '../messages.js';
import { servedPricer, type ServedPricer } from '../pricing/price.js';
import type { ModelRequest, ModelResponse, ToolDefinition } from '../providers/model.js';
import type { Tool } from '../tool.js';
import { ATTR, SPAN_NAME } from '../tracing/attributes.js';
import { runAttributes, runEndAttributes, stepAttributes } from '../tracing/instrumentation.js';
import { isTraced, openSpan, recordError, setAttributes, type OpenSpan } from '../tracing/span.js';
import type { RunResult, StepFinish } from './events.js';
import { fitContext, SummaryRefused } from './fit-context.js';
import { guardedCall } from './model-call.js';
import { newTotals, progress, type LoopContext, type RunScope, type Totals } from './scope.js';
import { runTool } from './tool-call.js';
import type { ToolOutcome } from './tools.js';

export type { LoopContext } from './scope.js';

/**
 * The reasons the run's own signal aborts with, as every call in flight sees them: their `kind`
 * is the `error.type` of the spans they end. The run's `timeoutMs` elapsed.
 */
class RunTimeout extends Error {
  override readonly name = 'RunTimeout';
  readonly kind = 'timeout';
}

/** The caller's signal aborted (its reason is the `cause`). */
class RunAborted extends Error {
  override readonly name = 'RunAborted';
  readonly kind = 'aborted';
}

/** The worst-case rates of a model (uncached input, output), from its pricer; none when unpriced. */
function ratesOf(price: ServedPricer): Rates | undefined {
  const input = price({ ...emptyUsage(), inputTokens: 1_000_000 });
  const output = price({ ...emptyUsage(), outputTokens: 1_000_000 });
  return input && output ? { inputUsdPerToken: input.usd / 1e6, outputUsdPerToken: output.usd / 1e6 } : undefined;
}

function budgetAttributes(state: GuardState, agent: Agent, totals: Totals): Attributes {
  const attrs: Attributes = {};
  if (state.run) {
    attrs[ATTR.budgetRunCostLimit] = state.run.limit;
    attrs[ATTR.budgetRunCostSpent] = state.run.spent;
    attrs[ATTR.budgetRunCostRemaining] = state.run.remaining;
  }
  if (state.spend) {
    attrs[ATTR.budgetSpendLimit] = state.spend.limit;
    attrs[ATTR.budgetSpendSpent] = state.spend.spent;
    attrs[ATTR.budgetSpendRemaining] = state.spend.remaining;
    attrs[ATTR.budgetSpendWindow] = state.spend.window;
  }
  if (agent.budget.contextTokens !== undefined) {
    attrs[ATTR.budgetContextLimit] = agent.budget.contextTokens;
    attrs[ATTR.budgetContextPeak] = totals.peakPromptTokens;
  }
  return attrs;
}

/**
 * Runs an agent to a stop: model call, then its tool calls in parallel, results appended,
 * repeated until a final answer or a limit. Every run, step, model call and tool call is a span.
 * @returns the result for the stops `final`, `max_steps` and `max_tool_calls`.
 * @throws {RunAbortedError} when `signal` aborts, {@link RunTimeoutError} when `timeoutMs`
 *   elapses, {@link RunError} with `stopReason: 'error'` for any other failure; each carries the
 *   partial usage and cost.
 */
export async function runLoop(agent: Agent, input: string | Message[], ctx: LoopContext): Promise<RunResult> {
  // One controller per run, even when nothing can abort it: the SDKs and tools add abort
  // listeners to the signal they get, and a signal shared across runs would keep them all alive.
  const controller = new AbortController();
  const signal = controller.signal;
  const onAbort = () => controller.abort(new RunAborted('run aborted by the caller', { cause: ctx.signal?.reason }));
  if (ctx.signal?.aborted) onAbort();
  else ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    ctx.timeoutMs === undefined
      ? undefined
      : setTimeout(() => controller.abort(new RunTimeout(`run timed out after ${ctx.timeoutMs} ms`)), ctx.timeoutMs);
  const messages: Message[] = typeof input === 'string' ? [{ role: 'user', content: input }] : [...input];
  const totals = newTotals();
  const run = openSpan(ctx.tracer, {
    name: SPAN_NAME.run(agent.name),
    parent: ctx.parent,
    attributes: () =>
      Object.assign(
        runAttributes(
          { agentName: agent.name, agentId: agent.id, model: agent.model, conversationId: ctx.conversationId, input },
          ctx.capture,
        ),
        ctx.runAttributes,
      ),
  });
  const traceId = run.span.spanContext().traceId;
  const maxSteps = agent.budget.maxSteps ?? DEFAULT_MAX_STEPS;
  let guard: BudgetGuard | undefined;
  const endRun = (stopReason: StopReason, output?: string) =>
    setAttributes(run.span, () => {
      const attrs = runEndAttributes(
        {
          usage: totals.usage,
          costUsd: totals.priced && totals.steps > 0 ? totals.usd : undefined,
          steps: totals.steps,
          toolCalls: totals.toolCalls,
          stopReason,
          output,
          maxSteps,
          maxToolCalls: agent.budget.maxToolCalls,
        },
        ctx.capture,
      );
      return guard ? Object.assign(attrs, budgetAttributes(guard.state(), agent, totals)) : attrs;
    });

  try {
    ctx.emit({ type: 'run-start', agent: agent.name, traceId });
    const model = agent.model;
    const price = servedPricer(model.provider, model.modelId, ctx.prices);
    const usd = hasUsdLimit(agent.budget);
    guard = new BudgetGuard(agent.budget, agent.name, ctx.store, usd ? ratesOf(price) : undefined);
    // Prompts are counted before a call only when a limit needs it; a traced call without one
    // takes its context utilization from the tokens the provider reports.
    const count = usd || agent.budget.contextTokens !== undefined;
    // Built by assignment: spreads of conditional objects cost microseconds per run on Node 20.
    const scope = Object.assign({}, ctx) as RunScope;
    scope.signal = signal;
    scope.price = price;
    scope.owner = { agentName: agent.name, conversationId: ctx.conversationId };
    scope.guard = guard;
    scope.totals = totals;
    if (count) scope.counter = tokenCounterFor(model);
    if (count || run.span.isRecording()) scope.contextWindow = contextWindow(model.provider, model.modelId, ctx.contextWindows);
    const loop = () => steps(agent, messages, maxSteps, run, scope);
    const { stopReason, output } = await (isTraced(run.span) ? otelContext.with(run.context, loop) : loop());
    endRun(stopReason, output);
    const result: RunResult = {
      output,
      messages,
      usage: totals.usage,
      costUsd: totals.priced ? totals.usd : undefined,
      steps: totals.steps,
      toolCalls: totals.toolCalls,
      stopReason,
      traceId,
    };
    ctx.emit({ type: 'run-end', result });
    return result;
  } catch (error) {
    const failure = toRunError(error, signal, ctx.signal, progress(totals, traceId));
    endRun(failure.stopReason);
    recordError(run.span, failure.cause ?? failure, ctx.capture);
    throw failure;
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onAbort);
    run.span.end();
  }
}

function toRunError(error: unknown, signal: AbortSignal, callerSignal: AbortSignal | undefined, partial: RunProgress): RunError {
  if (error instanceof RunError) return error;
  if (signal.aborted && signal.reason instanceof RunTimeout) {
    return new RunTimeoutError('timeout', signal.reason.message, partial, error);
  }
  if (callerSignal?.aborted) return new RunAbortedError('aborted', 'run aborted by the caller', partial, error);
  const message = error instanceof Error ? error.message : String(error);
  return new RunError('error', `run failed: ${message}`, partial, error);
}

/** An agent's tools as the loop uses them: by name, their names, their definitions. */
interface ToolIndex {
  byName: Map<string, Tool>;
  names: string[];
  /** One array per agent: token counts are cached per definitions array. */
  definitions: ToolDefinition[];
}

const toolIndexes = new WeakMap<Agent, ToolIndex>();

function toolIndexOf(agent: Agent): ToolIndex {
  let index = toolIndexes.get(agent);
  if (!index) {
    const byName = new Map(agent.tools.map((t) => [t.name, t]));
    index = { byName, names: [...byName.keys()], definitions: agent.tools.map((t) => t.definition) };
    toolIndexes.set(agent, index);
  }
  return index;
}

/** Why the next call is the last one, when it is made without tools (`onLimit: 'finish'`). */
type Finishing = 'max_steps' | 'max_tool_calls' | 'budget' | undefined;

function assistantMessage(response: ModelResponse): AssistantMessage {
  const message: AssistantMessage = { role: 'assistant', content: response.text };
  if (response.toolCalls.length) message.toolCalls = response.toolCalls;
  if (response.reasoning?.length) message.reasoning = response.reasoning;
  return message;
}

function toolMessage(call: ToolCall, outcome: ToolOutcome): ToolMessage {
  const message: ToolMessage = { role: 'tool', toolCallId: call.id, toolName: call.name, content: outcome.content };
  if (outcome.isError) message.isError = true;
  return message;
}

async function steps(
  agent: Agent,
  messages: Message[],
  maxSteps: number,
  run: OpenSpan,
  scope: RunScope,
): Promise<{ stopReason: StopReason; output: string }> {
  const totals = scope.totals;
  const { byName, names, definitions } = toolIndexOf(agent);
  const finishGracefully = agent.budget.onLimit === 'finish';
  let finishing: Finishing;
  let output = '';
  for (;;) {
    if (totals.steps >= maxSteps) return { stopReason: 'max_steps', output };
    scope.signal.throwIfAborted();
    const index = ++totals.steps;
    if (finishGracefully && index === maxSteps && !finishing) finishing = 'max_steps';
    const step = openSpan(scope.tracer, {
      name: SPAN_NAME.step(index),
      parent: run.context,
      attributes: () => stepAttributes(index, scope.owner),
    });
    scope.emit({ type: 'step-start', step: index });
    let finish: StepFinish = 'stopped';
    try {
      let request: ModelRequest = {
        system: agent.instructions,
        messages: [...messages],
        tools: definitions,
        maxOutputTokens: agent.maxOutputTokens,
        temperature: agent.temperature,
        signal: scope.signal,
      };
      if (finishing) request.toolChoice = 'none';
      request = (await scope.hooks.beforeModelCall?.({ agent, step: index, request })) ?? request;
      const fit = await fitContext(agent, request, index, step, scope);
      if (!fit.fits) return { stopReason: 'context_overflow', output };
      if (fit.messages !== request.messages) {
        messages.splice(0, messages.length, ...fit.messages);
        request = { ...request, messages: [...fit.messages] };
      }
      const call = await guardedCall(agent.model, request, index, step, scope, finishGracefully);
      if (call.refused) return { stopReason: 'budget_exceeded', output };
      if (call.finished) finishing = 'budget';
      const response = call.response;
      messages.push(assistantMessage(response));
      output = response.text;
      await scope.hooks.afterModelCall?.({ agent, step: index, request, response });
      if (response.toolCalls.length === 0 || finishing) {
        finish = 'final';
        return { stopReason: finishing ? 'graceful_limit' : 'final', output };
      }
      const max = agent.budget.maxToolCalls;
      if (max !== undefined && totals.toolCalls + response.toolCalls.length > max) {
        if (!finishGracefully) return { stopReason: 'max_tool_calls', output };
        // The calls stay answered (providers reject unanswered calls); the next step must answer.
        for (const call of response.toolCalls) {
          messages.push({ role: 'tool', toolCallId: call.id, toolName: call.name, content: 'Tool call limit reached: answer with what you have.', isError: true });
        }
        finishing = 'max_tool_calls';
        finish = 'tool_calls';
        continue;
      }
      const outcomes = await Promise.all(
        response.toolCalls.map((call) => runTool(agent, call, byName.get(call.name), index, step.context, names, scope)),
      );
      totals.toolCalls += outcomes.length;
      // Calls cut short by the run's stop answered nothing: no result goes into the messages.
      scope.signal.throwIfAborted();
      response.toolCalls.forEach((call, i) => {
        const outcome = outcomes[i] as ToolOutcome;
        messages.push(toolMessage(call, outcome));
      });
      finish = 'tool_calls';
    } catch (error) {
      if (error instanceof SummaryRefused) return { stopReason: 'budget_exceeded', output };
      recordError(step.span, error, scope.capture);
      throw error;
    } finally {
      setAttributes(step.span, () => ({ [ATTR.stepFinish]: finish }));
      step.span.end();
      scope.emit({ type: 'step-end', step: index, finish });
    }
  }
}
