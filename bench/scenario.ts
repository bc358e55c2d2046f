/**
 * The scenario every runtime benchmark shares: three model calls per run (two parallel tool
 * calls, one more tool call, then the answer), from a scripted model priced as gpt-4o-mini that
 * answers at once with fixed usage, so the figures are pure runtime overhead.
 */
import { scriptedModel, type ScriptedModel, type ScriptedResponse } from '../src/testing/scripted-model.js';

export const usage = { inputTokens: 100, outputTokens: 20 };
const STEP_1: ScriptedResponse = {
  toolCalls: [
    { id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } },
    { id: 'call_2', name: 'add', arguments: { a: 3, b: 4 } },
  ],
  usage,
};
const STEP_2: ScriptedResponse = { toolCalls: [{ id: 'call_3', name: 'add', arguments: { a: 3, b: 7 } }], usage };
const STEP_3: ScriptedResponse = { text: 'The total is 10.', usage };

export function makeModel(): ScriptedModel {
  return scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const results = request.messages.filter((m) => m.role === 'tool').length;
      return results === 0 ? STEP_1 : results === 2 ? STEP_2 : STEP_3;
    },
  });
}

export const INPUT = 'Add 1+2 and 3+4, then add the results.';
export const AGENT_NAME = 'calc';
export const INSTRUCTIONS = 'Use the tools.';
