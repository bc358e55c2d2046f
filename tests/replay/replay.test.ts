/**
 * Record a run, replay it: a scripted run and runs through the real provider SDKs against
 * recorded traffic (tests/fixtures, see SOURCES.md there) replay with identical output, tokens,
 * cost, tool calls and span tree, offline. Changing a tool's result, the prompt, a tool schema or
 * the step count makes strict replay name the step and field, and lenient replay list them all.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent, type Agent } from '../../src/agent.js';
import type { Model } from '../../src/providers/model.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { openai } from '../../src/providers/openai.js';
import { createRuntime } from '../../src/create-runtime.js';
import { readRecording } from '../../src/replay/read.js';
import { ReplayDivergenceError, replayTrace, type Difference, type ReplayOptions } from '../../src/replay/replay.js';
import { recordRun } from '../../src/testing/record.js';
import { loadFixture, startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { scriptedModel, type ScriptedModel } from '../../src/testing/scripted-model.js';
import { memoryStore } from '../../src/state/memory.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { collectedShape, expectSameRun, offline, recordedShape, replayTraced } from './support.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

async function traceFile(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'tracebound-replay-')), 'recording.jsonl');
}

/** Asserts a recording replays identically: result, span tree, replay attributes, no open span. */
async function expectIdenticalReplay(file: string, a: Agent, recorded: Awaited<ReturnType<typeof recordRun>>['result']) {
  const { replay, collector } = await replayTraced(file, a);
  expect(replay.differences).toEqual([]);
  expect(replay.matched).toBe(true);
  expect(replay.report).toMatch(/^replay matched .*recording\.jsonl:\d+ run [0-9a-f]{32}/);
  expectSameRun(replay.result, recorded);
  const [run] = await readRecording(file);
  expectSameRun(replay.result, run!);
  const shape = collectedShape(collector);
  expect(shape).toEqual(await recordedShape(file, recorded.traceId));
  const runSpan = collector.spans().find((s) => s.name === shape.name);
  expect(runSpan?.attributes[ATTR.replaySource]).toBe(`${file}:${run!.source.line}#${recorded.traceId}`);
  expect(runSpan?.attributes[ATTR.replayMode]).toBe('strict');
  expect(collector.open()).toEqual([]);
  return replay;
}

// ---- a scripted run: three steps, two tools ----

const USAGE = { inputTokens: 120, outputTokens: 30 };

/** Asks for add(1, 2), then multiply(3, 4), then answers with what the tools returned. */
function calculatorModel(): ScriptedModel {
  return scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const results = request.messages.filter((m) => m.role === 'tool').map((m) => m.content);
      if (results.length === 0) return { toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 1, b: 2 } }], usage: USAGE };
      if (results.length === 1) return { toolCalls: [{ id: 'call_mul', name: 'multiply', arguments: { a: 3, b: 4 } }], usage: USAGE };
      return { text: `The results are ${results.join(' and ')}.`, usage: { inputTokens: 200, outputTokens: 12 } };
    },
  });
}

interface CalculatorOptions {
  instructions?: string;
  add?: (a: number, b: number) => number;
  /** Describe `b` (a changed tool schema). */
  describeB?: string;
  withMultiply?: boolean;
  maxSteps?: number;
  model?: Model;
}

function calculator(o: CalculatorOptions = {}): Agent {
  const b = o.describeB === undefined ? z.number() : z.number().describe(o.describeB);
  const add = tool({
    name: 'add',
    description: 'Adds two numbers.',
    parameters: z.object({ a: z.number(), b }),
    execute: ({ a, b }) => String((o.add ?? ((x, y) => x + y))(a, b)),
  });
  const multiply = tool({
    name: 'multiply',
    description: 'Multiplies two numbers.',
    parameters: z.object({ a: z.number(), b: z.number() }),
    execute: ({ a, b }) => String(a * b),
  });
  return agent({
    name: 'calculator',
    instructions: o.instructions ?? 'Use the tools for arithmetic.',
    model: o.model ?? calculatorModel(),
    tools: o.withMultiply === false ? [add] : [add, multiply],
    ...(o.maxSteps !== undefined ? { budget: { maxSteps: o.maxSteps } } : {}),
  });
}

