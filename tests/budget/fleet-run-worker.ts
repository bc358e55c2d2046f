/**
 * One process of the fleet test: runs `runs` agent runs at once against a shared Redis spend
 * window, traced to its own trace file, and prints a JSON report. It waits for a line on stdin
 * before starting, so all processes compete for the window at the same time.
 */
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { redisStore } from '../../src/state/redis.js';
import { openaiTokenCounting } from '../../src/providers/openai-tokens.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

/** What the parent passes as argv[2] (JSON). */
export interface FleetRunConfig {
  redisUrl: string;
  /** The store's reply deadline (ms): generous, so a loaded machine does not fail runs closed. */
  storeTimeoutMs: number;
  traceFile: string;
  runs: number;
  limitUsd: number;
  /** When set, the window is the tenant's (`per: 'tenant'`) and every run is for this tenant. */
  tenant?: string;
}

/** What the worker prints. */
export interface FleetRunReport {
  pid: number;
  stopReasons: string[];
  costUsd: number;
}

const config = JSON.parse(process.argv[2] as string) as FleetRunConfig;
const lookup = tool({ name: 'lookup', description: 'Looks up.', parameters: z.object({ q: z.string() }), execute: ({ q }) => `found ${q}` });
/**
 * Reports usage as a provider would: the prompt's real token count, and never more output than
 * the request's max tokens (the guard may have lowered it).
 */
const model = scriptedModel({
  provider: 'openai',
  modelId: 'gpt-4o-mini',
  respond: (request, call) => {
    const usage = {
      inputTokens: openaiTokenCounting('gpt-4o-mini').countTokens(request),
      outputTokens: Math.min(500, request.maxOutputTokens ?? 500),
    };
    return request.messages.filter((m) => m.role === 'tool').length >= 2
      ? { text: 'done', usage }
      : { toolCalls: [{ id: `call_${process.pid}_${call}`, name: 'lookup', arguments: { q: String(call) } }], usage };
  },
});
const store = redisStore({ url: config.redisUrl, timeoutMs: config.storeTimeoutMs });
const runtime = tracedRuntime({ traceFile: config.traceFile, budgetStore: store });
const fleetAgent = agent({
  name: 'fleet',
  instructions: 'Look things up.',
  model,
  tools: [lookup],
  maxOutputTokens: 500,
  budget: { spend: { usd: config.limitUsd, window: '1h', ...(config.tenant ? { per: 'tenant' as const } : {}) }, maxSteps: 4 },
});

const lines = createInterface({ input: process.stdin });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
const results = await Promise.all(Array.from({ length: config.runs }, (_, i) => runtime.run(fleetAgent, `task ${i}`, { tenant: config.tenant })));
await runtime.shutdown();
await store.close();
lines.close();
const report: FleetRunReport = {
  pid: process.pid,
  stopReasons: results.map((r) => r.stopReason),
  costUsd: results.reduce((sum, r) => sum + (r.costUsd ?? 0), 0),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
