import { z } from 'zod';
import { budgetPolicySchema, type BudgetPolicy } from './budget/policy.js';
import { DefinitionError } from './errors.js';
import type { Guardrail, Guardrails } from './guardrail.js';
import { outputRequestOf } from './output.js';
import type { Model, OutputRequest } from './providers/model.js';
import { tool, type SubRunResult, type Tool, type ToolOptions } from './tool.js';

/** The type of a typed agent's answer: the schema's output type, or the text without a schema. */
export type AnswerOf<S> = S extends z.ZodType ? z.output<S> : string;

/**
 * The type of `result.output` of an agent made with `output: S`: the parsed object, `undefined`
 * when the run stopped without a final answer (a limit, an interruption, a guardrail); the text
 * (empty then) without a schema.
 */
export type OutputOf<S> = S extends z.ZodType ? z.output<S> | undefined : string;

/** What `agent()` takes; `S` is the `output` schema's type. */
export interface AgentOptions<S extends z.ZodType | undefined = undefined> {
  /** The agent's name (`gen_ai.agent.name`); also names its budget window. */
  name: string;
  /** A stable id (`gen_ai.agent.id`), when the caller has one. */
  id?: string;
  /** The system prompt. */
  instructions: string;
  model: Model;
  tools?: readonly Tool[];
  /** Budget policy: limits checked before each model call (see {@link BudgetPolicy}). */
  budget?: BudgetPolicy;
  /** Most output tokens per model call (`gen_ai.request.max_tokens`). */
  maxOutputTokens?: number;
  temperature?: number;
  /**
   * A zod 4 object schema of the answer: the model is asked for JSON that matches it (natively
   * where the provider can, see README "Typed output"), and `result.output` is the parsed,
   * typed object. An answer that fails is sent back once with the error; a second failure
   * rejects the run with `OutputValidationError`.
   */
  output?: S;
  /** Checks of the input before the first model call and of the final answer (see {@link Guardrails}). */
  guardrails?: Guardrails<AnswerOf<S>>;
}

/** What `agent.asTool()` takes. */
export interface AsToolOptions<P extends z.ZodType = z.ZodType> {
  /** The tool's name; the agent's name by default (it must then be a valid tool name). */
  name?: string;
  /** What the sub-agent does, for the calling model; a default naming the agent otherwise. */
  description?: string;
  /**
   * zod 4 object schema of the arguments; `{ input: string }` by default. The sub-run's input is
   * the `input` argument when the schema has one, else the arguments as JSON text.
   */
  parameters?: P;
  /** Most time one sub-run may take, in ms (the tool's `timeoutMs`): it is then aborted. */
  timeoutMs?: number;
}

/**
 * A defined agent: plain, frozen data, plus {@link Agent.asTool}. `O` is the type of its runs'
 * `result.output` ({@link OutputOf}): `string`, or a typed agent's object or `undefined`.
 */
export interface Agent<O = unknown> extends Readonly<Omit<AgentOptions, 'output' | 'guardrails'>> {
  readonly tools: readonly Tool[];
  readonly budget: BudgetPolicy;
  /** The answer's schema, when the agent has one. */
  readonly output?: z.ZodType;
  /** What a model is asked for when the agent has an `output` schema (its strict JSON Schema). */
  readonly outputRequest?: OutputRequest;
  /** The agent's guardrails (`agent()` always sets them; absent on a hand-made agent). */
  readonly guardrails?: { readonly input: readonly Guardrail[]; readonly output: readonly Guardrail<Exclude<O, undefined>>[] };
  /** Type-level only, never set: the type of `result.output`, so runtime results infer it. */
  readonly '~output'?: O;
  /**
   * This agent as a tool another agent can call: each call is a sub-run of the calling run, made
   * by the runtime through its own chain (see `ToolContext.runAgent`): traced under the call's
   * `execute_tool` span, its cost counted in the calling run and bounded by its `runCostUsd`,
   * stopped with the call. Its output text is the tool's result; a sub-run stopped by its budget
   * (`budget_exceeded`) is an error result (`errorType: 'budget_exceeded'`) for the calling model.
   * @throws {DefinitionError} as `tool()` does, e.g. when the agent's name is not a valid tool name.
   */
  asTool<P extends z.ZodType = z.ZodObject<{ input: z.ZodString }>>(options?: AsToolOptions<P>): Tool<P, string>;
}

