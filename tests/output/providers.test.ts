/**
 * Typed output through the official SDKs, against a local server replaying pydantic-ai's recorded
 * structured-output traffic (tests/fixtures/*\/SOURCES.md): the native request shape is checked
 * on the wire, and `result.output` is the recorded answer, parsed.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { OutputValidationError } from '../../src/errors.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { openai } from '../../src/providers/openai.js';
import type { Model } from '../../src/providers/model.js';
import { createRuntime } from '../../src/create-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { tool } from '../../src/tool.js';
import { exchange as openaiExchange, recordedBody } from '../providers/openai-fixtures.js';
import { rejection } from '../support/rejection.js';
import { body as anthropicBody, exchange as anthropicExchange, MESSAGES } from '../providers/anthropic-helpers.js';

let server: RecordedServer;
beforeEach(async () => {
  server = await startRecordedServer();
});
afterEach(async () => {
  await server.close();
});

// The recordings' scenario: the model asks for the user's country, then answers with its largest city.
const getUserCountry = tool({ name: 'get_user_country', description: 'The user country.', parameters: z.object({}), execute: () => 'Mexico' });
const CityLocation = z.object({ city: z.string(), country: z.string() });
const cityAgent = (model: Model, schema: z.ZodObject = CityLocation) =>
  agent({ name: 'geo', instructions: 'Answer the question.', model, tools: [getUserCountry], output: schema as typeof CityLocation });

/** The strict JSON Schema the agent sends for {@link CityLocation}. */
const citySchema = {
  type: 'object',
  properties: { city: { type: 'string' }, country: { type: 'string' } },
  required: ['city', 'country'],
  additionalProperties: false,
};

const sent = (i: number) => server.requests[i]?.body as Record<string, unknown>;

describe('typed output: OpenAI chat completions', () => {
  it('sends response_format json_schema strict on every call and parses the recorded answer', async () => {
    server.enqueue('/v1/chat/completions', await openaiExchange('chat-output-tool-call.json'), await openaiExchange('chat-output-answer.json'));
    const runtime = createRuntime();
    const result = await runtime.run(cityAgent(openai('gpt-4o', { baseURL: `${server.url}/v1`, apiKey: 'sk-test' })), 'What is the largest city in the user country?');

    const answer = await recordedBody<{ choices: { message: { content: string } }[] }>('chat-output-answer.json');
    expect(result.stopReason).toBe('final');
    expect(result.output).toEqual(JSON.parse(answer.choices[0]!.message.content));
    expect(result.output).toEqual({ city: 'Mexico City', country: 'Mexico' });
    for (const i of [0, 1]) {
      expect(sent(i)['response_format']).toEqual({ type: 'json_schema', json_schema: { name: 'final_result', schema: citySchema, strict: true } });
      // Native output: the system prompt is the agent's own, without a schema in it.
      expect((sent(i)['messages'] as { role: string; content: string }[])[0]).toEqual({ role: 'system', content: 'Answer the question.' });
    }
    expect((sent(1)['messages'] as { role: string; content?: string }[]).at(-1)).toMatchObject({ role: 'tool', content: 'Mexico' });
  });

  it('names the format after the schema title and sends its description', async () => {
    server.enqueue('/v1/chat/completions', await openaiExchange('chat-output-tool-call.json'), await openaiExchange('chat-output-answer.json'));
    const titled = CityLocation.meta({ title: 'CityLocation' }).describe('Where the city is.');
    await createRuntime().run(cityAgent(openai('gpt-4o', { baseURL: `${server.url}/v1`, apiKey: 'sk-test' }), titled), 'What is the largest city in the user country?');
    expect(sent(0)['response_format']).toEqual({
      type: 'json_schema',
      json_schema: { name: 'CityLocation', description: 'Where the city is.', schema: citySchema, strict: true },
    });
  });
});