const QUESTION = 'What are 1 + 2 and 3 * 4?';

async function recordCalculator() {
  const file = await traceFile();
  const { result } = await recordRun(calculator(), QUESTION, { traceFile: file });
  return { file, result };
}

describe('recordRun', () => {
  it('appends one complete run to the trace file, content captured', async () => {
    const file = await traceFile();
    const first = await recordRun(calculator(), QUESTION, { traceFile: file });
    expect(first.traceFile).toBe(file);
    expect(first.result.output).toBe('The results are 3 and 12.');
    const afterOne = await readFile(file, 'utf8');
    expect(afterOne).toContain('gen_ai.input.messages');
    await recordRun(calculator(), 'again', { traceFile: file });
    const runs = await readRecording(file);
    expect(runs.map((r) => [r.traceId, r.input])).toEqual([
      [first.result.traceId, QUESTION],
      [expect.stringMatching(/^[0-9a-f]{32}$/), 'again'],
    ]);
    expect(runs[0]?.steps.map((s) => s.toolCalls.map((c) => [c.name, c.arguments, c.result]))).toEqual([
      [['add', { a: 1, b: 2 }, '3']],
      [['multiply', { a: 3, b: 4 }, '12']],
      [],
    ]);
  });
});

describe('replay of a scripted run', () => {
  it('reproduces output, usage, cost, tool calls and the span tree, without calling the model', async () => {
    const { file, result } = await recordCalculator();
    expect(result.costUsd).toBeGreaterThan(0);
    const model = calculatorModel();
    const replay = await expectIdenticalReplay(file, calculator({ model }), result);
    expect(replay.result.steps).toBe(3);
    expect(model.requests).toEqual([]);
  });

  it('runs live tools when asked, and matches when they return what was recorded', async () => {
    const { file, result } = await recordCalculator();
    const calls: unknown[] = [];
    const replay = await replayTrace(file, calculator({ add: (a, b) => (calls.push([a, b]), a + b) }), { liveTools: ['add'] });
    expect(replay.matched).toBe(true);
    expect(calls).toEqual([[1, 2]]);
    expectSameRun(replay.result, result);
  });
});

// ---- runs through the real SDKs against recorded traffic ----

interface ProviderScenario {
  name: string;
  path: string;
  fixtures: string[];
  input: string;
  instructions: string;
  make: (baseURL: string | undefined) => Model;
  tools: () => ReturnType<typeof tool>[];
}

const stringTool = (name: string, description: string, parameters: z.ZodObject, answer: (args: Record<string, unknown>) => string) =>
  tool({ name, description, parameters, execute: (args) => answer(args as Record<string, unknown>) });

