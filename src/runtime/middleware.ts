/**
 * The middleware interface: behaviour around the loop's calls (a run, a step, one compression, a
 * model call, a tool call, a guardrail check, a conversation's load and save), after Pydantic AI's instrumentation capability and the AI SDK's
 * `wrapLanguageModel`. Tracing, the budget, retries, hooks and stream events are each one
 * middleware; users add their own. A runtime composes its chain once; a middleware that does not
 * wrap a call costs that call nothing.
 */
import type { Attributes, Context } from '@opentelemetry/api';
import type { Agent } from '../agent.js';
import type { GuardrailStage, GuardrailVerdict } from '../guardrail.js';
import type { Message, ToolCall } from '../messages.js';
import { fallbackPlan, movesOn, type FallbackPlan } from '../providers/fallback.js';
import type { Model, ModelRequest } from '../providers/model.js';
import type { Tool } from '../tool.js';
import type { RunEvent, RunResult } from './events.js';
import type { CompressOutcome, ModelCallOutcome, StepOutcome } from './outcomes.js';
import type { RunState, RunTraceRef } from './run-state.js';
import type { RunAbort } from './run-signal.js';
import type { ToolOutcome } from './tools.js';

/** One run, as every middleware sees it. */
export interface RunContext {
  readonly agent: Agent;
  /** The run's state: plain data that middleware read and update (see {@link RunState}). */
  readonly state: RunState;
  /**
   * Aborts in-flight calls (the caller's signal, the run's timeout, a stream consumer leaving,
   * {@link abort}).
   */
  readonly signal: AbortSignal;
  /**
   * Ends the run now: calls in flight get {@link signal}, and the run rejects with
   * `RunAbortedError` (`cancelled`) or `RunLeaseLostError` (`lease_lost`). Used by the durable
   * runs middleware for `runtime.cancel()` and a lease another process took.
   */
  abort(why: RunAbort): void;
  /** Set when the run continues a checkpointed run (`runtime.resume()`). */
  readonly resumed: ResumePoint | undefined;
  /** Whether model calls stream (`runtime.stream()`). */
  readonly streaming: boolean;
  /** The parent of the run's span, when the caller gave one. */
  readonly parent: Context | undefined;
  /** Extra attributes the caller asked for on the run's span. */
  readonly attributes: Attributes | undefined;
  /**
   * The tool call that started this run, for a sub-run (`agent.asTool()`): its span is the sub-run
   * span's parent, its run's (and each further ancestor's) totals count the sub-run's spend, and
   * each ancestor's `runCostUsd` bounds it. Undefined for a top run.
   */
  readonly parentCall?: ToolCallContext;
  /** Sends a run event to every middleware's `onEvent` and to a `stream()` reader. */
  emit(event: RunEvent): void;
  /**
   * Applies one compression strategy through the chain's `wrapCompress` (so it is traced and
   * hooked): the budget calls it for each strategy it runs.
   */
  compress(ctx: CompressContext, apply: () => Promise<CompressOutcome>): Promise<CompressOutcome>;
  /**
   * Makes a model call through the whole chain: the budget's summarising calls use it, so they
   * are guarded, traced, retried and counted like any other.
   */
  callModel(ctx: ModelCallContext): Promise<ModelCallOutcome>;
  /**
   * Loads a conversation's history through the chain's `wrapLoadConversation` (traced, and open
   * to a middleware that filters or redacts history): the conversation middleware calls it.
   */
  loadConversation(ctx: ConversationContext, load: () => Promise<Message[]>): Promise<Message[]>;
  /** Saves a turn through the chain's `wrapSaveConversation`; `save` gets the messages as passed down. */
  saveConversation(ctx: ConversationContext, save: (messages: Message[]) => Promise<void>): Promise<void>;
  /**
   * Runs one guardrail check through the chain's `wrapGuardrail` (so it is traced, and its model
   * calls nest under it): the guardrails middleware calls it for each check.
   */
  checkGuardrail(ctx: GuardrailContext, check: () => Promise<GuardrailVerdict>): Promise<GuardrailVerdict>;
}

