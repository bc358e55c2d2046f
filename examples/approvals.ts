/**
 * A tool that needs a person's approval: the run stops `interrupted`, checkpointed in a SQLite
 * file, and a later process (a person's "yes", hours later) resumes it with the decision.
 *
 *   node --import tsx examples/approvals.ts start [state-file]           # runs until the refund waits
 *   node --import tsx examples/approvals.ts approve <run-id> [state-file]  # or: deny <run-id>
 *
 * Offline by default: a scripted model from `tracebound/testing` asks for the refund, then
 * answers with what the tool said. With `OPENAI_API_KEY` set it asks gpt-4o-mini instead.
 */
import { z } from 'zod';
import { agent, openai, sqliteStore, tool, tracedRuntime, type Model } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';

const refund = tool({
  name: 'refund',
  description: 'Refunds an order.',
  parameters: z.object({ order: z.string(), usd: z.number() }),
  needsApproval: ({ usd }) => usd > 100,
  execute: async ({ order, usd }) => `refunded ${usd} USD on order ${order}`,
});

/** Offline: asks for the refund, then repeats what the tool answered. */
const standIn: Model = scriptedModel({
  respond: (request) => {
    const result = request.messages.findLast((m) => m.role === 'tool');
    return result ? { text: `Done: ${result.content}` } : { toolCalls: [{ id: 'call_1', name: 'refund', arguments: { order: '4711', usd: 120 } }] };
  },
});

const support = agent({
  name: 'support',
  instructions: 'Refund what the customer asks for.',
  model: process.env.OPENAI_API_KEY ? openai('gpt-4o-mini') : standIn,
  tools: [refund],
});

const [command, runId, file] = process.argv.slice(2);
const store = sqliteStore({ path: (command === 'start' ? runId : file) ?? '.tracebound/approvals.db' });
const runtime = tracedRuntime({ exporter: 'none', store });
try {
  if (command === 'start') {
    const r = await runtime.run(support, 'Refund order 4711, 120 USD.');
    console.log(`run ${r.runId}: ${r.stopReason}`);
    for (const i of r.interruptions ?? []) console.log(`waiting: ${i.toolName} ${JSON.stringify(i.arguments)} (${i.toolCallId})`);
  } else if ((command === 'approve' || command === 'deny') && runId) {
    const waiting = (await runtime.runs.get(runId))?.interruptions ?? [];
    const decision = command === 'approve' ? true : { approved: false as const, reason: 'over the limit' };
    const done = await runtime.resume(support, runId, { approvals: Object.fromEntries(waiting.map((i) => [i.toolCallId, decision])) });
    console.log(`run ${done.runId}: ${done.stopReason}\n${done.output}`);
  } else {
    console.error('usage: approvals.ts start [state-file] | approve <run-id> [state-file] | deny <run-id> [state-file]');
    process.exitCode = 2;
  }
} finally {
  await runtime.shutdown();
  await store.close();
}
