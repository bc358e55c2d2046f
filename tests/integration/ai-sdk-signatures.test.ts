/**
 * Signatures through `aiSdk()` with the real provider packages: `@ai-sdk/anthropic` and
 * `@ai-sdk/google` against the recorded server speaking the Anthropic Messages and Gemini API
 * wire formats, with recorded traffic (tests/fixtures/{anthropic,google}, see SOURCES.md there).
 * A thinking block's signature, a redacted thinking block's data and a Gemini function call's
 * thought signature come back on the next request exactly as the provider sent them, as the
 * provider requires for a multi-turn tool loop with thinking.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { aiSdk } from '../../src/providers/ai-sdk.js';
import { tool } from '../../src/tool.js';
import { fixtureReader } from '../support/fixtures.js';
import { drain, expectAllEnded, harness, type Harness, type Json } from './support.js';

const anthropicFixtures = fixtureReader('anthropic');
const googleFixtures = fixtureReader('google');
const MESSAGES = '/v1/messages';

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const claude = (modelId: string) => aiSdk(createAnthropic({ baseURL: `${h.server.url}/v1`, apiKey: 'sk-ant-test' })(modelId));
const gemini = (modelId: string) => aiSdk(createGoogleGenerativeAI({ baseURL: `${h.server.url}/v1beta`, apiKey: 'test-gemini-key' })(modelId));

/** A tool without arguments that answers `answer`. */
const noArgs = (name: string, description: string, answer: string) => tool({ name, description, parameters: z.object({}), execute: () => answer });

/** The JSON body of the `i`-th request the server received. */
const sent = (i: number): Json => h.server.requests[i]!.body as Json;

/** The assistant turn of a request to the Messages API (the one after the first user message). */
const assistantTurn = (body: Json): Json[] => body.messages.find((m: Json) => m.role === 'assistant').content;

describe('aiSdk(@ai-sdk/anthropic): thinking blocks go back signed', () => {
  it("sends the thinking block back with its signature on the tool loop's next request", async () => {
    h.server.enqueue(MESSAGES, await anthropicFixtures.exchange('tool-thinking-1.json'), await anthropicFixtures.exchange('tool-thinking-2.json'));
    const [thinking, text, toolUse] = anthropicFixtures.body('tool-thinking-1.json').content;
    const a = agent({ name: 'locator', instructions: '', model: claude('claude-sonnet-4-0'), tools: [noArgs('get_user_country', 'The country of the user.', 'Mexico')] });

    const result = await h.runtime.run(a, 'What is the largest city in the user country?');

    expect(result.output).toBe(anthropicFixtures.body('tool-thinking-2.json').content.find((c: Json) => c.type === 'text').text);
    const [first] = result.messages.filter((m) => m.role === 'assistant');
    expect(first?.role === 'assistant' && first.reasoning).toEqual([{ text: thinking.thinking, signature: thinking.signature }]);
    expect(assistantTurn(sent(1))).toEqual([
      { type: 'thinking', thinking: thinking.thinking, signature: thinking.signature },
      { type: 'text', text: text.text },
      { type: 'tool_use', id: toolUse.id, name: toolUse.name, input: toolUse.input },
    ]);
    expectAllEnded(h);
  });

  it('keeps the signature of a streamed thinking block (its signature_delta) for the next request', async () => {
    h.server.enqueue(MESSAGES, await anthropicFixtures.exchange('stream-thinking-tool-1.sse'), await anthropicFixtures.exchange('stream-text.sse'));
    const events = anthropicFixtures.sseEvents('stream-thinking-tool-1.sse');
    const thought = events.filter((e) => e.delta?.type === 'thinking_delta').map((e) => e.delta.thinking).join('');
    const signature = events.find((e) => e.delta?.type === 'signature_delta').delta.signature;
    const toolUse = events.find((e) => e.content_block?.type === 'tool_use').content_block;
    const a = agent({ name: 'versions', instructions: '', model: claude('claude-haiku-4-5'), tools: [noArgs('fixed_version', 'The fixed version.', '1.2.3')] });

    const { error } = await drain(h.runtime.stream(a, 'Which version is fixed?'));

    expect(error).toBeUndefined();
    expect(assistantTurn(sent(1))).toEqual([
      { type: 'thinking', thinking: thought, signature },
      { type: 'tool_use', id: toolUse.id, name: toolUse.name, input: {} },
    ]);
    expectAllEnded(h);
  });

  it("sends a redacted thinking block back with its data on the conversation's next turn", async () => {
    h.server.enqueue(MESSAGES, await anthropicFixtures.exchange('redacted-thinking.json'), await anthropicFixtures.exchange('text.json'));
    const [redacted, text] = anthropicFixtures.body('redacted-thinking.json').content;
    const a = agent({ name: 'chat', instructions: '', model: claude('claude-sonnet-4-0') });

    await h.runtime.run(a, 'ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING', { conversationId: 'c-1' });
    await h.runtime.run(a, 'And now?', { conversationId: 'c-1' });

    expect(assistantTurn(sent(1))).toEqual([
      { type: 'redacted_thinking', data: redacted.data },
      { type: 'text', text: text.text },
    ]);
  });
});

describe('aiSdk(@ai-sdk/google): function calls go back with their thought signature', () => {
  it('sends the function call back with its thoughtSignature on the next request', async () => {
    h.server.enqueue('/v1beta/models/gemini-2.5-pro:generateContent', await googleFixtures.exchange('tool-signature-1.json'), await googleFixtures.exchange('tool-signature-2.json'));
    const [signed] = googleFixtures.body('tool-signature-1.json').candidates[0].content.parts;
    const a = agent({ name: 'locator', instructions: '', model: gemini('gemini-2.5-pro'), tools: [noArgs('get_user_country', 'The country of the user.', 'Mexico')] });

    const result = await h.runtime.run(a, 'What is the largest city in the user country?');

    expect(result.output).toBe(googleFixtures.body('tool-signature-2.json').candidates[0].content.parts[0].text);
    const calls = result.messages.flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []) : []));
    expect(calls.map((c) => c.signature)).toEqual([signed.thoughtSignature]);
    const model = sent(1).contents.find((c: Json) => c.role === 'model');
    expect(model.parts).toEqual([{ functionCall: { id: calls[0]!.id, name: 'get_user_country', args: {} }, thoughtSignature: signed.thoughtSignature }]);
    expectAllEnded(h);
  });

  it("keeps a streamed Gemini 3 function call's signature, sent back instead of the package's skip sentinel", async () => {
    const path = '/v1beta/models/gemini-3-pro-preview:streamGenerateContent';
    h.server.enqueue(path, await googleFixtures.exchange('stream-signature-1.sse'), await googleFixtures.exchange('stream-signature-2.sse'));
    const signed = googleFixtures
      .sseEvents('stream-signature-1.sse')
      .flatMap((e) => e.candidates?.[0]?.content?.parts ?? [])
      .find((p: Json) => p.functionCall);
    const a = agent({ name: 'capital', instructions: '', model: gemini('gemini-3-pro-preview'), tools: [noArgs('get_country', 'The country of the user.', 'France')] });

    const { error } = await drain(h.runtime.stream(a, 'What is the capital of the user country? Call the tool'));

    expect(error).toBeUndefined();
    const model = sent(1).contents.find((c: Json) => c.role === 'model');
    expect(model.parts).toEqual([{ functionCall: { id: expect.any(String), name: 'get_country', args: {} }, thoughtSignature: signed.thoughtSignature }]);
    expectAllEnded(h);
  });
});
