/**
 * The run's own limits (`maxSteps`, `maxToolCalls`, `onLimit`) as small predicates over the
 * agent and the run state. USD and context limits are the budget middleware's.
 */
import type { Agent } from '../agent.js';
import { DEFAULT_MAX_STEPS } from '../budget/policy.js';
import type { RunState } from './run-state.js';

/** The most steps a run of `agent` takes. */
export function maxSteps(agent: Agent): number {
  return agent.budget.maxSteps ?? DEFAULT_MAX_STEPS;
}

/** Whether every step allowed has been taken, so no other may start. */
export function stepsExhausted(agent: Agent, state: RunState): boolean {
  return state.step >= maxSteps(agent);
}

/** Whether step `index` is the last allowed and must answer without tools (`onLimit: 'finish'`). */
export function isLastStep(agent: Agent, index: number): boolean {
  return agent.budget.onLimit === 'finish' && index === maxSteps(agent);
}

/**
 * What to do with `requested` more tool calls: run them, `stop` the run (`max_tool_calls`), or
 * `finish` (answer them with a note and make the next call the last, `onLimit: 'finish'`).
 */
export function toolCallLimit(agent: Agent, state: RunState, requested: number): 'run' | 'stop' | 'finish' {
  const max = agent.budget.maxToolCalls;
  if (max === undefined || state.totals.toolCalls + requested <= max) return 'run';
  return agent.budget.onLimit === 'finish' ? 'finish' : 'stop';
}

/** What a tool call gets back when the tool-call limit left it unrun. */
export const TOOL_LIMIT_RESULT = 'Tool call limit reached: answer with what you have.';
