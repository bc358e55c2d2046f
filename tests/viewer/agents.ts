/**
 * Agents for the run-summary and diff tests, run through the real runtime with scripted models and
 * recorded to trace files with `recordRun`, as a branch's CI run would record them.
 */
import { z } from 'zod';
import { agent, type Agent } from '../../src/agent.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

/** gpt-4o-mini's price in the genai-prices table: USD per input and per output token. */
export const PRICE = { input: 0.15e-6, output: 0.6e-6 } as const;

/** What a variant of the weather agent does differently. */
export interface WeatherVariant {
  /** Lookups before answering (one step each). Default 1. */
  lookups?: number;
  /** Output tokens of every call. Default 20. */
  outputTokens?: number;
  /** Step limit (`budget.maxSteps`). */
  maxSteps?: number;
  /** USD limit of a run (`budget.runCostUsd`). */
  runCostUsd?: number;
}

/**
 * Looks the city up `lookups` times (one `lookup` call per step), then answers. Every call reads
 * 100 input tokens plus 50 per tool result already in the conversation.
 */
export function weather({ lookups = 1, outputTokens = 20, maxSteps, runCostUsd }: WeatherVariant = {}): Agent {
  return agent({
    name: 'weather',
    instructions: 'Answer with the weather.',
    budget: { maxSteps, runCostUsd },
    model: scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request) => {
        const results = request.messages.filter((m) => m.role === 'tool').length;
        const usage = { inputTokens: 100 + 50 * results, outputTokens };
        const city = String(request.messages.find((m) => m.role === 'user')?.content);
        return results < lookups
          ? { toolCalls: [{ id: `call_${results + 1}`, name: 'lookup', arguments: { city } }], usage }
          : { text: `Sunny in ${city}.`, usage };
      },
    }),
    tools: [
      tool({
        name: 'lookup',
        description: 'Weather of a city.',
        parameters: z.object({ city: z.string() }),
        execute: ({ city }) => `sunny in ${city}`,
      }),
    ],
  });
}

/** Answers at once: 30 input, 5 output tokens. */
export function greeter(): Agent {
  return agent({
    name: 'greeter',
    instructions: 'Greet.',
    model: scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'Hello!', usage: { inputTokens: 30, outputTokens: 5 } }) }),
  });
}

/** Hands the question to the weather agent (as a tool), then answers with its result. */
export function concierge(): Agent {
  return agent({
    name: 'concierge',
    instructions: 'Delegate.',
    model: scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request) => {
        const result = request.messages.find((m) => m.role === 'tool');
        const usage = { inputTokens: 40, outputTokens: 10 };
        return result
          ? { text: `Concierge: ${result.content}`, usage }
          : { toolCalls: [{ id: 'call_sub', name: 'weather', arguments: { input: 'Lima' } }], usage };
      },
    }),
    tools: [weather().asTool()],
  });
}
