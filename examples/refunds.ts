/**
 * An agent module for `tracebound serve` whose `refund` tool needs a person's approval, and a
 * second agent served by name: try the serve API's approvals (README, "Long-running mode").
 *
 * `npx tracebound serve examples/refunds.ts` needs no key: a scripted model from
 * `tracebound/testing` stands in for the provider. It asks to refund the order number it is given,
 * then answers with the tool's result (or the approver's refusal).
 */
import { agent, tool } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';
import { z } from 'zod';

const refund = tool({
  name: 'refund',
  description: 'Refunds an order in full.',
  parameters: z.object({ order: z.string() }),
  needsApproval: true,
  execute: ({ order }) => `order ${order} refunded`,
});

const support = agent({
  name: 'support',
  instructions: 'Refund the order the customer names.',
  tools: [refund],
  model: scriptedModel({
    respond: (request) => {
      const result = request.messages.findLast((m) => m.role === 'tool');
      if (result) return { text: `Done: ${result.content}` };
      const order = /\d+/.exec(String(request.messages.at(-1)?.content))?.[0] ?? 'unknown';
      return { toolCalls: [{ id: `call_${order}`, name: 'refund', arguments: { order } }] };
    },
  }),
});

const triage = agent({
  name: 'triage',
  instructions: 'Say which team handles the message.',
  model: scriptedModel({ respond: () => ({ text: 'support' }) }),
});

export const agents = [support, triage];
