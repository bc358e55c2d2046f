import { context as otelContext, SpanKind, type Context, type Tracer } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import { DEFAULT_MAX_STEPS } from '../budget/policy.js';
import { RunAbortedError, RunError, RunTimeoutError, type RunProgress, type StopReason } from '../errors.js';
import { addUsage, emptyUsage, type Message, type ToolCall, type Usage } from '../messages.js';
import { pricerFor, type CallCost, type Pricer, type PriceOverrides } from '../pricing/price.js';
import { ModelCallError } from '../providers/errors.js';
import type { Model, ModelRequest, ModelResponse } from '../providers/model.js';
import type { Tool } from '../tool.js';
import { ATTR, EVENT, EVENT_ATTR, SPAN_NAME } from '../tracing/attributes.js';
import {
  chatRequestAttributes,
  chatResponseAttributes,
  runAttributes,
  runEndAttributes,
  stepAttributes,
  toolAttributes,
  toolResultAttributes,
  type ContentCapture,
  type SpanOwner,
} from '../tracing/instrumentation.js';
import { isTraced, openSpan, recordError, setAttributes, withSpan, type OpenSpan } from '../tracing/span.js';
import type { RunEvent, RunResult, StepFinish } from './events.js';
import type { Hooks } from './hooks.js';
import { retryDelayMs, shouldRetry, sleep, type RetryPolicy } from './retry.js';
import { executeTool, type ToolOutcome } from './tools.js';

/** Everything one run needs besides the agent and its input. */
export interface LoopContext {
  tracer: Tracer;
  capture: ContentCapture;
  hooks: Hooks;
  retry: RetryPolicy;
  prices: PriceOverrides;
  /** Use `model.stream()` (and emit deltas) instead of `model.generate()`. */
  streaming: boolean;
  emit: (event: RunEvent) => void;
  /** The caller's signal. */
  signal?: AbortSignal;
  /** Most wall time for the whole run, in ms. */
  timeoutMs?: number;
  /** Parent of the run span; the active context when absent. */
  parent?: Context;
  conversationId?: string;
}

/** What the steps of one run share: the loop context, the run's signal, the model's pricer. */
type RunScope = LoopContext & { signal: AbortSignal; price: Pricer; owner: SpanOwner };

/** Running totals of one run. */
interface Totals {
  usage: Usage;
  usd: number;
  /** False once a call had no known price: the total is then unknown, not a lower bound. */
  priced: boolean;
  source: CallCost['source'];
  priceTableVersion: string;
  steps: number;
  toolCalls: number;
}

const NEVER_ABORTED = new AbortController().signal;

class RunTimeout extends Error {
  override readonly name = 'RunTimeout';
}

function progress(totals: Totals, traceId: string): RunProgress {
  return {
    usage: totals.usage,
    costUsd: totals.priced ? totals.usd : undefined,
    steps: totals.steps,
    toolCalls: totals.toolCalls,
    traceId,
  };
}

