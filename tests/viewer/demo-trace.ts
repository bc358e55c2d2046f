/**
 * A trace file recorded by the real runtime (tracedRuntime, file exporter, content captured) for
 * the viewer's tests: scripted models priced as gpt-4o-mini, real tools, real spans.
 *
 * - `weather`: two turns of conversation `trip-42`, each calling `get_weather` once;
 * - `planner`: a rate-limited first model call (retried), a tool that throws (an ERROR span),
 *   and a sub-agent `researcher` called as a tool (its run nests under the tool span);
 * - `frugal`: keeps calling a tool until its run budget stops it (`budget_exceeded`), with a
 *   spend window, so the guard's decisions are events on its spans;
 * - `support`: a refund that needs approval: the run stops `interrupted`, then is resumed with the
 *   approval (a second run span of the same run id, carrying the `tracebound.approval` event).
 */
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { agent, tool, tracedRuntime, type RunResult } from '../../src/index.js';
import { ModelCallError } from '../../src/providers/errors.js';
import type { ModelRequest } from '../../src/providers/model.js';
import { scriptedModel } from '../../src/testing/index.js';

const MODEL = { provider: 'openai', modelId: 'gpt-4o-mini' } as const;

/** Whether the request already holds a tool result (the model's second turn). */
const answered = (request: ModelRequest, toolCalls: number): boolean => request.messages.filter((m) => m.role === 'tool').length >= toolCalls;

const getWeather = tool({
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: z.object({ location: z.string() }),
  execute: async ({ location }) => {
    // A lookup takes a moment, as a real one would, so the waterfall has something to show.
    await sleep(15);
    return { location, tempC: location === 'Paris' ? 21 : 18, sky: 'clear' };
  },
});

function lastUserText(request: ModelRequest): string {
  const user = request.messages.filter((m) => m.role === 'user').at(-1);
  return typeof user?.content === 'string' ? user.content : JSON.stringify(user?.content ?? '');
}

const weather = agent({
  name: 'weather',
  instructions: 'Answer with the weather.',
  model: scriptedModel({
    ...MODEL,
    respond: (request) => {
      const city = lastUserText(request).includes('Lyon') ? 'Lyon' : 'Paris';
      const turn = request.messages.filter((m) => m.role === 'user').length;
      return request.messages.at(-1)?.role === 'tool'
        ? { text: `It is ${city === 'Paris' ? 21 : 18} °C and clear in ${city}.`, usage: { inputTokens: 120 * turn + 60, outputTokens: 14 } }
        : {
            toolCalls: [{ id: `call_${city.toLowerCase()}`, name: 'get_weather', arguments: { location: city } }],
            usage: { inputTokens: 110 * turn, outputTokens: 18 },
          };
    },
  }),
  tools: [getWeather],
});

const researcher = agent({
  name: 'researcher',
  instructions: 'Find facts.',
  model: scriptedModel({
    ...MODEL,
    respond: () => ({ text: 'The Eiffel Tower is 330 m tall.', usage: { inputTokens: 40, outputTokens: 12 } }),
  }),
});

const lookupFlights = tool({
  name: 'lookup_flights',
  description: 'Flights between two cities.',
  parameters: z.object({ from: z.string(), to: z.string() }),
  execute: async () => {
    await sleep(10);
    throw new Error('flight search is down');
  },
});

let plannerCalls = 0;
const planner = agent({
  name: 'planner',
  instructions: 'Plan trips.',
  model: scriptedModel({
    ...MODEL,
    respond: (request) => {
      plannerCalls += 1;
      if (plannerCalls === 1) {
        return { error: new ModelCallError('rate limited', { kind: 'rate_limit', provider: 'openai', status: 429, retryAfterMs: 5 }) };
      }
      return answered(request, 2)
        ? { text: 'Fly on Friday; the tower is 330 m tall.', usage: { inputTokens: 300, outputTokens: 20 } }
        : {
            toolCalls: [
              { id: 'call_flights', name: 'lookup_flights', arguments: { from: 'Paris', to: 'Lyon' } },
              { id: 'call_research', name: 'researcher', arguments: { input: 'How tall is the Eiffel Tower?' } },
            ],
            usage: { inputTokens: 200, outputTokens: 40 },
          };
    },
  }),
  tools: [lookupFlights, researcher.asTool({ description: 'Ask the researcher.' })],
});

const frugal = agent({
  name: 'frugal',
  instructions: 'Answer briefly.',
  maxOutputTokens: 2_000,
  model: scriptedModel({
    ...MODEL,
    // Looks the weather up again and again: only the budget stops it.
    respond: (_request, call) => ({
      toolCalls: [{ id: `call_w${call}`, name: 'get_weather', arguments: { location: 'Paris' } }],
      usage: { inputTokens: 2_000, outputTokens: 500 },
    }),
  }),
  tools: [getWeather],
  budget: { runCostUsd: 0.0015, spend: { usd: 0.01, window: '1h' } },
});

const refund = tool({
  name: 'refund',
  description: 'Refunds an order.',
  parameters: z.object({ order: z.string(), usd: z.number() }),
  needsApproval: ({ usd }) => usd > 100,
  execute: async ({ order, usd }) => `refunded ${usd} USD on order ${order}`,
});

const support = agent({
  name: 'support',
  instructions: 'Refund what the customer asks for.',
  model: scriptedModel({
    ...MODEL,
    respond: (request) => {
      const result = request.messages.findLast((m) => m.role === 'tool');
      return result
        ? { text: `Done: ${String(result.content)}`, usage: { inputTokens: 90, outputTokens: 10 } }
        : { toolCalls: [{ id: 'call_refund', name: 'refund', arguments: { order: '4711', usd: 120 } }], usage: { inputTokens: 60, outputTokens: 15 } };
    },
  }),
  tools: [refund],
});

/** The demo's runs, by name. */
export interface DemoRuns<T> {
  weather1: T;
  weather2: T;
  planner: T;
  frugal: T;
  /** The support run's first part (interrupted) and its resumed part. */
  supportInterrupted: T;
  supportResumed: T;
}

/** What {@link recordDemoTrace} wrote. */
export interface DemoTrace {
  file: string;
  /** What each run resolved with (run id, usage, cost, steps, tool calls, stop reason). */
  results: DemoRuns<RunResult>;
}

/** Runs the demo agents, writing their spans to `file` (appended, as `tracebound run` does). */
export async function recordDemoTrace(file: string): Promise<DemoTrace> {
  plannerCalls = 0;
  const runtime = tracedRuntime({ exporter: 'file', traceFile: file, retry: { initialDelayMs: 5, maxDelayMs: 10 } });
  try {
    const weather1 = await runtime.run(weather, 'What is the weather in Paris?', { conversationId: 'trip-42' });
    const weather2 = await runtime.run(weather, 'And in Lyon?', { conversationId: 'trip-42' });
    const plan = await runtime.run(planner, 'Plan a day trip to Lyon.');
    const spend = await runtime.run(frugal, 'Weather?');
    const supportInterrupted = await runtime.run(support, 'Refund order 4711, 120 USD.');
    const approvals = Object.fromEntries((supportInterrupted.interruptions ?? []).map((i) => [i.toolCallId, true as const]));
    const supportResumed = await runtime.resume(support, supportInterrupted.runId, { approvals });
    return { file, results: { weather1, weather2, planner: plan, frugal: spend, supportInterrupted, supportResumed } };
  } finally {
    await runtime.shutdown();
  }
}