describe('typed output: OpenAI Responses API', () => {
  it('sends text.format json_schema strict and parses the recorded answer', async () => {
    server.enqueue('/v1/responses', await openaiExchange('responses-output-function-call.json'), await openaiExchange('responses-output-answer.json'));
    const model = openai('gpt-4o', { baseURL: `${server.url}/v1`, apiKey: 'sk-test', api: 'responses' });
    const result = await createRuntime().run(cityAgent(model), 'What is the largest city in the user country?');

    const answer = await recordedBody<{ output: { content: { text: string }[] }[] }>('responses-output-answer.json');
    expect(result.output).toEqual(JSON.parse(answer.output[0]!.content[0]!.text));
    for (const i of [0, 1]) {
      expect(sent(i)['text']).toEqual({ format: { type: 'json_schema', name: 'final_result', schema: citySchema, strict: true } });
    }
    expect(result.usage.inputTokens).toBe(66 + 89);
  });
});

describe('typed output: a refusal (OpenAI\'s documented refusal answers)', () => {
  it.each([
    ['chat completions', '/v1/chat/completions', 'chat-output-refusal.json', 'chat'],
    ['Responses API', '/v1/responses', 'responses-output-refusal.json', 'responses'],
  ] as const)('%s: fails at once with OutputValidationError (reason refusal, its words as text), not asked again', async (_api, path, fixture, api) => {
    server.enqueue(path, await openaiExchange(fixture));
    const spans = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider });
    const model = openai('gpt-4o', { baseURL: `${server.url}/v1`, apiKey: 'sk-test', api });
    const error = await rejection(runtime.run(cityAgent(model), 'What is the largest city in the user country?'));

    expect(error).toBeInstanceOf(OutputValidationError);
    const failure = error as OutputValidationError;
    expect(failure.reason).toBe('refusal');
    expect(failure.text).toBe("I'm sorry, I cannot assist with that request.");
    expect(failure.issues).toEqual([]);
    expect(failure.progress.usage).toMatchObject({ inputTokens: 81, outputTokens: 11 });
    expect(server.requests).toHaveLength(1);
    const run = spans.spans().find((s) => s.name === 'invoke_agent geo')!;
    expect(run.attributes[ATTR.errorType]).toBe('OutputValidationError');
    // The refusal's words are content: they reach no span unless content capture is on.
    expect(JSON.stringify(spans.spans().map((s) => [s.attributes, s.events, s.status]))).not.toContain('cannot assist');
    await runtime.shutdown();
  });

  it('an agent without an output schema answers with the refusal\'s words', async () => {
    server.enqueue('/v1/chat/completions', await openaiExchange('chat-output-refusal.json'));
    const model = openai('gpt-4o', { baseURL: `${server.url}/v1`, apiKey: 'sk-test' });
    const result = await createRuntime().run(agent({ name: 'plain', instructions: 'Answer.', model }), 'Anything.');
    expect(result.stopReason).toBe('final');
    expect(result.output).toBe("I'm sorry, I cannot assist with that request.");
  });
});

