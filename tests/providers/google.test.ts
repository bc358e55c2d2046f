import { GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { google } from '../../src/providers/google.js';
import { priceCall } from '../../src/pricing/price.js';
import type { Message } from '../../src/messages.js';
import type { ModelRequest, ToolDefinition } from '../../src/providers/model.js';
import { body, exchange, generatePath, partsOf, semconvUsage } from './google-helpers.js';

let server: RecordedServer;
beforeAll(async () => {
  server = await startRecordedServer();
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

const KEY = 'gemini-test-key';
const model = (id: string) => google(id, { baseURL: server.url, apiKey: KEY });
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const sent = (i = 0): any => server.requests[i]?.body;

describe('google() factory', () => {
  it('needs no API key to be defined, and reports gcp.gemini and the default server', () => {
    const m = google('gemini-2.5-flash');
    expect(m.provider).toBe('gcp.gemini');
    expect(m.modelId).toBe('gemini-2.5-flash');
    if (process.env['GOOGLE_GEMINI_BASE_URL'] === undefined) expect(m.server).toEqual({ address: 'generativelanguage.googleapis.com', port: 443 });
  });

  it('reports host and port of a custom base URL', () => {
    expect(model('gemini-2.5-flash').server).toEqual({ address: '127.0.0.1', port: Number(new URL(server.url).port) });
  });

  it('reports a given client by its backend: gcp.gemini for the Gemini API, gcp.vertex_ai in Vertex AI mode', () => {
    expect(google('gemini-2.5-flash', { client: new GoogleGenAI({ apiKey: KEY }) }).provider).toBe('gcp.gemini');
    expect(google('gemini-2.5-flash', { client: new GoogleGenAI({ vertexai: true, apiKey: KEY }) }).provider).toBe('gcp.vertex_ai');
  });

  it('keeps a client it builds on the Gemini API, as it reports, even when GOOGLE_GENAI_USE_VERTEXAI is set', async () => {
    const before = process.env['GOOGLE_GENAI_USE_VERTEXAI'];
    process.env['GOOGLE_GENAI_USE_VERTEXAI'] = 'true';
    try {
      // The SDK reads the variable when the client is built, on the first call.
      expect(new GoogleGenAI({ apiKey: KEY }).vertexai).toBe(true);
      server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
      const m = model('gemini-2.5-flash');
      await m.generate({ messages: [{ role: 'user', content: 'Hello!' }], tools: [] });
      expect(m.provider).toBe('gcp.gemini');
      expect(server.requests[0]?.path).toBe(generatePath('gemini-2.5-flash'));
    } finally {
      if (before === undefined) delete process.env['GOOGLE_GENAI_USE_VERTEXAI'];
      else process.env['GOOGLE_GENAI_USE_VERTEXAI'] = before;
    }
  });

  it('sends the key in x-goog-api-key to models/{model}:generateContent', async () => {
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    await model('gemini-2.5-flash').generate({ messages: [{ role: 'user', content: 'Hello!' }], tools: [] });
    expect(server.requests[0]?.path).toBe(generatePath('gemini-2.5-flash'));
    expect(server.requests[0]?.headers['x-goog-api-key']).toBe(KEY);
  });
});

describe('generate: text answer (pydantic-ai test_google_model)', () => {
  it('maps text, response id, model version, finish reason and usage (thoughts counted as output)', async () => {
    const recorded = body('text.json');
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    const res = await model('gemini-2.5-flash').generate({ system: 'You are a chatbot.', messages: [{ role: 'user', content: 'Hello!' }], tools: [] });
    expect(res.text).toBe(recorded.candidates[0].content.parts[0].text);
    expect(res.id).toBe(recorded.responseId);
    expect(res.model).toBe(recorded.modelVersion);
    expect(res.finishReason).toBe('stop'); // recorded finishReason: STOP
    expect(res.toolCalls).toEqual([]);
    expect(res.reasoning).toBeUndefined();
    const u = recorded.usageMetadata;
    expect(u.thoughtsTokenCount).toBeGreaterThan(0);
    expect(res.usage).toEqual({
      inputTokens: u.promptTokenCount,
      outputTokens: u.candidatesTokenCount + u.thoughtsTokenCount,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: u.thoughtsTokenCount,
    });
    // The API's own total agrees: prompt + candidates + thoughts.
    expect(res.usage.inputTokens + res.usage.outputTokens).toBe(u.totalTokenCount);
  });

  it('sends the system prompt as systemInstruction and the user turn as a user content; no tools, no config', async () => {
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    await model('gemini-2.5-flash').generate({ system: 'You are a chatbot.', messages: [{ role: 'user', content: 'Hello!' }], tools: [] });
    expect(sent()).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hello!' }] }],
      systemInstruction: { role: 'user', parts: [{ text: 'You are a chatbot.' }] },
      generationConfig: {},
    });
  });

  it('sends maxOutputTokens, temperature, tool choice none and the thinking config', async () => {
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    const m = google('gemini-2.5-flash', { baseURL: server.url, apiKey: KEY, thinkingConfig: { includeThoughts: true, thinkingBudget: 512 } });
    await m.generate({
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'dummy', description: '', parameters: { type: 'object', properties: {} } }],
      maxOutputTokens: 77,
      temperature: 0.2,
      toolChoice: 'none',
    });
    expect(sent().generationConfig).toEqual({ maxOutputTokens: 77, temperature: 0.2, thinkingConfig: { includeThoughts: true, thinkingBudget: 512 } });
    expect(sent().toolConfig).toEqual({ functionCallingConfig: { mode: 'NONE' } });
  });

  it('joins system messages of the conversation into systemInstruction, after the system prompt', async () => {
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    await model('gemini-2.5-flash').generate({ system: 'You are a chatbot.', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello!' }], tools: [] });
    expect(sent().systemInstruction).toEqual({ role: 'user', parts: [{ text: 'You are a chatbot.\n\nBe brief.' }] });
    expect(sent().contents).toEqual([{ role: 'user', parts: [{ text: 'Hello!' }] }]);
  });

  it('sends an empty answer of an earlier turn as one empty text part (pydantic-ai test_google_model_empty_assistant_response)', async () => {
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    await model('gemini-2.5-flash').generate({
      messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: '' }, { role: 'user', content: 'Was your previous response empty?' }],
      tools: [],
    });
    // The contents of the recorded request, which the API answered.
    expect(sent().contents).toEqual([
      { parts: [{ text: 'Hi' }], role: 'user' },
      { parts: [{ text: '' }], role: 'model' },
      { parts: [{ text: 'Was your previous response empty?' }], role: 'user' },
    ]);
  });

  it('asks for typed output with responseMimeType application/json and responseJsonSchema', async () => {
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('text.json'));
    const jsonSchema = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false };
    await model('gemini-2.5-flash').generate({ messages: [{ role: 'user', content: 'hi' }], tools: [], output: { name: 'answer', jsonSchema } });
    expect(sent().generationConfig).toEqual({ responseMimeType: 'application/json', responseJsonSchema: jsonSchema });
  });
});

