/**
 * The run events middleware: it turns the run's lifecycle into the typed {@link RunEvent}s a
 * `stream()` reader iterates and the store logs for `subscribe()` (deltas, retries and budget
 * decisions are emitted where they happen). Every run carries it: a run's events must reach a
 * watcher in another process whether it was started with `run()` or `stream()`.
 */
import type { RunResult } from './events.js';
import type { Middleware } from './middleware.js';
import { stepFinish } from './outcomes.js';
import { traceIdOf } from './run-state.js';
import { failureOf } from './run-signal.js';

/** Emits run, step, usage and tool-call events around the calls it wraps. */
export const streamEvents: Middleware = {
  name: 'stream-events',
  async wrapRun(ctx, next) {
    ctx.emit({ type: 'run-start', agent: ctx.agent.name, traceId: traceIdOf(ctx.state) });
    let result: RunResult;
    try {
      result = await next();
    } catch (error) {
      const { stopReason, type, message } = failureOf(error);
      ctx.emit({ type: 'run-error', stopReason, error: { type, message } });
      throw error;
    }
    ctx.emit({ type: 'run-end', result });
    return result;
  },
  wrapStep(ctx, next) {
    const step = ctx.index;
    ctx.run.emit({ type: 'step-start', step });
    // Continuations, not an async frame: this layer runs on every step (the layers inside it are
    // the runtime's own, whose calls return promises and never throw synchronously).
    return next().then(
      (outcome) => {
        ctx.run.emit({ type: 'step-end', step, finish: stepFinish(outcome) });
        return outcome;
      },
      (error: unknown) => {
        ctx.run.emit({ type: 'step-end', step, finish: 'stopped' });
        throw error;
      },
    );
  },
  wrapModelCall(ctx, next) {
    // A continuation, not an async frame: this layer runs on every model call.
    return next(ctx.request).then((outcome) => {
      if (outcome.kind === 'response') {
        ctx.run.emit({ type: 'usage', step: ctx.step.index, usage: outcome.response.usage, costUsd: outcome.cost?.usd });
      }
      return outcome;
    });
  },
  wrapToolCall(ctx, next) {
    const step = ctx.step.index;
    ctx.run.emit({ type: 'tool-call-start', step, toolCall: ctx.call });
    const started = performance.now();
    // A continuation, as wrapStep: this layer runs on every tool call.
    return next().then((outcome) => {
      ctx.run.emit({
        type: 'tool-call-end',
        step,
        toolCall: ctx.call,
        result: outcome.content,
        isError: outcome.isError,
        durationMs: performance.now() - started,
      });
      return outcome;
    });
  },
};