const scenarios: ProviderScenario[] = [
  {
    name: 'openai chat: one tool call, then the answer (pydantic-ai, gpt-4o-mini)',
    path: '/v1/chat/completions',
    fixtures: ['openai/chat-tool-call.json', 'openai/chat-tool-answer.json'],
    input: 'What is the capital of England?',
    instructions: 'Use the tool.',
    make: (baseURL) => openai('gpt-4o-mini', { apiKey: 'sk-test', ...(baseURL ? { baseURL } : {}) }),
    tools: () => [stringTool('get_capital', 'Get the capital of a country.', z.object({ country: z.string() }), () => 'London')],
  },
  {
    name: 'openai chat: three parallel tool calls (crewAI, gpt-4o-mini)',
    path: '/v1/chat/completions',
    fixtures: ['openai/chat-parallel-tool-calls.json', 'openai/chat-parallel-answer.json'],
    input: 'Search the three sources in parallel, then summarise.',
    instructions: 'You follow tool instructions precisely.',
    make: (baseURL) => openai('gpt-4o-mini', { apiKey: 'sk-test', ...(baseURL ? { baseURL } : {}) }),
    tools: () =>
      ['one', 'two', 'three'].map((n) =>
        stringTool(`parallel_local_search_${n}`, 'Local search tool.', z.object({ query: z.string() }), ({ query }) => `[${n}] ${String(query)}`),
      ),
  },
  {
    name: 'openai responses: a function call, then the answer (pydantic-ai, gpt-4o)',
    path: '/v1/responses',
    fixtures: ['openai/responses-function-call.json', 'openai/responses-function-answer.json'],
    input: 'What is the capital of PotatoLand?',
    instructions: '',
    make: (baseURL) => openai('gpt-4o', { apiKey: 'sk-test', api: 'responses', ...(baseURL ? { baseURL } : {}) }),
    tools: () => [stringTool('get_capital', 'Get the capital of a country.', z.object({ country: z.string() }), () => 'Potato City')],
  },
  {
    name: 'anthropic: thinking, a tool call, then the answer (pydantic-ai, claude-sonnet-4-0)',
    path: '/v1/messages',
    fixtures: ['anthropic/tool-thinking-1.json', 'anthropic/tool-thinking-2.json'],
    input: 'What is the largest city in the user country?',
    instructions: '',
    make: (baseURL) => anthropic('claude-sonnet-4-0', { apiKey: 'sk-ant-test', ...(baseURL ? { baseURL } : {}) }),
    tools: () => [stringTool('get_user_country', 'The country of the user.', z.object({}), () => 'Mexico')],
  },
  {
    name: 'anthropic: parallel tool calls (pydantic-ai, claude-haiku-4-5)',
    path: '/v1/messages',
    fixtures: ['anthropic/parallel-tools-1.json', 'anthropic/parallel-tools-2.json'],
    input: 'Alice, Bob, Charlie and Daisy are a family. Who is the youngest?',
    instructions: '',
    make: (baseURL) => anthropic('claude-haiku-4-5', { apiKey: 'sk-ant-test', ...(baseURL ? { baseURL } : {}) }),
    tools: () => [
      stringTool('retrieve_entity_info', 'Get the knowledge about the given entity.', z.object({ name: z.string() }), ({ name }) => `${String(name)} is family`),
    ],
  },
];