/** Where a resumed run picks up. */
export interface ResumePoint {
  /**
   * The first step this part takes (`tracebound.resume.from_step`): the interrupted step whose
   * tool calls it finishes, or the step after the last checkpoint (the step in flight when the
   * process died is redone).
   */
  fromStep: number;
  /** The run span of the part it continues (from the checkpointed state): its span's parent and link. */
  trace?: RunTraceRef;
}

/** One step of a run. */
export interface StepContext {
  readonly run: RunContext;
  /** 1-based. */
  readonly index: number;
}

/** One model call. */
export interface ModelCallContext {
  readonly run: RunContext;
  readonly step: StepContext;
  /**
   * `step` for the step's own call; `summary` for a call a compression strategy makes;
   * `guardrail` for a call a guardrail check makes (`info.generate`).
   */
  readonly purpose: 'step' | 'summary' | 'guardrail';
  /** The compression a summarising call is part of. */
  readonly compression?: CompressContext;
  /** The guardrail check a `guardrail` call is part of. */
  readonly guardrail?: GuardrailContext;
  /**
   * The model this call goes to: the agent's, a guardrail's own, or, when that model is a
   * `fallback()`, the one being tried (each model tried is its own pass through the chain: see
   * `throughFallback`). Middleware price, guard, count and trace the call on it.
   */
  readonly model: Model;
  /** The request as it reaches this layer (each layer may pass a changed one to `next`). */
  request: ModelRequest;
  /** When the first streamed chunk arrived (`performance.now()` ms); set by the call itself. */
  firstChunkAt?: number;
  /** Attempts made so far (set by the retry middleware; 1 without it). */
  attempts: number;
  /** The prompt's tokens as counted before the call, when something counted them. */
  promptTokens?: number;
}

/** One tool call. */
export interface ToolCallContext {
  readonly run: RunContext;
  readonly step: StepContext;
  readonly call: ToolCall;
  /** The agent's tool of that name; `undefined` when the model asked for an unknown tool. */
  readonly tool: Tool | undefined;
  /**
   * A call that needed approval, on the resumed run: `approved` runs, `denied` never runs (the
   * core answers the model with the denial). Absent for a call that needed none.
   */
  readonly approval?: 'approved' | 'denied';
}

/** One compression strategy applied to a prompt over the context limit. Tokens are prompt tokens. */
export interface CompressContext {
  readonly run: RunContext;
  readonly step: StepContext;
  /** The strategy's name (`tracebound.context.strategy`). */
  readonly strategy: string;
  readonly messages: readonly Message[];
  readonly tokensBefore: number;
  readonly limit: number;
}

/** One guardrail check of a run's input or final answer. */
export interface GuardrailContext {
  readonly run: RunContext;
  /**
   * The step it belongs to: step 0 for input checks (before the first step), the last step for
   * output checks. Its model calls are counted there.
   */
  readonly step: StepContext;
  /** The guardrail's name (`tracebound.guardrail.name`). */
  readonly name: string;
  readonly stage: GuardrailStage;
}

/** A conversation's history being loaded before a run, or a run's turn being saved after it. */
export interface ConversationContext {
  readonly run: RunContext;
  readonly conversationId: string;
  /** The store's name (`tracebound.store`): `memory`, `sqlite`, `redis` or a custom name. */
  readonly store: string;
  /**
   * Load: empty until loaded. Save: the turn's messages (input, answers, tool calls and results)
   * as they reach this layer; each layer may pass changed ones to `next`.
   */
  messages: Message[];
}

/**
 * Behaviour around the loop's calls. Each `wrap*` gets the call's context and `next`, which runs
 * the rest of the chain and the call itself; it may change what goes in, look at or replace what
 * comes out, or not call `next` at all (a guardrail that blocks a tool call, a cache that answers
 * a model call). Every method is optional.
 */
