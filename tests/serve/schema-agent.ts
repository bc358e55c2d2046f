/**
 * An agent module that declares its own input schema: `tracebound serve` takes
 * `{ city, conversationId? }` and turns it into the run's input.
 */
import { z } from 'zod';
import { agent } from '../../src/index.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';

export const inputSchema = z
  .object({ city: z.string().min(1), conversationId: z.string().optional() })
  .transform(({ city, conversationId }) => ({ input: `Weather in ${city}?`, conversationId }));

export default agent({
  name: 'weather-by-city',
  instructions: 'Answer with the weather.',
  model: scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => ({ text: `Asked: ${String(request.messages.at(-1)?.content)}`, usage: { inputTokens: 20, outputTokens: 5 } }),
  }),
});
