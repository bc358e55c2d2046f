/**
 * Any AI SDK provider through `aiSdk()`: the README's "AI SDK providers" example. Offline: the
 * AI SDK's own mock model (`ai/test`) stands in for a provider package, answering as
 * `@ai-sdk/mistral` would; the second model reports its cost as the AI Gateway does. Run with
 * `node --import tsx examples/ai-sdk.ts`.
 */
import { MockLanguageModelV3 } from 'ai/test';
import { agent, aiSdk, tracedRuntime } from 'tracebound';
import { collectSpans } from 'tracebound/testing';

// With a real provider: `import { mistral } from '@ai-sdk/mistral'` and `aiSdk(mistral('mistral-small-latest'))`.
const usage = { inputTokens: { total: 120, noCache: 120, cacheRead: 0, cacheWrite: 0 }, outputTokens: { total: 8, text: 8, reasoning: 0 } };
const mistralLike = new MockLanguageModelV3({
  provider: 'mistral.chat',
  modelId: 'mistral-small-latest',
  doGenerate: { content: [{ type: 'text', text: 'Hello from Mistral.' }], finishReason: { unified: 'stop', raw: 'stop' }, usage, warnings: [] },
});
const viaGateway = new MockLanguageModelV3({
  provider: 'gateway',
  modelId: 'anthropic/claude-haiku-4.5',
  doGenerate: {
    content: [{ type: 'text', text: 'Hello through the gateway.' }],
    finishReason: { unified: 'stop', raw: 'end_turn' },
    usage,
    warnings: [],
    providerMetadata: { gateway: { cost: '0.00016' } },
  },
});

const spans = collectSpans();
const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider });
for (const model of [aiSdk(mistralLike), aiSdk(viaGateway)]) {
  const result = await runtime.run(agent({ name: 'hello', instructions: 'Say hello.', model }), 'Hi');
  const chat = spans.spans().findLast((s) => s.name.startsWith('chat '))!;
  const a = chat.attributes;
  console.log(`${result.output} ${String(a['gen_ai.provider.name'])} $${result.costUsd?.toPrecision(3)} (${String(a['gen_ai.usage.cost.source'])})`);
}
// Hello from Mistral. mistral_ai $0.0000144 (local)
// Hello through the gateway. gateway $0.000160 (provider)