const countryTool: ToolDefinition = {
  name: 'get_user_country',
  description: '',
  parameters: { additionalProperties: false, properties: {}, type: 'object' },
};

describe('generate: a signed function call without an id, then the answer (pydantic-ai test_google_text_output_function)', () => {
  const question: Message = { role: 'user', content: 'What is the largest city in the user country? Use the get_user_country tool and then your own world knowledge.' };

  it('makes an id, keeps the thoughtSignature on the call, and reports tool_calls', async () => {
    const recorded = body('tool-signature-1.json');
    const [part] = partsOf(recorded);
    expect(part.functionCall.id).toBeUndefined(); // Gemini 2.5 gives none
    server.enqueue(generatePath('gemini-2.5-pro'), await exchange('tool-signature-1.json'));
    const res = await model('gemini-2.5-pro').generate({ messages: [question], tools: [countryTool] });
    expect(res.toolCalls).toEqual([{ id: expect.stringMatching(/^gemini_[0-9a-f-]{36}$/), name: part.functionCall.name, arguments: part.functionCall.args, signature: part.thoughtSignature }]);
    expect(res.finishReason).toBe('tool_calls'); // recorded finishReason: STOP
    expect(res.usage).toEqual(semconvUsage(recorded.usageMetadata));
    expect(sent().tools).toEqual([{ functionDeclarations: [{ name: 'get_user_country', description: '', parametersJsonSchema: countryTool.parameters }] }]);
  });

  it('sends the call back with its id and its signature unchanged, and the result as a functionResponse', async () => {
    const first = body('tool-signature-1.json');
    const second = body('tool-signature-2.json');
    server.enqueue(generatePath('gemini-2.5-pro'), await exchange('tool-signature-1.json'), await exchange('tool-signature-2.json'));
    const m = model('gemini-2.5-pro');
    const turn1 = await m.generate({ messages: [question], tools: [countryTool] });
    const call = turn1.toolCalls[0]!;
    const history: Message[] = [
      question,
      { role: 'assistant', content: turn1.text, toolCalls: turn1.toolCalls },
      { role: 'tool', toolCallId: call.id, toolName: call.name, content: 'Mexico' },
    ];
    // The history as a conversation store or a checkpoint keeps it: JSON and back.
    const turn2 = await m.generate({ messages: JSON.parse(JSON.stringify(history)) as Message[], tools: [countryTool] });

    expect(sent(1).contents).toEqual([
      { role: 'user', parts: [{ text: question.content }] },
      { role: 'model', parts: [{ functionCall: { id: call.id, name: 'get_user_country', args: {} }, thoughtSignature: partsOf(first)[0].thoughtSignature }] },
      { role: 'user', parts: [{ functionResponse: { id: call.id, name: 'get_user_country', response: { output: 'Mexico' } } }] },
    ]);
    expect(turn2.text).toBe(partsOf(second)[0].text);
    expect(turn2.finishReason).toBe('stop');
    expect(turn2.usage).toEqual(semconvUsage(second.usageMetadata));
  });

  it('sends a failed result under error', async () => {
    server.enqueue(generatePath('gemini-2.5-pro'), await exchange('tool-signature-2.json'));
    await model('gemini-2.5-pro').generate({
      messages: [
        question,
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'get_user_country', arguments: {} }] },
        { role: 'tool', toolCallId: 'c1', toolName: 'get_user_country', content: 'lookup failed', isError: true },
      ],
      tools: [countryTool],
    });
    expect(sent().contents[2].parts[0].functionResponse.response).toEqual({ error: 'lookup failed' });
    // A call without a signature is sent without one.
    expect(sent().contents[1].parts[0]).toEqual({ functionCall: { id: 'c1', name: 'get_user_country', args: {} } });
  });

  it('sends arguments kept as raw text (another provider\'s call that was not JSON) as an object, under input', async () => {
    server.enqueue(generatePath('gemini-2.5-pro'), await exchange('tool-signature-2.json'));
    await model('gemini-2.5-pro').generate({
      messages: [
        question,
        { role: 'assistant', content: 'Looking it up.', toolCalls: [{ id: 'call_1', name: 'get_user_country', arguments: '{"broken' }] },
        { role: 'tool', toolCallId: 'call_1', toolName: 'get_user_country', content: 'arguments are not JSON', isError: true },
      ],
      tools: [countryTool],
    });
    expect(sent().contents[1]).toEqual({
      role: 'model',
      parts: [{ text: 'Looking it up.' }, { functionCall: { id: 'call_1', name: 'get_user_country', args: { input: '{"broken' } } }],
    });
  });
});

