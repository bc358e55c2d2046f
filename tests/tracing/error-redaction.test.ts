/**
 * A tool's error message is content: `redact` applies to it and capture off keeps it out of the
 * exception event, its stacktrace and the status message, on the tool span and on the step and
 * run spans that record the same error (issue 10, defect 3). Real OpenTelemetry SDK spans.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunError } from '../../src/errors.js';
import type { Hooks } from '../../src/runtime/hooks.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

const CARD = '4111 1111 1111 1111';
/** What must not appear: the whole number, or any 4-digit group of it. */
const LEAK = /4111|1111/;

class CardDeclined extends Error {
  override readonly name = 'CardDeclined';
}

const charge = tool({
  name: 'charge',
  description: 'Charges the card on file.',
  parameters: z.object({}),
  execute: () => {
    throw new CardDeclined(`card ${CARD} was declined`);
  },
});

const usage = { inputTokens: 10, outputTokens: 5 };

/** A run that calls `charge` once, then answers. */
async function runCharge(options: { captureContent: boolean; redact?: (v: string, a: string) => string; hooks?: Hooks }) {
  const spans = collectSpans();
  const model = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: [{ toolCalls: [{ id: 'c1', name: 'charge', arguments: {} }], usage }, { text: 'The card was declined.', usage }],
  });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, ...options });
  const a = agent({ name: 'payments', instructions: 'Charge the card.', model, tools: [charge] });
  const outcome = await runtime.run(a, 'Charge my card.').catch((error: unknown) => error);
  return { spans: spans.spans(), model, outcome };
}

/** Everything a span carries to an exporter, as text: attributes, events and status. */
function telemetry(span: ReadableSpan): string {
  return JSON.stringify({
    attributes: span.attributes,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes })),
    status: span.status,
  });
}

function exception(span: ReadableSpan) {
  const event = span.events.find((e) => e.name === 'exception');
  expect(event, `${span.name} has an exception event`).toBeDefined();
  return event!.attributes!;
}

const byName = (spans: ReadableSpan[], prefix: string) => spans.filter((s) => s.name.startsWith(prefix));

describe('tool error messages in telemetry', () => {
  it('go through redact: exception message, stacktrace and status message', async () => {
    const redact = (value: string) => value.replace(/\d/g, '#');
    const { spans, model } = await runCharge({ captureContent: true, redact });
    const [toolSpan] = byName(spans, 'execute_tool charge');
    const event = exception(toolSpan!);
    expect(event[ATTR.exceptionMessage]).toBe('card #### #### #### #### was declined');
    expect(String(event[ATTR.exceptionStacktrace])).toMatch(/^CardDeclined: card #### #### #### #### was declined\n\s+at /);
    expect(toolSpan!.status.message).toBe('card #### #### #### #### was declined');
    for (const span of spans) expect(telemetry(span), span.name).not.toMatch(LEAK);
    // Only telemetry is redacted: the model still gets the tool's error text.
    expect(model.requests[1]!.messages.at(-1)!.content).toBe(`Error: card ${CARD} was declined`);
  });

  it('are not recorded with content capture off: the event and status name the error type', async () => {
    const { spans, model } = await runCharge({ captureContent: false });
    const [toolSpan] = byName(spans, 'execute_tool charge');
    const event = exception(toolSpan!);
    expect(event['exception.type']).toBe('CardDeclined');
    expect(event[ATTR.exceptionMessage]).toBe('CardDeclined (message not recorded: content capture is off)');
    expect(String(event[ATTR.exceptionStacktrace])).toMatch(/^CardDeclined: CardDeclined \(message not recorded: content capture is off\)\n\s+at /);
    expect(toolSpan!.status.message).toBe('CardDeclined (message not recorded: content capture is off)');
    expect(toolSpan!.attributes[ATTR.errorType]).toBe('CardDeclined');
    for (const span of spans) expect(telemetry(span), span.name).not.toMatch(LEAK);
    expect(model.requests[1]!.messages.at(-1)!.content).toBe(`Error: card ${CARD} was declined`);
  });

  it('stay out of the step and run spans that record the same error (a hook rethrows it)', async () => {
    const hooks: Hooks = {
      afterToolCall: ({ outcome }) => {
        if (outcome.isError) throw outcome.error;
      },
    };
    for (const options of [{ captureContent: false }, { captureContent: true, redact: (v: string) => v.replace(/\d/g, '#') }]) {
      const { spans, outcome } = await runCharge({ ...options, hooks });
      expect(outcome).toBeInstanceOf(RunError);
      const recorded = [...byName(spans, 'execute_tool'), ...byName(spans, 'step'), ...byName(spans, 'invoke_agent')];
      expect(recorded).toHaveLength(3);
      for (const span of recorded) {
        expect(exception(span)['exception.type'], span.name).toBe('CardDeclined');
        expect(span.attributes[ATTR.errorType], span.name).toBe('CardDeclined');
      }
      for (const span of spans) expect(telemetry(span), span.name).not.toMatch(LEAK);
    }
  });
});
