/**
 * An agent module for the CLI tests: one tool call that sleeps `SLOW_TOOL_MS` (default 1,500 ms),
 * then an answer, from a scripted model priced as gpt-4o-mini. Slow enough that a SIGTERM lands
 * while every run is in flight; each call writes {@link SLOW_TOOL_STARTED} to stderr as it starts,
 * so a test signals once its runs are inside the tool, however slowly a loaded machine got them
 * there.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { agent, tool } from '../../src/index.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';

const waitMs = Number(process.env.SLOW_TOOL_MS ?? 1_500);

/** The line each slow tool call writes to stderr as it starts. */
export const SLOW_TOOL_STARTED = 'slow tool: started';

const slow = tool({
  name: 'slow',
  description: 'Takes its time.',
  parameters: z.object({ what: z.string() }),
  execute: async ({ what }) => {
    process.stderr.write(`${SLOW_TOOL_STARTED}\n`);
    await sleep(waitMs);
    return `done: ${what}`;
  },
});

export default agent({
  name: 'slow',
  instructions: 'Call the slow tool, then answer.',
  model: scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) =>
      request.messages.some((m) => m.role === 'tool')
        ? { text: 'Finished.', usage: { inputTokens: 50, outputTokens: 5 } }
        : { toolCalls: [{ id: 'call_1', name: 'slow', arguments: { what: 'x' } }], usage: { inputTokens: 40, outputTokens: 10 } },
  }),
  tools: [slow],
});
