/**
 * Agents for the `tracebound replay` tests. The tests write small agent modules into a temp
 * directory that default-export one of these, as a user's module would export its agent.
 */
import { z } from 'zod';
import { agent, type Agent } from '../../src/agent.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

const usage = { inputTokens: 100, outputTokens: 20 };

/**
 * Asks for `lookup(city)`, then answers with its result.
 * @param sky what `lookup` says of every city: another value is a changed tool
 */
export function weather(instructions = 'Answer with the weather.', sky = 'sunny'): Agent {
  return agent({
    name: 'weather',
    instructions,
    model: scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request) => {
        const result = request.messages.find((m) => m.role === 'tool');
        return result
          ? { text: `It is ${result.content}.`, usage }
          : { toolCalls: [{ id: 'call_w', name: 'lookup', arguments: { city: String(request.messages.at(-1)?.content) } }], usage };
      },
    }),
    tools: [
      tool({
        name: 'lookup',
        description: 'Weather of a city.',
        parameters: z.object({ city: z.string() }),
        execute: ({ city }) => `${sky} in ${city}`,
      }),
    ],
  });
}

/** Answers with a greeting, no tools. */
export function greeter(): Agent {
  return agent({
    name: 'greeter',
    instructions: 'Greet.',
    model: scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'Hello!', usage }] }),
  });
}
