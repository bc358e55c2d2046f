/**
 * A second model when the first is down: the README's "Fallback" example. Offline: scripted
 * models stand in for Anthropic (overloaded, 529, on every try) and OpenAI. Run with
 * `node --import tsx examples/fallback.ts`.
 */
import { ModelCallError, agent, fallback, tracedRuntime } from 'tracebound';
import { collectSpans, scriptedModel } from 'tracebound/testing';

// With real models: fallback([anthropic('claude-sonnet-4-5'), openai('gpt-4.1-mini')]).
const overloaded = { error: new ModelCallError('anthropic overloaded (HTTP 529): Overloaded', { kind: 'overloaded', provider: 'anthropic', status: 529 }) };
const claude = scriptedModel({ provider: 'anthropic', modelId: 'claude-sonnet-4-5', respond: [overloaded, overloaded, overloaded] });
const gpt = scriptedModel({ provider: 'openai', modelId: 'gpt-4.1-mini', respond: [{ text: 'Paris.', usage: { inputTokens: 20, outputTokens: 2 } }] });

const spans = collectSpans();
const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, retry: { initialDelayMs: 10 } });
const result = await runtime.run(agent({ name: 'geo', instructions: 'Answer briefly.', model: fallback([claude, gpt]) }), 'Capital of France?');
console.log(result.output, `$${result.costUsd?.toPrecision(2)}`);
for (const chat of spans.spans().filter((s) => s.name.startsWith('chat '))) {
  const a = chat.attributes;
  const how = a['error.type'] ? `${String(a['error.type'])} after ${String(a['tracebound.retry.attempts'])} retries` : `$${Number(a['gen_ai.usage.cost.amount']).toPrecision(2)}`;
  console.log(`${chat.name}: ${how}`);
}
// Paris. $0.000011
// chat claude-sonnet-4-5: overloaded after 2 retries
// chat gpt-4.1-mini: $0.000011
