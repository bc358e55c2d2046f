/**
 * A topic guardrail that asks a small model: before the agent's model is called, a cheap
 * classifier decides whether the question is about cooking. Its call goes through the run's
 * middleware, so it is a `chat` span under the `guardrail on_topic` span, and its cost counts in
 * the run's `costUsd`.
 *
 *   node --import tsx examples/topic-guardrail.ts [trace-file]
 *   npx tracebound show .tracebound/topic.jsonl
 *
 * Offline by default: scripted models from `tracebound/testing` (priced as gpt-4.1-nano and
 * gpt-4o-mini) stand in. With `OPENAI_API_KEY` set it asks those models instead.
 */
import { agent, openai, tracedRuntime, type Guardrail, type Model } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';

const offline = !process.env.OPENAI_API_KEY;

/** Offline: a keyword classifier standing in for gpt-4.1-nano. */
const classifier: Model = offline
  ? scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4.1-nano',
      respond: (request) => ({
        text: /bake|cook|recipe|dough|sauce|oven/i.test(request.messages.at(-1)?.content ?? '') ? 'cooking' : 'other',
        usage: { inputTokens: 40, outputTokens: 1 },
      }),
    })
  : openai('gpt-4.1-nano');

const onTopic: Guardrail = {
  name: 'on_topic',
  async check(question, info) {
    const answer = await info.generate(classifier, {
      system: 'Reply with one word: "cooking" if the text is about cooking or baking, else "other".',
      messages: [{ role: 'user', content: question }],
      tools: [],
      maxOutputTokens: 3,
    });
    return answer.text.trim().toLowerCase() === 'cooking' ? { ok: true } : { ok: false, reason: 'not about cooking' };
  },
};

const cook = agent({
  name: 'cook',
  instructions: 'You help with cooking. Be brief.',
  model: offline
    ? scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ text: 'Rest the dough for an hour before you shape it.', usage: { inputTokens: 60, outputTokens: 12 } }) })
    : openai('gpt-4o-mini'),
  guardrails: { input: [onTopic] },
});

const runtime = tracedRuntime({ traceFile: process.argv[2] ?? '.tracebound/topic.jsonl' });
try {
  for (const question of ['How long should bread dough rest?', 'Which stocks should I buy?']) {
    const r = await runtime.run(cook, question);
    console.log(`> ${question}`);
    console.log(r.guardrail ? `[${r.stopReason}: ${r.guardrail.name} ${r.guardrail.reason}]` : r.output);
    console.log(`  ${r.usage.inputTokens} input tokens, $${(r.costUsd ?? 0).toFixed(6)} (classifier included)`);
  }
} finally {
  await runtime.shutdown();
}