/** Why a sub-run that ended with no usable answer failed, as its tool call's error result. */
class SubAgentStopError extends Error {
  override readonly name = 'SubAgentStopError';
  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Holds, on the tools `asTool()` makes, the agent they run. A registered symbol, not module state:
 * an agent module that imports the `tracebound` package and the CLI or a test running from the
 * sources are two copies of this module, and the mark must hold across them.
 */
const AGENT_TOOL = Symbol.for('tracebound.agentTool');

/**
 * The agent a tool made by `agent.asTool()` runs; undefined for any other tool. Such a tool only
 * hands its call to `context.runAgent`, so replay can run it with a sub-agent fed from the
 * recording instead of serving its result.
 */
export function subAgentOf(tool: Tool): Agent | undefined {
  return (tool as Tool & { [AGENT_TOOL]?: Agent })[AGENT_TOOL];
}

/** The tool of `asTool()`: it hands the call to the runtime's `runAgent`. */
function asTool(self: Agent, options: AsToolOptions = {}): Tool {
  const parameters = options.parameters ?? z.object({ input: z.string().describe(`The request for ${self.name}`) });
  const toolOptions: ToolOptions<z.ZodType, string> & { [AGENT_TOOL]: Agent } = {
    [AGENT_TOOL]: self,
    name: options.name ?? self.name,
    description: options.description ?? `Delegates a task to the agent "${self.name}" and returns its answer.`,
    parameters,
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    async execute(args: unknown, context): Promise<string> {
      if (!context.runAgent) throw new Error(`agent "${self.name}" as a tool runs only inside a runtime (its tool context has no runAgent)`);
      const input = args !== null && typeof args === 'object' && typeof (args as { input?: unknown }).input === 'string' ? (args as { input: string }).input : JSON.stringify(args);
      const result: SubRunResult = await context.runAgent(self, input);
      if (result.stopReason === 'budget_exceeded') {
        throw new SubAgentStopError('budget_exceeded', `agent "${self.name}" stopped: the budget left no room for its model call${result.output ? `; its answer so far: ${result.output}` : ''}`);
      }
      return result.output;
    },
  };
  return tool(toolOptions);
}

/**
 * Defines an agent. The definition is validated here, so a bad agent fails when its module loads.
 * @throws {DefinitionError} naming the field: an empty name, a missing model, duplicate tool
 *   names, a budget policy zod rejects (e.g. `budget.maxSteps must be a positive integer`), an
 *   `output` that is not a zod object schema JSON Schema can express, or a guardrail without a
 *   name and a `check` function.
 */
export function agent<S extends z.ZodType | undefined = undefined>(options: AgentOptions<S>): Agent<OutputOf<S>> {
  const what = `agent(${JSON.stringify(options.name)})`;
  if (typeof options.name !== 'string' || options.name.trim() === '') {
    throw new DefinitionError(what, 'name', 'must be a non-empty string');
  }
  if (typeof options.instructions !== 'string') {
    throw new DefinitionError(what, 'instructions', 'must be a string (the system prompt)');
  }
  const model = options.model as Partial<Model> | undefined;
  if (!model || typeof model.generate !== 'function' || typeof model.stream !== 'function') {
    throw new DefinitionError(what, 'model', "must be a Model, e.g. openai('gpt-4o-mini') or anthropic('claude-sonnet-4-6')");
  }
  const tools = options.tools ?? [];
  const seen = new Set<string>();
  tools.forEach((t, i) => {
    if (!t || typeof t.execute !== 'function' || !t.definition) {
      throw new DefinitionError(what, `tools[${i}]`, 'must be made with tool({ name, description, parameters, execute })');
    }
    if (seen.has(t.name)) throw new DefinitionError(what, `tools[${i}].name`, `repeats "${t.name}": tool names must be unique`);
    seen.add(t.name);
  });
  const parsed = budgetPolicySchema().safeParse(options.budget ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['budget', ...(issue?.path ?? []).map(String)].join('.');
    throw new DefinitionError(what, path, issue?.message ?? 'is invalid');
  }
  for (const field of ['maxOutputTokens', 'temperature'] as const) {
    const value = options[field];
    if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
      throw new DefinitionError(what, field, `must be a non-negative number, got ${String(value)}`);
    }
  }
  const guardrails = { input: Object.freeze([...(options.guardrails?.input ?? [])]), output: Object.freeze([...(options.guardrails?.output ?? [])]) };
  for (const stage of ['input', 'output'] as const) {
    guardrails[stage].forEach((g: Partial<Guardrail<never>> | undefined, i) => {
      if (!g || typeof g.name !== 'string' || g.name === '' || typeof g.check !== 'function') {
        throw new DefinitionError(what, `guardrails.${stage}[${i}]`, 'must be { name, check(value, info) }');
      }
    });
  }
  const defined = Object.freeze({
    ...options,
    tools: Object.freeze([...tools]),
    budget: parsed.data,
    ...(options.output === undefined ? {} : { outputRequest: outputRequestOf(what, options.output) }),
    guardrails: Object.freeze(guardrails),
    asTool: (asToolOptions?: AsToolOptions) => asTool(defined, asToolOptions),
  }) as Agent<OutputOf<S>>;
  return defined;
}
