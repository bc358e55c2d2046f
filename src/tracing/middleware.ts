/**
 * Tracing as middleware: every run, step, compression, model call, tool call and conversation
 * load or save becomes an
 * OpenTelemetry span named after the GenAI semantic conventions, with the attributes of
 * instrumentation.ts, computed only when a span is recording. Budget decisions and retries
 * arrive as run events and become span events where they happened.
 *
 * Two pieces, at two places in the chain: {@link TracingMiddleware.outer} outermost (run, step,
 * compression and tool spans, so every other middleware runs inside them), and
 * {@link TracingMiddleware.model} next to the provider, inside the budget and around retries
 * (the `chat` span covers the call and its retries, not the budget's bookkeeping).
 */
import { outputText } from '../output.js';
import { context as otelContext, ROOT_CONTEXT, SpanKind, trace, TraceFlags, type Attributes, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api';
import type { Model } from '../providers/model.js';
import type { CompressContext, ConversationContext, GuardrailContext, Middleware, RunContext, ToolCallContext } from '../runtime/middleware.js';
import { maxSteps } from '../runtime/limits.js';
import { stepFinish } from '../runtime/outcomes.js';
import type { RunTraceRef } from '../runtime/run-state.js';
import { APPROVAL, ATTR, EVENT, EVENT_ATTR, OPERATION, SPAN_NAME } from './attributes.js';
import {
  budgetAttributes,
  chatRequestAttributes,
  chatResponseAttributes,
  firstChunkAttributes,
  eventOf,
  priceUnknownEvent,
  runAttributes,
  runEndAttributes,
  stepAttributes,
  toolAttributes,
  toolResultAttributes,
  type SpanRecording,
  type SpanOwner,
} from './instrumentation.js';
import { isTraced, openSpan, recordError, setAttributes, withRuntimeTracer, type OpenSpan } from './span.js';
import { contextWindow, type ContextWindowOverrides } from '../budget/context-window.js';

/** What tracing needs. */
export interface TracingOptions {
  tracer: Tracer;
  /** Content capture, and whether Langfuse's keys are written (only when its exporter is on). */
  recording: SpanRecording;
  /** Context windows (tokens) that win over the bundled data, for `tracebound.context.utilization`. */
  contextWindows?: ContextWindowOverrides;
}

/** The two tracing middleware (see the module's comment for where each goes). */
export interface TracingMiddleware {
  outer: Middleware;
  model: Middleware;
}

/** The open spans of one run. */
interface RunSpans {
  run: OpenSpan;
  owner: SpanOwner;
  /** Per step index: its span, the compression span open in it, the chat span open in it. */
  steps: (OpenSpan | undefined)[];
  compressing: (OpenSpan | undefined)[];
  chats: (Span | undefined)[];
}

/** Runs `next` with `open` as the active context when it takes part in a trace. */
function within<T>(open: OpenSpan, next: () => Promise<T>): Promise<T> {
  return isTraced(open.span) ? otelContext.with(open.context, next) : next();
}

/** Makes the tracing middleware for one runtime. */
export function tracingMiddleware({ tracer, recording, contextWindows }: TracingOptions): TracingMiddleware {
  const runs = new WeakMap<RunContext, RunSpans>();
  const windows = new WeakMap<Model, number | undefined>();
  /** The model's context window in tokens (looked up once per model: it is on every chat span). */
  const contextWindowOf = (model: Model): number | undefined => {
    if (!windows.has(model)) windows.set(model, contextWindow(model.provider, model.modelId, contextWindows));
    return windows.get(model);
  };
  const compressions = new WeakMap<CompressContext, OpenSpan>();
  const guardrailSpans = new WeakMap<GuardrailContext, OpenSpan>();
  /** Open tool spans, for the sub-runs their calls start. */
  const toolSpans = new WeakMap<ToolCallContext, OpenSpan>();
  const spansOf = (run: RunContext) => runs.get(run) as RunSpans;

  /** A `load_conversation` or `save_conversation` span under the run's. */
  /**
   * Runs a conversation load or save in its span (under the run span): `count` gives the messages
   * it moved; what it throws is recorded, and the span always ends.
   */
  const conversationSpan = async <T>(name: string, ctx: ConversationContext, work: () => Promise<T>, count: (value: T) => number): Promise<T> => {
    const open = openSpan(tracer, {
      name,
      parent: spansOf(ctx.run).run.context,
      attributes: () => ({
        [ATTR.operation]: name,
        [ATTR.agentName]: ctx.run.agent.name,
        [ATTR.conversationId]: ctx.conversationId,
        [ATTR.store]: ctx.store,
      }),
    });
    try {
      const value = await work();
      if (open.span.isRecording()) open.span.setAttribute(ATTR.conversationMessages, count(value));
      return value;
    } catch (error) {
      recordError(open.span, error, recording);
      throw error;
    } finally {
      open.span.end();
    }
  };

  const outer: Middleware = {
    name: 'tracing',
    async wrapRun(ctx, next) {
      const { agent, state } = ctx;
      const owner: SpanOwner = { agentName: agent.name, conversationId: state.conversationId };
      // A resumed run continues its trace: a child of the part it continues, linked to it.
      const resumed = ctx.resumed;
      const earlier = resumed?.trace && isTraceRef(resumed.trace) ? earlierPart(resumed.trace) : undefined;
      const opened = openSpan(tracer, {
        name: SPAN_NAME.run(agent.name),
        // A sub-run's span is a child of its tool call's (the active context may not carry it).
        parent: earlier?.parent ?? ctx.parent ?? (ctx.parentCall && toolSpans.get(ctx.parentCall)?.context),
        links: earlier?.links,
        attributes: () => {
          const attrs = runAttributes(
            { agentName: agent.name, conversationId: state.conversationId, agentId: agent.id, model: agent.model, input: state.input },
            recording,
          );
          attrs[ATTR.runId] = state.runId;
          if (state.tenant !== undefined) attrs[ATTR.tenant] = state.tenant;
          if (state.user !== undefined) attrs[ATTR.userId] = state.user;
          if (ctx.parentCall) attrs[ATTR.parentRunId] = ctx.parentCall.run.state.runId;
          if (resumed) attrs[ATTR.resumeFromStep] = resumed.fromStep;
          return ctx.attributes ? Object.assign(attrs, ctx.attributes) : attrs;
        },
      });
      // The run's context carries the runtime's tracer, so the spans a tool library makes in the
      // run's tool calls (MCP's) find it: once per run, not once per tool call.
      const run: OpenSpan = { span: opened.span, context: withRuntimeTracer(opened.context, tracer) };
      const sc = run.span.spanContext();
      state.trace = { traceId: sc.traceId, spanId: sc.spanId };
      runs.set(ctx, { run, owner, steps: [], compressing: [], chats: [] });
      const end = (stopReason: string, output?: string) =>
        setAttributes(run.span, () =>
          Object.assign(
            runEndAttributes(
              {
                usage: state.totals.usage,
                // A guardrail's model call may spend before the first step.
                costUsd: state.totals.priced && (state.step > 0 || state.totals.costUsd > 0) ? state.totals.costUsd : undefined,
                steps: state.step,
                toolCalls: state.totals.toolCalls,
                stopReason,
                output,
                maxSteps: maxSteps(agent),
                maxToolCalls: agent.budget.maxToolCalls,
              },
              recording,
            ),
            budgetAttributes(agent.budget, state),
          ),
        );
      try {
        const result = await within(run, next);
        end(result.stopReason, outputText(result.output));
        const trip = result.guardrail;
        if (trip) {
          setAttributes(run.span, () => ({ [ATTR.guardrailName]: trip.name, [ATTR.guardrailStage]: trip.stage, [ATTR.guardrailReason]: trip.reason }));
        }
        return result;
      } catch (error) {
        end((error as { stopReason?: string }).stopReason ?? 'error');
        recordError(run.span, (error as { cause?: unknown }).cause ?? error, recording);
        throw error;
      } finally {
        run.span.end();
      }
    },
    async wrapStep(ctx, next) {
      const spans = spansOf(ctx.run);
      const index = ctx.index;
      const step = openSpan(tracer, { name: SPAN_NAME.step(index), parent: spans.run.context, attributes: () => stepAttributes(index, spans.owner) });
      spans.steps[index] = step;
      let finish = 'stopped';
      try {
        const outcome = await next();
        finish = stepFinish(outcome);
        if (step.span.isRecording()) {
          if (outcome.kind === 'final' && outcome.why) step.span.setAttribute(ATTR.stepLastCallReason, outcome.why);
          if (outcome.kind === 'stop') step.span.setAttribute(ATTR.stopReason, outcome.stopReason);
        }
        return outcome;
      } catch (error) {
        recordError(step.span, error, recording);
        throw error;
      } finally {
        if (step.span.isRecording()) step.span.setAttribute(ATTR.stepFinish, finish);
        step.span.end();
        spans.steps[index] = undefined;
      }
    },
    async wrapCompress(ctx, next) {
      const spans = spansOf(ctx.run);
      const index = ctx.step.index;
      const open = openSpan(tracer, {
        name: SPAN_NAME.compress(),
        parent: spans.steps[index]?.context,
        attributes: () => ({
          [ATTR.operation]: OPERATION.compressContext,
          [ATTR.agentName]: spans.owner.agentName,
          [ATTR.contextStrategy]: ctx.strategy,
          [ATTR.contextTokensBefore]: ctx.tokensBefore,
          [ATTR.contextLimit]: ctx.limit,
          [ATTR.contextMessagesBefore]: ctx.messages.length,
        }),
      });
      compressions.set(ctx, open);
      spans.compressing[index] = open;
      try {
        const outcome = await next();
        setAttributes(open.span, () => ({ [ATTR.contextTokensAfter]: outcome.tokensAfter, [ATTR.contextMessagesAfter]: outcome.messages.length }));
        return outcome;
      } catch (error) {
        recordError(open.span, error, recording);
        throw error;
      } finally {
        open.span.end();
        spans.compressing[index] = undefined;
      }
    },
    async wrapGuardrail(ctx, next) {
      const spans = spansOf(ctx.run);
      // Under the run span: input checks come before the first step, output checks after the last.
      const open = openSpan(tracer, {
        name: SPAN_NAME.guardrail(ctx.name),
        parent: spans.run.context,
        attributes: () => ({
          [ATTR.operation]: OPERATION.guardrail,
          [ATTR.agentName]: spans.owner.agentName,
          [ATTR.guardrailName]: ctx.name,
          [ATTR.guardrailStage]: ctx.stage,
        }),
      });
      guardrailSpans.set(ctx, open);
      try {
        const verdict = await within(open, next);
        setAttributes(open.span, () => (verdict.ok ? { [ATTR.guardrailResult]: 'pass' } : { [ATTR.guardrailResult]: 'fail', [ATTR.guardrailReason]: verdict.reason }));
        return verdict;
      } catch (error) {
        recordError(open.span, error, recording);
        throw error;
      } finally {
        open.span.end();
      }
    },
    async wrapToolCall(ctx, next) {
      const spans = spansOf(ctx.run);
      const open = openSpan(tracer, {
        name: SPAN_NAME.tool(ctx.call.name),
        parent: spans.steps[ctx.step.index]?.context,
        attributes: () => {
          const attrs = toolAttributes(ctx.call, ctx.tool, spans.owner, recording);
          if (ctx.approval) attrs[ATTR.approval] = APPROVAL[ctx.approval];
          return attrs;
        },
      });
      toolSpans.set(ctx, open);
      try {
        const outcome = await within(open, next);
        setAttributes(open.span, () => toolResultAttributes(outcome.content, outcome.costUsd, recording));
        if (outcome.isError) {
          recordError(open.span, outcome.error ?? Object.assign(new Error(outcome.content), { kind: outcome.errorType }), recording);
          if (outcome.errorType && open.span.isRecording()) open.span.setAttribute(ATTR.errorType, outcome.errorType);
        }
        return outcome;
      } catch (error) {
        recordError(open.span, error, recording);
        throw error;
      } finally {
        open.span.end();
      }
    },
    wrapLoadConversation: (ctx, next) => conversationSpan(SPAN_NAME.loadConversation(), ctx, next, (messages) => messages.length),
    // What the layers below passed on is what was saved.
    wrapSaveConversation: (ctx, next) => conversationSpan(SPAN_NAME.saveConversation(), ctx, () => next(ctx.messages), () => ctx.messages.length),
    onEvent(run, event) {
      const spans = runs.get(run);
      if (!spans || !('step' in event)) return;
      if (event.type === 'approval') {
        // A decision belongs to the resumed run, not to one of its steps.
        if (!spans.run.span.isRecording()) return;
        const attributes: Attributes = { [EVENT_ATTR.toolCallId]: event.toolCallId, [EVENT_ATTR.approved]: event.approved };
        if (event.reason !== undefined) attributes[EVENT_ATTR.reason] = event.reason;
        spans.run.span.addEvent(EVENT.approval, attributes);
        return;
      }
      // Where it happened: a retry on its chat span; a budget decision on the compression span of
      // a summarising call, else on the step span. Its attributes are built only for a recording span.
      const span = event.type === 'retry' ? spans.chats[event.step] : (spans.compressing[event.step] ?? spans.steps[event.step])?.span;
      if (!span?.isRecording()) return;
      const recorded = eventOf(event);
      if (recorded) span.addEvent(recorded.name, recorded.attributes);
    },
  };

  const model: Middleware = {
    name: 'tracing-model',
    async wrapModelCall(ctx, next) {
      const spans = spansOf(ctx.run);
      const index = ctx.step.index;
      const called = ctx.model;
      const parent = ctx.compression ? compressions.get(ctx.compression) : ctx.guardrail ? guardrailSpans.get(ctx.guardrail) : spans.steps[index];
      const request = ctx.request;
      const open = openSpan(tracer, {
        name: SPAN_NAME.chat(called.modelId),
        kind: SpanKind.CLIENT,
        parent: parent?.context,
        attributes: () => {
          const attrs = chatRequestAttributes(called, request, spans.owner, ctx.run.streaming, recording);
          if (ctx.promptTokens !== undefined) {
            attrs[ATTR.contextPromptTokens] = ctx.promptTokens;
            const window = contextWindowOf(called);
            if (window) attrs[ATTR.contextUtilization] = ctx.promptTokens / window;
          }
          return attrs;
        },
      });
      spans.chats[index] = open.span;
      const started = performance.now();
      try {
        const outcome = await within(open, () => next(request));
        if (outcome.kind === 'response' && open.span.isRecording()) {
          const { response, cost } = outcome;
          const attrs = chatResponseAttributes(response, cost, ctx.attempts - 1, recording);
          if (ctx.promptTokens === undefined) {
            const window = contextWindowOf(called);
            if (window) attrs[ATTR.contextUtilization] = response.usage.inputTokens / window;
          }
          open.span.setAttributes(attrs);
          if (ctx.firstChunkAt !== undefined) open.span.setAttributes(firstChunk(ctx.firstChunkAt, started, recording));
          if (!cost) {
            const event = priceUnknownEvent(called);
            open.span.addEvent(event.name, event.attributes);
          }
        }
        return outcome;
      } catch (error) {
        if (open.span.isRecording()) {
          open.span.setAttribute(ATTR.retryAttempts, Math.max(0, ctx.attempts - 1));
          if (ctx.firstChunkAt !== undefined) open.span.setAttributes(firstChunk(ctx.firstChunkAt, started, recording));
        }
        recordError(open.span, error, recording);
        throw error;
      } finally {
        open.span.end();
        spans.chats[index] = undefined;
      }
    },
  };

  return { outer, model };
}

/** Whether a checkpointed trace reference names a real span (an untraced run's is all zeros or absent). */
function isTraceRef(ref: RunTraceRef): boolean {
  return trace.isSpanContextValid({ traceId: ref.traceId, spanId: ref.spanId, traceFlags: TraceFlags.NONE });
}

/**
 * The parent context and link of a resumed run's span: the earlier part's run span, read from
 * the checkpoint (so possibly written by another process: remote), taken as sampled, since it
 * was recorded to be continued.
 */
function earlierPart(ref: RunTraceRef): { parent: Context; links: Link[] } {
  const spanContext = { traceId: ref.traceId, spanId: ref.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true };
  return { parent: trace.setSpanContext(ROOT_CONTEXT, spanContext), links: [{ context: spanContext }] };
}

/** Time to the first chunk (s) and when it came, from `performance.now()` readings in ms. */
function firstChunk(at: number, started: number, rec: SpanRecording) {
  return firstChunkAttributes((at - started) / 1000, performance.timeOrigin + at, rec);
}