export interface Middleware {
  /** A name for errors and debugging. */
  readonly name?: string;
  wrapRun?(ctx: RunContext, next: () => Promise<RunResult>): Promise<RunResult>;
  wrapStep?(ctx: StepContext, next: () => Promise<StepOutcome>): Promise<StepOutcome>;
  wrapCompress?(ctx: CompressContext, next: () => Promise<CompressOutcome>): Promise<CompressOutcome>;
  wrapModelCall?(ctx: ModelCallContext, next: (request: ModelRequest) => Promise<ModelCallOutcome>): Promise<ModelCallOutcome>;
  wrapToolCall?(ctx: ToolCallContext, next: () => Promise<ToolOutcome>): Promise<ToolOutcome>;
  /** Around one guardrail check: `next` runs the check and resolves with its verdict. */
  wrapGuardrail?(ctx: GuardrailContext, next: () => Promise<GuardrailVerdict>): Promise<GuardrailVerdict>;
  /** Around loading a conversation's history: may filter or redact what `next` returns. */
  wrapLoadConversation?(ctx: ConversationContext, next: () => Promise<Message[]>): Promise<Message[]>;
  /** Around saving a run's turn: may pass changed (filtered, redacted) messages to `next`. */
  wrapSaveConversation?(ctx: ConversationContext, next: (messages: Message[]) => Promise<void>): Promise<void>;
  /** Sees every run event as it is emitted (synchronously: keep it cheap, never throw). */
  onEvent?(run: RunContext, event: RunEvent): void;
}

/** The composed chain: each entry runs every middleware's wrapper around a core. */
export interface Chain {
  run(ctx: RunContext, core: () => Promise<RunResult>): Promise<RunResult>;
  step(ctx: StepContext, core: () => Promise<StepOutcome>): Promise<StepOutcome>;
  compress(ctx: CompressContext, core: () => Promise<CompressOutcome>): Promise<CompressOutcome>;
  modelCall(ctx: ModelCallContext): Promise<ModelCallOutcome>;
  toolCall(ctx: ToolCallContext, core: () => Promise<ToolOutcome>): Promise<ToolOutcome>;
  guardrail(ctx: GuardrailContext, core: () => Promise<GuardrailVerdict>): Promise<GuardrailVerdict>;
  loadConversation(ctx: ConversationContext, core: () => Promise<Message[]>): Promise<Message[]>;
  saveConversation(ctx: ConversationContext, core: (messages: Message[]) => Promise<void>): Promise<void>;
  /** The middleware that observe events, in chain order. */
  observers: readonly Middleware[];
}

type Wrap<C, R> = (ctx: C, next: () => Promise<R>) => Promise<R>;

/** Nests `wrappers` (the first outermost) around a core given per call. */
function nest<C, R>(wrappers: readonly Wrap<C, R>[]): (ctx: C, core: () => Promise<R>) => Promise<R> {
  if (wrappers.length === 0) return (_ctx, core) => core();
  return (ctx, core) => {
    const at = (i: number): Promise<R> => (i === wrappers.length ? core() : (wrappers[i] as Wrap<C, R>)(ctx, () => at(i + 1)));
    return at(0);
  };
}

/**
 * The entry of the chain's model calls: a call whose `ctx.model` is a `fallback()` goes through
 * `call` (the whole model-call chain) once per model it tries; any other call goes through once.
 *
 * Why here, and not in a middleware or in the model: every layer must see each model tried as a
 * call of its own. Tracing opens one `chat` span per model (the failed one ends in error with no
 * cost), the budget reserves at that model's prices and settles the hold (to 0 for a failure),
 * the retry middleware spends that model's retries (its `retry` events stay on its span) before
 * the next model is tried, and the core prices the answer on the model that gave it. A wrapper
 * model inside one pass could do none of that, and a middleware could only by re-running the
 * layers below it. Each pass gets its own context, whose `model` is the one tried.
 *
 * The next model is tried when one fails with an error of the fallback's kinds (after its
 * retries), unless the run was aborted or the failed call had already streamed a chunk (its text
 * reached the reader). A budget refusal is an outcome, not a failure: it stops there. The last
 * model's failure is thrown.
 */
