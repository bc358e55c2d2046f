/**
 * A PII guardrail with a regex: the same check guards the input (a run whose question holds an
 * email address or a card number stops before any model call) and the answer (one that would
 * leak one is blocked). A stopped run is a result with `stopReason: 'guardrail'`, not an error.
 *
 *   node --import tsx examples/pii-guardrail.ts [trace-file]
 *   npx tracebound show .tracebound/pii.jsonl   # each check is a `guardrail {name}` span
 *
 * Offline by default: a scripted model from `tracebound/testing` answers. With `OPENAI_API_KEY`
 * set it asks gpt-4o-mini instead.
 */
import { agent, openai, tracedRuntime, type Guardrail, type Model } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';

const PII = [
  { kind: 'an email address', pattern: /[\w.+-]+@[\w-]+(\.[\w-]+)+/ },
  { kind: 'a card number', pattern: /\b(?:\d[ -]?){13,16}\b/ },
];

/** Fails on text holding PII; the reason names the kind, never the value (it goes on the span). */
const noPii = (name: string): Guardrail => ({
  name,
  check: (text) => {
    const found = PII.find((p) => p.pattern.test(text));
    return found ? { ok: false, reason: `contains ${found.kind}` } : { ok: true };
  },
});

/** Offline: answers about orders, and gives out a (made up) address when asked whom to contact. */
const standIn: Model = scriptedModel({
  respond: (request) => {
    const question = request.messages.findLast((m) => m.role === 'user')?.content ?? '';
    return { text: /contact/i.test(question) ? 'Write to Ada in billing at ada@billing.example.' : 'Order 4711 ships tomorrow.' };
  },
});

const support = agent({
  name: 'support',
  instructions: 'Answer questions about orders. Be brief.',
  model: process.env.OPENAI_API_KEY ? openai('gpt-4o-mini') : standIn,
  guardrails: { input: [noPii('no_pii_in')], output: [noPii('no_pii_out')] },
});

const runtime = tracedRuntime({ traceFile: process.argv[2] ?? '.tracebound/pii.jsonl' });
try {
  for (const question of ['Where is order 4711?', 'Refund my card 4111 1111 1111 1111 please.', 'Whom do I contact about billing?']) {
    const r = await runtime.run(support, question);
    console.log(`> ${question}`);
    console.log(r.guardrail ? `[${r.stopReason}: ${r.guardrail.name} (${r.guardrail.stage}) ${r.guardrail.reason}]` : r.output);
  }
} finally {
  await runtime.shutdown();
}
