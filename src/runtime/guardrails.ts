/**
 * The guardrails middleware: an agent's input guardrails run before its first model call, its
 * output guardrails on the final answer (the text, or the typed object). The first failed check
 * stops the run with `stopReason: 'guardrail'`, a result naming the guardrail and its reason. Each
 * check runs through the chain's `wrapGuardrail` (tracing makes it a `guardrail {name}` span); a
 * check's own model calls (`info.generate`) go through the whole chain under it, so they are
 * budgeted, retried, traced and priced in the run.
 */
import type { Guardrail, GuardrailInfo, GuardrailStage, GuardrailTrip, GuardrailVerdict } from '../guardrail.js';
import type { Message } from '../messages.js';
import type { Model, ModelRequest, ModelResponse } from '../providers/model.js';
import type { GuardrailContext, Middleware, RunContext, StepContext } from './middleware.js';
import type { RunResult } from './events.js';
import { runResult } from './result.js';
import { toRunError } from './run-signal.js';

/** A guardrail's model call the budget refused: the run stops with the refusal, as for its own calls. */
class GuardrailCallRefused extends Error {
  override readonly name = 'GuardrailCallRefused';
  constructor(readonly stopReason: 'budget_exceeded' | 'context_overflow') {
    super(`a guardrail's model call was refused (${stopReason})`);
  }
}

const NONE: readonly Guardrail<never>[] = [];

/** Checks each run's input and final answer with its agent's guardrails. */
export const guardrailsMiddleware: Middleware = {
  name: 'guardrails',
  wrapRun(ctx, next) {
    const input = ctx.agent.guardrails?.input ?? NONE;
    const output = (ctx.agent.guardrails?.output ?? NONE) as readonly Guardrail<unknown>[];
    // An agent without guardrails costs its run no async frame here.
    if (input.length === 0 && output.length === 0) return next();
    return guarded(ctx, next, input, output);
  },
};

/** A run checked by its agent's input and output guardrails. */
async function guarded(ctx: RunContext, next: () => Promise<RunResult>, input: readonly Guardrail[], output: readonly Guardrail<unknown>[]): Promise<RunResult> {
  try {
    // A resumed run's input was checked when it started.
    if (input.length > 0 && !ctx.resumed) {
      const trip = await firstFailure(ctx, { run: ctx, index: 0 }, 'input', inputText(ctx.state.input), input);
      if (trip) return { ...runResult(ctx, 'guardrail'), output: ctx.agent.output ? undefined : '', guardrail: trip };
    }
    const result = await next();
    if (output.length === 0 || (result.stopReason !== 'final' && result.stopReason !== 'graceful_limit')) return result;
    const trip = await firstFailure(ctx, { run: ctx, index: ctx.state.step }, 'output', result.output, output);
    // Read again from the state: the checks' own model calls count in the totals. A blocked
    // answer stays in `messages` (and the trace) for review; `output` does not carry it.
    return trip ? { ...runResult(ctx, 'guardrail'), output: ctx.agent.output ? undefined : '', guardrail: trip } : runResult(ctx, result.stopReason);
  } catch (error) {
    if (error instanceof GuardrailCallRefused) return runResult(ctx, error.stopReason);
    // A check that threw fails the run as any failure does (the steps' own arrive as RunErrors already).
    throw toRunError(error, ctx.state, ctx.signal);
  }
}

/** Runs `guardrails` on `value` in order; the first failure's trip, or undefined when all pass. */
async function firstFailure(run: RunContext, step: StepContext, stage: GuardrailStage, value: unknown, guardrails: readonly Guardrail<unknown>[]): Promise<GuardrailTrip | undefined> {
  for (const guardrail of guardrails) {
    const ctx: GuardrailContext = { run, step, name: guardrail.name, stage };
    const verdict = await run.checkGuardrail(ctx, async () => verdictOf(guardrail.name, await guardrail.check(value, infoOf(ctx))));
    if (!verdict.ok) return { name: guardrail.name, stage, reason: verdict.reason };
  }
  return undefined;
}

/**
 * A check's answer, checked: a guardrail written in JavaScript may return anything.
 * @throws {TypeError} naming the guardrail when it is not `{ ok: true }` or `{ ok: false, reason }`.
 */
function verdictOf(name: string, verdict: GuardrailVerdict): GuardrailVerdict {
  if (verdict?.ok === true) return { ok: true };
  if (verdict?.ok === false && typeof verdict.reason === 'string') return { ok: false, reason: verdict.reason };
  throw new TypeError(`guardrail "${name}" returned ${JSON.stringify(verdict)}: return { ok: true } or { ok: false, reason: '...' }`);
}

function infoOf(ctx: GuardrailContext): GuardrailInfo {
  const { run } = ctx;
  const info: GuardrailInfo = {
    agent: run.agent.name,
    runId: run.state.runId,
    stage: ctx.stage,
    messages: run.state.messages,
    signal: run.signal,
    generate: (model, request) => generate(ctx, model, request),
  };
  return run.state.conversationId === undefined ? info : { ...info, conversationId: run.state.conversationId };
}

async function generate(ctx: GuardrailContext, model: Model, request: string | Omit<ModelRequest, 'signal'>): Promise<ModelResponse> {
  const { run } = ctx;
  const asked: ModelRequest = typeof request === 'string' ? { messages: [{ role: 'user', content: request }], tools: [] } : { ...request };
  asked.signal = run.signal;
  const outcome = await run.callModel({ run, step: ctx.step, purpose: 'guardrail', guardrail: ctx, model, request: asked, attempts: 0 });
  if (outcome.kind === 'refused') throw new GuardrailCallRefused(outcome.stopReason);
  return outcome.response;
}

/** The text input guardrails check: the run's user messages, joined by blank lines. */
function inputText(input: readonly Message[]): string {
  return input
    .filter((m) => m.role === 'user')
    .map((m) => m.content)
    .join('\n\n');
}