function throughFallback(call: (ctx: ModelCallContext) => Promise<ModelCallOutcome>): (ctx: ModelCallContext) => Promise<ModelCallOutcome> {
  const each = async (ctx: ModelCallContext, plan: FallbackPlan): Promise<ModelCallOutcome> => {
    const last = plan.models.length - 1;
    for (let i = 0; ; i++) {
      const tried: ModelCallContext = {
        run: ctx.run,
        step: ctx.step,
        purpose: ctx.purpose,
        compression: ctx.compression,
        guardrail: ctx.guardrail,
        model: plan.models[i] as ModelCallContext['model'],
        request: ctx.request,
        attempts: 0,
      };
      try {
        return await call(tried);
      } catch (error) {
        if (i === last || tried.firstChunkAt !== undefined || ctx.run.signal.aborted || !movesOn(plan, error)) throw error;
      }
    }
  };
  // A single model's call goes through as is: no async frame of its own.
  return (ctx) => {
    const plan = fallbackPlan(ctx.model);
    return plan ? each(ctx, plan) : call(ctx);
  };
}

/**
 * Composes middleware (the first outermost) around the model call's core once, for every call of
 * a runtime. Only the methods a middleware defines are in the chain. A model call to a
 * `fallback()` goes through the whole model-call chain once per model it tries.
 */
export function composeChain(
  middleware: readonly Middleware[],
  callModel: (ctx: ModelCallContext, request: ModelRequest) => Promise<ModelCallOutcome>,
): Chain {
  const pick = <K extends keyof Middleware>(key: K) =>
    middleware.filter((m) => m[key] !== undefined).map((m) => (m[key] as (...args: never[]) => unknown).bind(m));
  const modelWrappers = pick('wrapModelCall') as ((ctx: ModelCallContext, next: (request: ModelRequest) => Promise<ModelCallOutcome>) => Promise<ModelCallOutcome>)[];
  const modelAt = (ctx: ModelCallContext, i: number, request: ModelRequest): Promise<ModelCallOutcome> => {
    ctx.request = request;
    if (i === modelWrappers.length) return callModel(ctx, request);
    return (modelWrappers[i] as (typeof modelWrappers)[number])(ctx, (next) => modelAt(ctx, i + 1, next));
  };
  type SaveWrapper = NonNullable<Middleware['wrapSaveConversation']>;
  const saveWrappers = pick('wrapSaveConversation') as SaveWrapper[];
  const saveAt = (ctx: ConversationContext, i: number, messages: Message[], core: (messages: Message[]) => Promise<void>): Promise<void> => {
    ctx.messages = messages;
    if (i === saveWrappers.length) return core(messages);
    return (saveWrappers[i] as SaveWrapper)(ctx, (next) => saveAt(ctx, i + 1, next, core));
  };
  return {
    run: nest(pick('wrapRun') as Wrap<RunContext, RunResult>[]),
    step: nest(pick('wrapStep') as Wrap<StepContext, StepOutcome>[]),
    compress: nest(pick('wrapCompress') as Wrap<CompressContext, CompressOutcome>[]),
    modelCall: throughFallback((ctx) => modelAt(ctx, 0, ctx.request)),
    toolCall: nest(pick('wrapToolCall') as Wrap<ToolCallContext, ToolOutcome>[]),
    guardrail: nest(pick('wrapGuardrail') as Wrap<GuardrailContext, GuardrailVerdict>[]),
    loadConversation: nest(pick('wrapLoadConversation') as Wrap<ConversationContext, Message[]>[]),
    saveConversation: (ctx, core) => saveAt(ctx, 0, ctx.messages, core),
    observers: middleware.filter((m) => m.onEvent !== undefined),
  };
}
