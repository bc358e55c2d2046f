/** An agent's tools as the loop uses them, built once per agent. */
import type { Agent } from '../agent.js';
import type { ToolDefinition } from '../providers/model.js';
import type { Tool } from '../tool.js';

/** An agent's tools as the loop uses them: by name, their names, their definitions. */
export interface ToolIndex {
  byName: Map<string, Tool>;
  names: string[];
  /** One array per agent: token counts are cached per definitions array. */
  definitions: ToolDefinition[];
  /** Whether any tool may need approval (`needsApproval`): a step of an agent without one checks nothing. */
  approvals: boolean;
}

const toolIndexes = new WeakMap<Agent, ToolIndex>();

/** The agent's tool index, made on its first run. */
export function toolIndexOf(agent: Agent): ToolIndex {
  let index = toolIndexes.get(agent);
  if (!index) {
    const byName = new Map(agent.tools.map((t) => [t.name, t]));
    index = {
      byName,
      names: [...byName.keys()],
      definitions: agent.tools.map((t) => t.definition),
      approvals: agent.tools.some((t) => t.needsApproval !== undefined && t.needsApproval !== false),
    };
    toolIndexes.set(agent, index);
  }
  return index;
}