function assistantMessage(response: ModelResponse): Message {
  return {
    role: 'assistant',
    content: response.text,
    ...(response.toolCalls.length ? { toolCalls: response.toolCalls } : {}),
    ...(response.reasoning?.length ? { reasoning: response.reasoning } : {}),
  };
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
  // A run nobody can abort shares one never-aborted signal: no controller per run.
  const controller = ctx.signal || ctx.timeoutMs !== undefined ? new AbortController() : undefined;
  const signal = controller?.signal ?? NEVER_ABORTED;
  const onAbort = () => controller?.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const timer =
    ctx.timeoutMs === undefined
      ? undefined
      : setTimeout(() => controller?.abort(new RunTimeout(`run timed out after ${ctx.timeoutMs} ms`)), ctx.timeoutMs);
  const messages: Message[] = typeof input === 'string' ? [{ role: 'user', content: input }] : [...input];
  const inputText = typeof input === 'string' ? input : JSON.stringify(input);
  const totals: Totals = {
    usage: emptyUsage(),
    usd: 0,
    priced: true,
    source: 'local',
    priceTableVersion: '',
    steps: 0,
    toolCalls: 0,
  };
  const run = openSpan(ctx.tracer, {
    name: SPAN_NAME.run(agent.name),
    parent: ctx.parent,
    attributes: () =>
      runAttributes(
        { agentName: agent.name, agentId: agent.id, model: agent.model, conversationId: ctx.conversationId, input: inputText },
        ctx.capture,
      ),
  });
  const traceId = run.span.spanContext().traceId;
  const maxSteps = agent.budget.maxSteps ?? DEFAULT_MAX_STEPS;
  const endRun = (stopReason: StopReason, output?: string) =>
    setAttributes(run.span, () =>
      runEndAttributes(
        {
          usage: totals.usage,
          cost: totals.priced && totals.steps > 0 ? { usd: totals.usd, source: totals.source, priceTableVersion: totals.priceTableVersion } : undefined,
          steps: totals.steps,
          toolCalls: totals.toolCalls,
          stopReason,
          output,
          maxSteps,
          maxToolCalls: agent.budget.maxToolCalls,
        },
        ctx.capture,
      ),
    );

  try {
    ctx.emit({ type: 'run-start', agent: agent.name, traceId });
    const scope: RunScope = {
      ...ctx,
      signal,
      price: pricerFor(agent.model.provider, agent.model.modelId, ctx.prices),
      owner: { agentName: agent.name, conversationId: ctx.conversationId },
    };
    const loop = () => steps(agent, messages, totals, maxSteps, run, scope);
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
    recordError(run.span, failure.cause ?? failure);
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

async function steps(
  agent: Agent,
  messages: Message[],
  totals: Totals,
  maxSteps: number,
  run: OpenSpan,
  ctx: RunScope,
): Promise<{ stopReason: StopReason; output: string }> {
  const byName = new Map(agent.tools.map((t) => [t.name, t]));
  const definitions = agent.tools.map((t) => t.definition);
  const names = [...byName.keys()];
  let output = '';
  for (;;) {
    if (totals.steps >= maxSteps) return { stopReason: 'max_steps', output };
    ctx.signal.throwIfAborted();
    const index = ++totals.steps;
    const step = openSpan(ctx.tracer, {
      name: SPAN_NAME.step(index),
      parent: run.context,
      attributes: () => stepAttributes(index, ctx.owner),
    });
    ctx.emit({ type: 'step-start', step: index });
    let finish: StepFinish = 'stopped';
    try {
      let request: ModelRequest = {
        system: agent.instructions,
        messages: [...messages],
        tools: definitions,
        maxOutputTokens: agent.maxOutputTokens,
        temperature: agent.temperature,
        signal: ctx.signal,
      };
      request = (await ctx.hooks.beforeModelCall?.({ agent, step: index, request })) ?? request;
      const response = await chat(agent, request, index, step, totals, ctx);
      messages.push(assistantMessage(response));
      output = response.text;
      await ctx.hooks.afterModelCall?.({ agent, step: index, request, response });
      if (response.toolCalls.length === 0) {
        finish = 'final';
        return { stopReason: 'final', output };
      }
      const max = agent.budget.maxToolCalls;
      if (max !== undefined && totals.toolCalls + response.toolCalls.length > max) {
        return { stopReason: 'max_tool_calls', output };
      }
      const outcomes = await Promise.all(
        response.toolCalls.map((call) => runTool(agent, call, byName.get(call.name), index, step, names, ctx)),
      );
      totals.toolCalls += outcomes.length;
      response.toolCalls.forEach((call, i) => {
        const outcome = outcomes[i] as ToolOutcome;
        messages.push({ role: 'tool', toolCallId: call.id, toolName: call.name, content: outcome.content, ...(outcome.isError ? { isError: true } : {}) });
      });
      ctx.signal.throwIfAborted();
      finish = 'tool_calls';
    } catch (error) {
      recordError(step.span, error);
      throw error;
    } finally {
      setAttributes(step.span, () => ({ [ATTR.stepFinish]: finish }));
      step.span.end();
      ctx.emit({ type: 'step-end', step: index, finish });
    }
  }
}

async function chat(
  agent: Agent,
  request: ModelRequest,
  stepIndex: number,
  step: OpenSpan,
  totals: Totals,
  ctx: RunScope,
): Promise<ModelResponse> {
  const model = agent.model;
  return withSpan(
    ctx.tracer,
    {
      name: SPAN_NAME.chat(model.modelId),
      kind: SpanKind.CLIENT,
      parent: step.context,
      attributes: () => chatRequestAttributes(model, request, ctx.owner, ctx.streaming, ctx.capture),
    },
    async ({ span }) => {
      const started = performance.now();
      for (let attempt = 1; ; attempt++) {
        let delivered = false;
        try {
          const response = ctx.streaming
            ? await consumeStream(model, request, stepIndex, ctx, () => {
                if (!delivered && span.isRecording()) {
                  span.setAttribute(ATTR.responseTimeToFirstChunk, (performance.now() - started) / 1000);
                }
                delivered = true;
              })
            : await model.generate(request);
          const cost = response.providerCostUsd !== undefined
            ? { usd: response.providerCostUsd, inputUsd: 0, outputUsd: response.providerCostUsd, source: 'provider' as const, priceTableVersion: 'provider' }
            : ctx.price(response.usage);
          settle(totals, response.usage, cost);
          if (!cost && span.isRecording()) {
            span.addEvent(EVENT.priceUnknown, { [EVENT_ATTR.provider]: model.provider, [EVENT_ATTR.model]: model.modelId });
          }
          setAttributes(span, () => chatResponseAttributes(response, cost, attempt - 1, ctx.capture));
          ctx.emit({ type: 'usage', step: stepIndex, usage: response.usage, costUsd: cost?.usd });
          return response;
        } catch (error) {
          if (delivered || ctx.signal.aborted || !shouldRetry(error, attempt, ctx.retry)) {
            if (span.isRecording()) span.setAttribute(ATTR.retryAttempts, attempt - 1);
            throw error;
          }
          const delayMs = retryDelayMs(attempt, ctx.retry, error);
          if (span.isRecording()) {
            span.addEvent(EVENT.retry, {
              [EVENT_ATTR.attempt]: attempt,
              [EVENT_ATTR.errorType]: error.kind,
              [EVENT_ATTR.errorMessage]: error.message,
              [EVENT_ATTR.delayMs]: delayMs,
            });
          }
          ctx.emit({ type: 'retry', step: stepIndex, attempt, delayMs, error });
          await sleep(delayMs, ctx.signal);
        }
      }
    },
  );
}

function settle(totals: Totals, usage: Usage, cost: CallCost | undefined): void {
  totals.usage = addUsage(totals.usage, usage);
  if (!cost) {
    totals.priced = false;
    return;
  }
  totals.usd += cost.usd;
  totals.source = cost.source;
  totals.priceTableVersion = cost.priceTableVersion;
}

async function consumeStream(
  model: Model,
  request: ModelRequest,
  stepIndex: number,
  ctx: LoopContext,
  onChunk: () => void,
): Promise<ModelResponse> {
  for await (const chunk of model.stream(request)) {
    onChunk();
    if (chunk.type === 'response') return chunk.response;
    if (chunk.type === 'text-delta' || chunk.type === 'reasoning-delta') {
      ctx.emit({ type: chunk.type, step: stepIndex, text: chunk.text });
    }
  }
  throw new ModelCallError('the stream ended without a final response', { kind: 'stream_error', provider: model.provider });
}

async function runTool(
  agent: Agent,
  call: ToolCall,
  tool: Tool | undefined,
  stepIndex: number,
  step: OpenSpan,
  available: readonly string[],
  ctx: RunScope,
): Promise<ToolOutcome> {
  return withSpan(
    ctx.tracer,
    {
      name: SPAN_NAME.tool(call.name),
      parent: step.context,
      attributes: () => toolAttributes(call, tool, ctx.owner, ctx.capture),
    },
    async ({ span }) => {
      ctx.emit({ type: 'tool-call-start', step: stepIndex, toolCall: call });
      const started = performance.now();
      let outcome: ToolOutcome;
      try {
        await ctx.hooks.beforeToolCall?.({ agent, step: stepIndex, toolCall: call });
        outcome = await executeTool(tool, call, ctx.signal, available);
      } catch (error) {
        outcome = { content: `Error: ${error instanceof Error ? error.message : String(error)}`, isError: true, errorType: 'hook', error };
      }
      await ctx.hooks.afterToolCall?.({ agent, step: stepIndex, toolCall: call, outcome });
      setAttributes(span, () => toolResultAttributes(outcome.content, ctx.capture));
      if (outcome.isError) {
        recordError(span, outcome.error ?? Object.assign(new Error(outcome.content), { kind: outcome.errorType }));
        if (outcome.errorType) span.setAttribute(ATTR.errorType, outcome.errorType);
      }
      ctx.emit({
        type: 'tool-call-end',
        step: stepIndex,
        toolCall: call,
        result: outcome.content,
        isError: outcome.isError,
        durationMs: performance.now() - started,
      });
      return outcome;
    },
  );
}

