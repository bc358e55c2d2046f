/**
 * Hooks: the short way to run code around model calls, tool calls and compression. They are
 * sugar over middleware ({@link hooksMiddleware}); anything a hook does, a middleware can do too.
 */
import type { Agent } from '../agent.js';
import type { ToolCall } from '../messages.js';
import type { ModelRequest, ModelResponse } from '../providers/model.js';
import type { Middleware } from './middleware.js';
import type { ToolOutcome } from './tools.js';

/** Where a hook runs: the agent and the step (1-based). */
export interface HookContext {
  agent: Agent;
  step: number;
}

/**
 * Hooks around model calls, tool calls and context compression. Each may be async; the run
 * waits for it. A hook that throws fails the call it wraps: the model call (and so the run) or
 * the tool call (whose error goes back to the model as an error result).
 */
export interface Hooks {
  /** Before each model call of a step (not a summarising call); may return a changed request to send instead. */
  beforeModelCall?(ctx: HookContext & { request: ModelRequest }): void | ModelRequest | Promise<void | ModelRequest>;
  /** After each successful model call of a step. */
  afterModelCall?(ctx: HookContext & { request: ModelRequest; response: ModelResponse }): void | Promise<void>;
  /** Before each tool call. */
  beforeToolCall?(ctx: HookContext & { toolCall: ToolCall }): void | Promise<void>;
  /** After each tool call, with what goes back to the model. */
  afterToolCall?(ctx: HookContext & { toolCall: ToolCall; outcome: ToolOutcome }): void | Promise<void>;
  /** Before a compression strategy runs on a prompt over the context limit (tokens). */
  beforeCompress?(ctx: HookContext & { strategy: string; tokens: number; limit: number }): void | Promise<void>;
  /** After a compression strategy ran, with the prompt's tokens before and after. */
  afterCompress?(ctx: HookContext & { strategy: string; tokensBefore: number; tokensAfter: number; limit: number }): void | Promise<void>;
}

/**
 * The middleware that runs `hooks`; undefined when no hook is set, so a runtime without hooks
 * awaits nothing for them.
 */
export function hooksMiddleware(hooks: Hooks): Middleware | undefined {
  const { beforeModelCall, afterModelCall, beforeToolCall, afterToolCall, beforeCompress, afterCompress } = hooks;
  const middleware: Middleware = { name: 'hooks' };
  if (beforeModelCall || afterModelCall) {
    middleware.wrapModelCall = async (ctx, next) => {
      if (ctx.purpose !== 'step') return next(ctx.request);
      const info = { agent: ctx.run.agent, step: ctx.step.index };
      const request = (await beforeModelCall?.({ ...info, request: ctx.request })) ?? ctx.request;
      const outcome = await next(request);
      if (outcome.kind === 'response') await afterModelCall?.({ ...info, request, response: outcome.response });
      return outcome;
    };
  }
  if (beforeToolCall || afterToolCall) {
    middleware.wrapToolCall = async (ctx, next) => {
      const info = { agent: ctx.run.agent, step: ctx.step.index, toolCall: ctx.call };
      let outcome: ToolOutcome;
      try {
        await beforeToolCall?.(info);
        outcome = await next();
      } catch (error) {
        if (ctx.run.signal?.aborted) throw error;
        outcome = { content: `Error: ${error instanceof Error ? error.message : String(error)}`, isError: true, errorType: 'hook', error };
      }
      await afterToolCall?.({ ...info, outcome });
      return outcome;
    };
  }
  if (beforeCompress || afterCompress) {
    middleware.wrapCompress = async (ctx, next) => {
      const info = { agent: ctx.run.agent, step: ctx.step.index, strategy: ctx.strategy, limit: ctx.limit };
      await beforeCompress?.({ ...info, tokens: ctx.tokensBefore });
      const outcome = await next();
      await afterCompress?.({ ...info, tokensBefore: ctx.tokensBefore, tokensAfter: outcome.tokensAfter });
      return outcome;
    };
  }
  return middleware.wrapModelCall || middleware.wrapToolCall || middleware.wrapCompress ? middleware : undefined;
}
