import type { Agent } from '../agent.js';
import type { ToolCall } from '../messages.js';
import type { ModelRequest, ModelResponse } from '../providers/model.js';
import type { ToolOutcome } from './tools.js';

/** Where a hook runs: the agent and the step (1-based). */
export interface HookContext {
  agent: Agent;
  step: number;
}

/**
 * Hooks around model calls, tool calls and context compression. Each may be async; the run waits for it. A hook that throws
 * fails the call it wraps: the model call (and so the run) or the tool call (whose error goes
 * back to the model as an error result).
 */
export interface Hooks {
  /** Before each model call; may return a changed request to send instead. */
  beforeModelCall?(ctx: HookContext & { request: ModelRequest }): void | ModelRequest | Promise<void | ModelRequest>;
  /** After each successful model call. */
  afterModelCall?(ctx: HookContext & { request: ModelRequest; response: ModelResponse }): void | Promise<void>;
  /** Before each tool call, after its arguments were validated. */
  beforeToolCall?(ctx: HookContext & { toolCall: ToolCall }): void | Promise<void>;
  /** After each tool call, with what goes back to the model. */
  afterToolCall?(ctx: HookContext & { toolCall: ToolCall; outcome: ToolOutcome }): void | Promise<void>;
  /** Before a compression strategy runs on a prompt over the context limit (tokens). */
  beforeCompress?(ctx: HookContext & { strategy: string; tokens: number; limit: number }): void | Promise<void>;
  /** After a compression strategy ran, with the prompt's tokens before and after. */
  afterCompress?(ctx: HookContext & { strategy: string; tokensBefore: number; tokensAfter: number; limit: number }): void | Promise<void>;
}