describe('generate: parallel function calls (pydantic-ai test_google_instructions_only_with_tool_calls, gemini-3-flash-preview)', () => {
  const topicTool: ToolDefinition = { name: 'generate_topic', description: '', parameters: { additionalProperties: false, properties: {}, type: 'object' } };

  it('returns every call with a unique id, the signature on the one that had it; the results go back as ONE user content', async () => {
    const first = body('parallel-tools-1.json');
    const parts = partsOf(first);
    expect(parts.length).toBe(3);
    server.enqueue(generatePath('gemini-3-flash-preview'), await exchange('parallel-tools-1.json'), await exchange('parallel-tools-2.json'));
    const m = model('gemini-3-flash-preview');
    const system = 'Tell three jokes. Generate topics with the generate_topic tool.';
    const turn1 = await m.generate({ system, messages: [{ role: 'user', content: '' }], tools: [topicTool] });

    expect(turn1.toolCalls.map((c) => [c.name, c.arguments, c.signature])).toEqual(parts.map((p) => [p.functionCall.name, p.functionCall.args, p.thoughtSignature]));
    expect(new Set(turn1.toolCalls.map((c) => c.id)).size).toBe(3);
    expect(turn1.finishReason).toBe('tool_calls');

    const results = ['cars', 'penguins', 'cars']; // what pydantic-ai's tool returned in the recording
    await m.generate({
      system,
      messages: [
        { role: 'user', content: '' },
        { role: 'assistant', content: '', toolCalls: turn1.toolCalls },
        ...turn1.toolCalls.map((c, i): Message => ({ role: 'tool', toolCallId: c.id, toolName: c.name, content: results[i]! })),
      ],
      tools: [topicTool],
    });
    // The layout of the recorded second request: one model content of three calls (the first
    // signed), one user content of three responses in call order.
    const contents = sent(1).contents;
    expect(contents).toHaveLength(3);
    expect(contents[1]).toEqual({
      role: 'model',
      parts: turn1.toolCalls.map((c, i) => ({ functionCall: { id: c.id, name: 'generate_topic', args: {} }, ...(i === 0 ? { thoughtSignature: parts[0].thoughtSignature } : {}) })),
    });
    expect(contents[2]).toEqual({
      role: 'user',
      parts: turn1.toolCalls.map((c, i) => ({ functionResponse: { id: c.id, name: 'generate_topic', response: { output: results[i] } } })),
    });
  });
});

