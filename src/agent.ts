import { budgetPolicySchema, type BudgetPolicy } from './budget/policy.js';
import { DefinitionError } from './errors.js';
import type { Model } from './providers/model.js';
import type { Tool } from './tool.js';

/** What `agent()` takes. */
export interface AgentOptions {
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
}

/** A defined agent: plain, frozen data. */
export interface Agent extends Readonly<AgentOptions> {
  readonly tools: readonly Tool[];
  readonly budget: BudgetPolicy;
}

/**
 * Defines an agent. The definition is validated here, so a bad agent fails when its module loads.
 * @throws {DefinitionError} naming the field: an empty name, a missing model, duplicate tool
 *   names, or a budget policy zod rejects (e.g. `budget.maxSteps must be a positive integer`).
 */
export function agent(options: AgentOptions): Agent {
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
  return Object.freeze({ ...options, tools: Object.freeze([...tools]), budget: parsed.data });
}