describe('typed output: Anthropic', () => {
  const London = z.object({ city: z.string(), country: z.string(), population: z.number().int() });

  it('sends output_config.format on a model that has it (claude-sonnet-4-5) and parses the recorded text', async () => {
    server.enqueue(MESSAGES, await anthropicExchange('output-config.json'));
    const model = anthropic('claude-sonnet-4-5', { baseURL: server.url, apiKey: 'sk-ant-test' });
    const a = agent({ name: 'geo', instructions: 'Answer the question.', model, output: London });
    const result = await createRuntime().run(a, 'Tell me about London');

    expect(result.output).toEqual(JSON.parse(anthropicBody('output-config.json').content[0].text));
    const format = (sent(0)['output_config'] as { format: unknown }).format;
    expect(format).toEqual({
      type: 'json_schema',
      schema: {
        type: 'object',
        properties: { city: { type: 'string' }, country: { type: 'string' }, population: { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER } },
        required: ['city', 'country', 'population'],
        additionalProperties: false,
      },
    });
    expect(sent(0)['tools']).toBeUndefined();
    expect(sent(0)['tool_choice']).toBeUndefined();
  });

  it("forces a final tool on a model without it: tool_choice any beside the agent's tools, the tool's input is the answer", async () => {
    server.enqueue(MESSAGES, await anthropicExchange('output-tool-1.json'), await anthropicExchange('output-tool-2.json'));
    const model = anthropic('claude-sonnet-4-5', { baseURL: server.url, apiKey: 'sk-ant-test', outputMode: 'tool' });
    const result = await createRuntime().run(cityAgent(model), 'What is the largest city in the user country?');

    const final = anthropicBody('output-tool-2.json').content[0];
    expect(final.name).toBe('final_result');
    expect(result.stopReason).toBe('final');
    expect(result.output).toEqual(final.input);
    for (const i of [0, 1]) {
      expect(sent(i)['tool_choice']).toEqual({ type: 'any' });
      expect((sent(i)['tools'] as { name: string }[]).map((t) => t.name)).toEqual(['get_user_country', 'final_result']);
      expect((sent(i)['tools'] as { input_schema: unknown }[])[1]!.input_schema).toEqual(citySchema);
      expect(sent(i)['output_config']).toBeUndefined();
    }
    // The final call is the answer, not a tool call to run: one tool call ran, the country lookup.
    expect(result.toolCalls).toBe(1);
    expect(result.messages.at(-1)).toEqual({ role: 'assistant', content: JSON.stringify(final.input) });
  });

  it('chooses the mode by model: claude-3-5-haiku gets the final tool, forced by name when the agent has no tools', async () => {
    server.enqueue(MESSAGES, await anthropicExchange('output-tool-2.json'));
    const model = anthropic('claude-3-5-haiku-latest', { baseURL: server.url, apiKey: 'sk-ant-test' });
    const a = agent({ name: 'geo', instructions: 'Answer the question.', model, output: CityLocation });
    const result = await createRuntime().run(a, 'What is the largest city in Mexico?');
    expect(sent(0)['tool_choice']).toEqual({ type: 'tool', name: 'final_result' });
    expect((sent(0)['tools'] as { name: string }[]).map((t) => t.name)).toEqual(['final_result']);
    expect(result.output).toEqual({ city: 'Mexico City', country: 'Mexico' });
  });

  it('streams the final tool\'s input as partial objects (a recorded stream of a tool call, in tool mode)', async () => {
    // Anthropic's docs' streamed tool call: text first, then `get_weather`'s input in
    // input_json_delta pieces. With the final tool named get_weather, that input is the answer.
    server.enqueue(MESSAGES, { sse: await readFile(new URL('../fixtures/anthropic/docs-stream-tool-use.sse', import.meta.url), 'utf8') });
    const Weather = z.object({ location: z.string(), unit: z.enum(['celsius', 'fahrenheit']) }).meta({ title: 'get_weather' });
    const model = anthropic('claude-opus-4-1', { baseURL: server.url, apiKey: 'sk-ant-test', outputMode: 'tool' });
    const a = agent({ name: 'weather', instructions: 'Answer with the weather query.', model, output: Weather });
    const partials: unknown[] = [];
    const texts: string[] = [];
    let output: unknown;
    for await (const event of createRuntime().stream(a, 'What is the weather like in San Francisco?')) {
      if (event.type === 'output-partial') partials.push(event.partial);
      if (event.type === 'text-delta') texts.push(event.text);
      if (event.type === 'run-end') output = event.result.output;
    }
    expect(sent(0)['stream']).toBe(true);
    expect(sent(0)['tool_choice']).toEqual({ type: 'tool', name: 'get_weather' });
    // The text before the call ("Okay, let's check...") is not part of the answer.
    expect(texts.join('')).toBe('{"location": "San Francisco, CA", "unit": "fahrenheit"}');
    expect(partials).toEqual([
      {},
      { location: 'San' },
      { location: 'San Francisc' },
      { location: 'San Francisco,' },
      { location: 'San Francisco, CA' },
      { location: 'San Francisco, CA', unit: 'fah' },
      { location: 'San Francisco, CA', unit: 'fahrenheit' },
    ]);
    expect(output).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
  });
});
