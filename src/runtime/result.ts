/** A run's result, read off its state at its stop. */
import type { Agent } from '../agent.js';
import type { StopReason } from '../errors.js';
import type { RunResult } from './events.js';
import type { RunContext } from './middleware.js';
import { traceIdOf, type RunState } from './run-state.js';

/** The result of `run` stopping with `stopReason`: its state's totals, messages and answer. */
export function runResult(run: RunContext, stopReason: StopReason): RunResult {
  const { agent, state } = run;
  const result: RunResult = {
    runId: state.runId,
    output: agent.output ? answerOf(agent.output, state, stopReason) : state.output,
    messages: state.messages,
    usage: state.totals.usage,
    costUsd: state.totals.priced ? state.totals.costUsd : undefined,
    steps: state.step,
    toolCalls: state.totals.toolCalls,
    stopReason,
    traceId: traceIdOf(state),
  };
  if (stopReason === 'interrupted') {
    result.interruptions = state.approvals.map((a) => ({ kind: a.kind, toolCallId: a.toolCallId, toolName: a.toolName, arguments: a.arguments }));
  }
  return result;
}

/** A typed agent's `result.output`: the schema's parse of the kept answer when the run ended with one. */
function answerOf(schema: NonNullable<Agent['output']>, state: RunState, stopReason: StopReason): unknown {
  return (stopReason === 'final' || stopReason === 'graceful_limit') && state.answer !== undefined ? schema.parse(state.answer) : undefined;
}
