import { z } from 'zod';
import { DefinitionError } from './errors.js';
import type { ToolDefinition } from './providers/model.js';

/** What a tool's `execute` receives besides its arguments. */
export interface ToolContext {
  /** Fires when the run is aborted or the tool's `timeoutMs` elapses: stop work and return. */
  signal: AbortSignal;
  /** The model's id for this call (`gen_ai.tool.call.id`). */
  toolCallId: string;
  /**
   * Runs an agent as a sub-run of this call (what `agent.asTool()` calls), through the runtime's
   * own chain: traced under this call's span, budgeted within every ancestor run's `runCostUsd`,
   * its spend counted in the calling run's totals, its events sent through the calling run's
   * `stream()` as `sub-agent` events. It stops with {@link signal}. It is part of this tool call,
   * not a durable run of its own: no checkpoint, no conversation, not resumable (a resumed parent
   * redoes the whole call if it had not completed). Absent when a tool is called outside a runtime.
   * @param agent an agent made by `agent()` (typed structurally here: tools sit below agents).
   * @throws {Error} (the runtime's `RunError`) when the sub-run is aborted, times out or fails.
   */
  runAgent?(agent: SubAgent, input: string): Promise<SubRunResult>;
}

/** An agent as a tool context runs it: one made by `agent()`. */
export interface SubAgent {
  readonly name: string;
}

/** What a sub-run gives the tool that started it. */
export interface SubRunResult {
  /** The sub-run's id (`tracebound.run.id` of its span). */
  runId: string;
  /** Its final answer's text. */
  output: string;
  /** Why it stopped (a `StopReason`: `final`, `max_steps`, `budget_exceeded`, ...). */
  stopReason: string;
  /** USD of its model calls; `undefined` when a call's model had no known price. */
  costUsd: number | undefined;
}

/**
 * Prices one tool call in USD from its validated arguments and its result. Declared as a method
 * so a `Tool<Schema, number>` stays assignable to `Tool` (method parameters are bivariant).
 */
export type ToolPrice<A, R> = { price(args: A, result: R): number }['price'];

/** What `tool()` takes. */
export interface ToolOptions<P extends z.ZodType, R> {
  /** Name the model calls it by: 1-64 of `[A-Za-z0-9_-]` (the providers' rule). */
  name: string;
  /** What the tool does, for the model. */
  description: string;
  /** zod 4 schema of the arguments; must describe an object. */
  parameters: P;
  /** Most time one call may take, in ms; the call then fails with a timeout error result. */
  timeoutMs?: number;
  /**
   * Whether a call needs a person's approval before it runs: the run then checkpoints and
   * resolves with `stopReason: 'interrupted'` until `runtime.resume()` brings a decision.
   * A function decides per call, from the validated arguments. Default false.
   */
  needsApproval?: boolean | ((args: z.infer<P>, info: { toolCallId: string; agent: string }) => boolean | Promise<boolean>);
  /**
   * What one call costs, in USD (an API's fee, a paid search), counted in the run's cost
   * (`result.costUsd`, `tracebound.run.cost_usd`), on the tool span (`tracebound.tool.cost_usd`)
   * and against the agent's USD budgets. A number is a fixed price: it is reserved in every USD
   * scope before the call (`runCostUsd`, each `spend` window), through the same guard as model
   * calls, and a call that does not fit is not executed: the model gets a budget error result
   * and the run goes on. It is charged once `execute` ran, whether it succeeded or threw. A
   * function prices a call from its validated arguments and result after it succeeded (a
   * failed call costs nothing): nothing is reserved for it beforehand, so such a call can take
   * a scope past its limit by at most its own price; the budget then refuses what comes next.
   * Must be a finite number >= 0, or return one (anything else counts as 0).
   */
  costUsd?: number | ToolPrice<z.infer<P>, R>;
  /** Runs the tool. Its result goes back to the model (strings as is, anything else as JSON). */
  execute: (args: z.infer<P>, context: ToolContext) => Promise<R> | R;
}

/** A defined tool, ready for an agent. */
export interface Tool<P extends z.ZodType = z.ZodType, R = unknown> extends Readonly<ToolOptions<P, R>> {
  /** The definition sent to the model, with the JSON Schema of `parameters`. */
  readonly definition: ToolDefinition;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Why `value` is not a schema tracebound can use, or undefined when it is a zod 4 schema. A zod 3
 * schema (`_def` without zod 4's `_zod`) gets its own message: it is the likely mistake, and
 * tracebound needs zod 4's `z.toJSONSchema` (zod is a peer dependency, `^4`).
 */
export function notZod4(value: unknown): string | undefined {
  if (value instanceof z.ZodType) return undefined;
  const zod3 = typeof value === 'object' && value !== null && '_def' in value && !('_zod' in value);
  return zod3
    ? 'is a zod 3 schema: tracebound takes zod 4 schemas (install zod@^4 and `import { z } from "zod"`)'
    : 'must be a zod 4 schema, e.g. z.object({ city: z.string() })';
}

/**
 * Defines a tool. The zod schema validates the model's arguments before `execute` runs; invalid
 * arguments go back to the model as an error result.
 * @throws {DefinitionError} on a bad name, a missing description, a schema that is not zod 4 (a
 *   zod 3 schema is named as such), a non-object schema, a non-positive timeout or a `costUsd`
 *   that is neither a finite number >= 0 nor a function.
 */
export function tool<P extends z.ZodType, R>(options: ToolOptions<P, R>): Tool<P, R> {
  const what = `tool(${JSON.stringify(options.name)})`;
  if (typeof options.name !== 'string' || !NAME.test(options.name)) {
    throw new DefinitionError(what, 'name', 'must be 1-64 letters, digits, "_" or "-"');
  }
  if (typeof options.description !== 'string' || options.description.trim() === '') {
    throw new DefinitionError(what, 'description', 'must be a non-empty string: the model reads it to pick the tool');
  }
  const notSchema = notZod4(options.parameters);
  if (notSchema !== undefined) throw new DefinitionError(what, 'parameters', notSchema);
  if (typeof options.execute !== 'function') {
    throw new DefinitionError(what, 'execute', 'must be a function (args, { signal, toolCallId }) => result');
  }
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new DefinitionError(what, 'timeoutMs', `must be a positive number of ms, got ${String(options.timeoutMs)}`);
  }
  const cost = options.costUsd;
  if (cost !== undefined && typeof cost !== 'function' && !(typeof cost === 'number' && Number.isFinite(cost) && cost >= 0)) {
    throw new DefinitionError(what, 'costUsd', `must be a finite number of USD >= 0 or a function (args, result) => USD, got ${String(cost)}`);
  }
  const schema = z.toJSONSchema(options.parameters, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  if (schema.type !== 'object') {
    throw new DefinitionError(what, 'parameters', 'must describe an object (providers take arguments as a JSON object)');
  }
  delete schema.$schema;
  return Object.freeze({
    ...options,
    definition: { name: options.name, description: options.description, parameters: schema },
  });
}