describe('generate: usage with cached content and thinking (pydantic-ai test_google_model_cached_content)', () => {
  it('keeps cached tokens inside input, reports them as cache reads, and adds thoughts to output', async () => {
    const { usageMetadata: u } = body('cached-thinking.json');
    expect(u.cachedContentTokenCount).toBeGreaterThan(0);
    server.enqueue(generatePath('gemini-2.5-flash'), await exchange('cached-thinking.json'));
    const res = await model('gemini-2.5-flash').generate({ messages: [{ role: 'user', content: 'What is the capital of France?' }], tools: [] });
    expect(res.usage).toEqual({
      inputTokens: u.promptTokenCount,
      outputTokens: u.candidatesTokenCount + u.thoughtsTokenCount,
      cacheReadTokens: u.cachedContentTokenCount,
      cacheWriteTokens: 0,
      reasoningTokens: u.thoughtsTokenCount,
    });
    expect(res.usage.inputTokens + res.usage.outputTokens).toBe(u.totalTokenCount);
  });

  it('is priced as genai-prices prices the google provider: cache reads at the cache rate', () => {
    const usage = semconvUsage(body('cached-thinking.json').usageMetadata);
    const asGemini = priceCall('gcp.gemini', 'gemini-2.5-flash', usage);
    const asGoogle = priceCall('google', 'gemini-2.5-flash', usage);
    expect(asGemini).toBeDefined();
    expect(asGemini).toEqual(asGoogle);
    const full = priceCall('gcp.gemini', 'gemini-2.5-flash', { ...usage, cacheReadTokens: 0 });
    expect(asGemini!.inputUsd).toBeLessThan(full!.inputUsd);
    expect(asGemini!.outputUsd).toBe(full!.outputUsd);
  });
});

describe('generate: thought summaries (pydantic-ai test_google_model_thinking_part, gemini-3-pro-preview)', () => {
  it('maps thought parts to reasoning and the rest to text', async () => {
    const recorded = body('thought-summary.json');
    const parts = partsOf(recorded);
    server.enqueue(generatePath('gemini-3-pro-preview'), await exchange('thought-summary.json'));
    const request: ModelRequest = { system: 'You are a helpful assistant.', messages: [{ role: 'user', content: 'How do I cross the street?' }], tools: [] };
    const res = await model('gemini-3-pro-preview').generate(request);
    const thought = parts.filter((p) => p.thought === true).map((p) => p.text).join('');
    expect(thought).not.toBe('');
    expect(res.reasoning).toEqual([{ text: thought }]);
    expect(res.text).toBe(parts.filter((p) => p.thought !== true && typeof p.text === 'string').map((p) => p.text).join(''));
    expect(res.usage.reasoningTokens).toBe(recorded.usageMetadata.thoughtsTokenCount);
  });
});