describe('replay of runs recorded through the provider SDKs', () => {
  let server: RecordedServer;
  beforeEach(async () => {
    server = await startRecordedServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it.each(scenarios)('$name', async (s) => {
    for (const f of s.fixtures) server.enqueue(s.path, await loadFixture(join(FIXTURES, f)));
    const file = await traceFile();
    const build = (model: Model) => agent({ name: 'provider-run', instructions: s.instructions, model, tools: s.tools() });
    const { result } = await recordRun(build(s.make(s.path === '/v1/messages' ? server.url : `${server.url}/v1`)), s.input, { traceFile: file });
    expect(server.requests).toHaveLength(s.fixtures.length);
    expect(result.toolCalls).toBeGreaterThan(0);
    await server.close();

    // Today's agent as it runs in production: its SDK pointed at the provider, never reached.
    await expectIdenticalReplay(file, build(s.make(undefined)), result);
  });
});

// ---- divergence ----

function divergence(error: unknown): ReplayDivergenceError {
  expect(error).toBeInstanceOf(ReplayDivergenceError);
  return error as ReplayDivergenceError;
}

async function strictFailure(file: string, a: Agent, options: ReplayOptions = {}): Promise<ReplayDivergenceError> {
  return divergence(await offline(() => replayTrace(file, a, options)).then(() => undefined, (e: unknown) => e));
}

/** A difference reduced to what a reader of the report needs: kind, step, paths. */
const brief = (d: Difference) => ({ kind: d.kind, step: d.step, paths: d.values.map((v) => v.path) });

describe('divergence', () => {
  it('a changed tool result: strict replay stops at the next step, at the tool response it sent', async () => {
    const { file } = await recordCalculator();
    const error = await strictFailure(file, calculator({ add: (a, b) => a + b + 100 }), { liveTools: ['add'] });
    expect(error.differences.map(brief)).toEqual([{ kind: 'request.messages', step: 2, paths: ['messages[2].parts[0].response'] }]);
    expect(error.differences[0]?.values[0]).toMatchObject({ recorded: '3', actual: '103' });
    expect(error.message).toContain('step 2: the messages sent to the model differ');
    expect(error.message).toMatch(/messages\[2\]\.parts\[0\]\.response\n\s+recorded: "3"\n\s+actual: {3}"103"/);
  });

  it('a changed prompt: step 1, the system prompt', async () => {
    const { file } = await recordCalculator();
    const error = await strictFailure(file, calculator({ instructions: 'Be terse.' }));
    expect(error.differences.map(brief)).toEqual([{ kind: 'request.system', step: 1, paths: ['system'] }]);
    expect(error.differences[0]?.values[0]).toMatchObject({ recorded: 'Use the tools for arithmetic.', actual: 'Be terse.' });
    expect(error.report).toContain('step 1: the system prompt differs');
  });

  it('a changed tool schema: step 1, the path inside the parameters', async () => {
    const { file } = await recordCalculator();
    const error = await strictFailure(file, calculator({ describeB: 'The second addend.' }));
    expect(error.differences.map(brief)).toEqual([{ kind: 'request.tools', step: 1, paths: ['tools[0].parameters.properties.b.description'] }]);
    expect(error.report).toContain('step 1: the tool definitions differ');
  });

  it('fewer steps (a lower maxSteps): the step the recording has and today does not', async () => {
    const { file } = await recordCalculator();
    const error = await strictFailure(file, calculator({ maxSteps: 2 }));
    expect(error.differences.map(brief)).toEqual([{ kind: 'steps', step: 3, paths: ['steps'] }]);
    expect(error.differences[0]?.values[0]).toMatchObject({ recorded: 3, actual: 2 });
  });

  it('a removed tool: the step that called it', async () => {
    const { file } = await recordCalculator();
    const error = await strictFailure(file, calculator({ withMultiply: false }));
    expect(error.differences.map(brief)).toEqual([{ kind: 'tool.missing', step: 2, paths: ['tools.multiply'] }]);
  });

  it('lenient replay goes on and lists every difference, step by step', async () => {
    const { file } = await recordCalculator();
    const changed = calculator({ instructions: 'Be terse.', describeB: 'The second addend.', add: (a, b) => a + b + 100 });
    const { replay } = await replayTraced(file, changed, { mode: 'lenient', liveTools: ['add'] });
    expect(replay.matched).toBe(false);
    expect(replay.differences.map(brief)).toEqual([
      { kind: 'request.system', step: 1, paths: ['system'] },
      { kind: 'request.tools', step: 1, paths: ['tools[0].parameters.properties.b.description'] },
      { kind: 'request.system', step: 2, paths: ['system'] },
      { kind: 'request.messages', step: 2, paths: ['messages[2].parts[0].response'] },
      { kind: 'request.tools', step: 2, paths: ['tools[0].parameters.properties.b.description'] },
      // A message that differs is reported once, where it was first sent, not again at each step.
      { kind: 'request.system', step: 3, paths: ['system'] },
      { kind: 'request.tools', step: 3, paths: ['tools[0].parameters.properties.b.description'] },
    ]);
    // It went on with the recorded answers: the run completed on them.
    expect(replay.result.steps).toBe(3);
    expect(replay.report).toMatch(/^replay diverged from .* 7 differences\n {2}step 1: the system prompt differs/);
  });

  it('lenient replay of fewer steps and a removed tool lists both', async () => {
    const { file } = await recordCalculator();
    const { replay } = await replayTraced(file, calculator({ withMultiply: false, maxSteps: 1 }), { mode: 'lenient' });
    expect(replay.differences.map(brief)).toEqual([
      { kind: 'tool.missing', step: 2, paths: ['tools.multiply'] },
      { kind: 'request.tools', step: 1, paths: ['tools[1]'] },
      { kind: 'steps', step: 3, paths: ['steps'] },
    ]);
  });
});

// ---- choosing the run ----

describe('a run that continued a conversation', () => {
  it('replays turn 2 strictly offline with the history it loaded, read from the recording and not a store', async () => {
    const file = await traceFile();
    const store = memoryStore();
    const runOptions = { conversationId: 'c-1' };
    const { result: turn1 } = await recordRun(calculator(), QUESTION, { traceFile: file, store, runOptions });
    // Turn 2's model sees both tool results of turn 1 and answers at once.
    const { result: turn2 } = await recordRun(calculator(), 'Once more, please.', { traceFile: file, store, runOptions });
    expect(turn2.steps).toBe(1);
    expect(turn2.output).toBe(turn1.output);

    const [first, second] = await readRecording(file);
    expect(first?.history).toEqual([]);
    // The run span records the new input only; the history comes from the load span's count.
    expect(second?.input).toBe('Once more, please.');
    const stored = await createRuntime({ store }).conversations.get('c-1');
    expect(second?.history).toHaveLength(6);
    expect(second?.history).toEqual(stored?.messages.slice(0, 6));

    const { replay, collector } = await replayTraced(file, calculator(), { runId: turn2.traceId });
    expect(replay.differences).toEqual([]);
    expect(replay.result.output).toBe(turn2.output);
    expect(replay.result.usage).toEqual(turn2.usage);
    expect(collector.spans().map((s) => s.name)).not.toContain('load_conversation');
    // Today's agent answering differently to the same history diverges at turn 2's only step.
    const changed = calculator({ instructions: 'Be terse.' });
    await expect(offline(() => replayTrace(file, changed, { runId: turn2.traceId }))).rejects.toThrow(/step 1: the system prompt differs/);
  });
});

describe('a file with runs of two agents', () => {
  it('replays the run of the agent by name, or the run named by trace or span id', async () => {
    const file = await traceFile();
    const greeter = agent({
      name: 'greeter',
      instructions: 'Greet.',
      model: scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: (r) => ({ text: `Hello, ${String(r.messages.at(-1)?.content)}!`, usage: USAGE }) }),
    });
    const first = await recordRun(calculator(), QUESTION, { traceFile: file });
    const greeting = await recordRun(greeter, 'Ada', { traceFile: file });
    const second = await recordRun(calculator(), 'And again?', { traceFile: file });
    const runs = await readRecording(file);
    expect(runs.map((r) => r.agentName)).toEqual(['calculator', 'greeter', 'calculator']);

    const byName = await replayTrace(file, greeter);
    expect(byName.recorded.traceId).toBe(greeting.result.traceId);
    expect(byName.result.output).toBe('Hello, Ada!');

    const firstOfName = await replayTrace(file, calculator());
    expect(firstOfName.recorded.traceId).toBe(first.result.traceId);

    const byTrace = await replayTrace(file, calculator(), { runId: second.result.traceId });
    expect(byTrace.matched).toBe(true);
    expect(byTrace.recorded.input).toBe('And again?');
    const bySpan = await replayTrace(file, calculator(), { runId: runs[2]!.spanId });
    expect(bySpan.recorded.traceId).toBe(second.result.traceId);

    const stranger = agent({ name: 'stranger', instructions: '', model: calculatorModel() });
    await expect(replayTrace(file, stranger)).rejects.toThrow(/no run of agent "stranger" in the recording; runs: .*\(calculator\), .*\(greeter\)/);
    await expect(replayTrace(file, greeter, { runId: 'f'.repeat(32) })).rejects.toThrow(RangeError);
  });
});
