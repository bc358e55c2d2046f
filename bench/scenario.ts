/**
 * The scenario every runtime benchmark shares: three model calls per run (two parallel tool
 * calls, one more tool call, then the answer), from a scripted model priced as gpt-4o-mini that
 * answers at once with fixed usage, so the figures are pure runtime overhead.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { z } from 'zod';
import { scriptedModel, type ScriptedModel, type ScriptedResponse } from '../src/testing/scripted-model.js';
import { tool } from '../src/tool.js';

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

/** The tool the scenario's model calls. */
export const add = tool({
  name: 'add',
  description: 'Adds two numbers.',
  parameters: z.object({ a: z.number(), b: z.number() }),
  execute: async ({ a, b }) => a + b,
});

export const INPUT = 'Add 1+2 and 3+4, then add the results.';
export const AGENT_NAME = 'calc';
export const INSTRUCTIONS = 'Use the tools.';

/**
 * The batch settings tracebound's own `createTracerProvider` uses, for bare and traced alike: a
 * queue that holds a burst of concurrent runs, so "spans lost" measures the runtime, not the queue.
 */
export const BATCH = { maxQueueSize: 16_384, maxExportBatchSize: 1_024, scheduledDelayMillis: 500 } as const;

let contextManager: AsyncLocalStorageContextManager | undefined;

/**
 * A traced Node app has an AsyncLocalStorage context manager (NodeSDK or provider.register()
 * install it), and every promise then pays for it; a process with no OpenTelemetry SDK has none.
 * Each variant runs in the setting it stands for.
 */
export function useContextManager(on: boolean): void {
  if (on === (contextManager !== undefined)) return;
  if (on) {
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
  } else {
    context.disable();
    contextManager = undefined;
  }
}
