/**
 * The replay reader over real trace files: tracebound runs (scripted models, real tools, budgets,
 * compression) written by the file exporter, then re-grouped the way a Collector writes them, or
 * damaged.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import type { Message } from '../../src/messages.js';
import { ModelCallError } from '../../src/providers/errors.js';
import type { ModelRequest } from '../../src/providers/model.js';
import { ReplayFileError, readRecording, recordedRuns } from '../../src/replay/read.js';
import type { RecordedRun } from '../../src/replay/recording.js';
import type { RunResult } from '../../src/runtime/events.js';
import { scriptedModel, type ScriptedModel, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT, OPERATION } from '../../src/tracing/attributes.js';
import { parseTraceLines, TraceFileError } from '../../src/traces/trace-file.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

// ---- OTLP/JSON as the file exporter writes it ----

interface OtlpKeyValue {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: OtlpKeyValue[];
  [field: string]: unknown;
}
interface OtlpScopeSpans {
  scope?: Record<string, unknown>;
  spans: OtlpSpan[];
  [field: string]: unknown;
}
interface OtlpResourceSpans {
  resource?: { attributes: OtlpKeyValue[] };
  scopeSpans: OtlpScopeSpans[];
  [field: string]: unknown;
}
interface OtlpDocument {
  resourceSpans: OtlpResourceSpans[];
}

const lines = (text: string) => text.trim().split('\n');
const documents = (text: string) => lines(text).map((line) => JSON.parse(line) as OtlpDocument);
const spansOf = (document: OtlpDocument) => document.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
const stringAttr = (key: string, value: string): OtlpKeyValue => ({ key, value: { stringValue: value } });
const attrOf = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value.stringValue;

/** The text with `edit` applied to every span, line by line (so line numbers stay). */
function editSpans(text: string, edit: (span: OtlpSpan) => void): string {
  return documents(text)
    .map((document) => {
      spansOf(document).forEach(edit);
      return `${JSON.stringify(document)}\n`;
    })
    .join('');
}

/** The first span of `text` matching `match`, and the 1-based line it is on. */
function findSpan(text: string, match: (span: OtlpSpan) => boolean): { span: OtlpSpan; line: number } {
  for (const [i, document] of documents(text).entries()) {
    const span = spansOf(document).find(match);
    if (span) return { span, line: i + 1 };
  }
  throw new Error('no such span');
}

const opIs = (operation: string) => (span: OtlpSpan) =>
  attrOf(span, ATTR.operationName) === operation || attrOf(span, ATTR.operation) === operation;

let dir: string;
async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function replayError(file: string): Promise<ReplayFileError> {
  const error: unknown = await readRecording(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ReplayFileError);
  return error as ReplayFileError;
}

/** Runs without their sources, to compare runs read from differently laid out files. */
function withoutSources(runs: RecordedRun[]): unknown {
  return JSON.parse(JSON.stringify(runs, (k, v: unknown) => (k === 'source' ? undefined : v)));
}

// ---- the recorded runs ----

const filler = (topic: string) => `${topic}: ${Array.from({ length: 120 }, (_, i) => `fact${i}`).join(' ')}`;
/** Flushes the trace file mid-run, so a run's spans are spread over several lines. */
let flush = async () => {};
const tools = [
  tool({ name: 'lookup', description: 'Looks a topic up.', parameters: z.object({ topic: z.string() }), execute: ({ topic }) => filler(topic) }),
  tool({
    name: 'add',
    description: 'Adds two numbers.',
    parameters: z.object({ a: z.number(), b: z.number() }),
    execute: async ({ a, b }) => {
      await flush();
      return a + b;
    },
  }),
  tool({
    name: 'fail',
    description: 'Always fails.',
    parameters: z.object({}),
    execute: () => {
      throw new Error('the service is down');
    },
  }),
];

/** Step 2's prompt (~384 tokens) fits; step 3's (~685) does not until trim drops step 1's turn. */
const CALC_LIMIT = 500;
const CALC_SCRIPT: ScriptedResponse[] = [
  {
    toolCalls: [
      { id: 'call_lookup_a', name: 'lookup', arguments: { topic: 'alpha' } },
      { id: 'call_fail', name: 'fail', arguments: {} },
    ],
    usage: { inputTokens: 120, outputTokens: 30 },
  },
  {
    text: 'Adding now.',
    toolCalls: [
      { id: 'call_add', name: 'add', arguments: { a: 1, b: 2 } },
      { id: 'call_lookup_b', name: 'lookup', arguments: { topic: 'beta' } },
    ],
    usage: { inputTokens: 400, outputTokens: 30 },
  },
  { text: 'The answer is 3.', usage: { inputTokens: 500, outputTokens: 12, cacheReadTokens: 100, reasoningTokens: 4 } },
];

const WRITER_INPUT: Message[] = [
  { role: 'user', content: 'Draft release notes for 2.0.' },
  { role: 'assistant', content: filler('draft') },
  { role: 'user', content: 'Shorten them to one line.' },
];
const SUMMARY = 'The user asked for 2.0 release notes; a long draft was written.';

interface Recorded {
  file: string;
  text: string;
  calc: { model: ScriptedModel; result: RunResult };
  writer: { model: ScriptedModel; result: RunResult };
}
let recorded: Recorded;

/** Two agents' runs, concurrently, into one trace file. */
async function recordTwoAgents(): Promise<Recorded> {
  const file = join(dir, 'traces.jsonl');
  const calcModel = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: CALC_SCRIPT });
  const writerModel = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) =>
      request.system?.startsWith('Summarize')
        ? { text: SUMMARY, usage: { inputTokens: 260, outputTokens: 20 } }
        : { text: '2.0: faster, smaller.', usage: { inputTokens: 60, outputTokens: 8 } },
  });
  const calc = agent({
    name: 'calc',
    instructions: 'Use the tools.',
    model: calcModel,
    tools,
    temperature: 0.2,
    // More output than $0.05 buys (gpt-4o-mini: $0.60 per million): every call is lowered, so
    // every step carries its budget decision (a plain allow would leave no event).
    maxOutputTokens: 100_000,
    budget: { runCostUsd: 0.05, contextTokens: CALC_LIMIT, contextStrategy: ['trim'] },
  });
  const writer = agent({
    name: 'writer',
    instructions: 'Write release notes.',
    model: writerModel,
    // Less than a 1,024-token summary's worst case: the summary and the answer are both lowered.
    budget: { runCostUsd: 0.0005, contextTokens: 150, contextStrategy: ['summarize'] },
  });
  const runtime = tracedRuntime({ traceFile: file });
  flush = () => runtime.forceFlush();
  const [calcResult, writerResult] = await Promise.all([runtime.run(calc, 'What is 1+2?'), runtime.run(writer, WRITER_INPUT)]);
  await runtime.shutdown();
  return {
    file,
    text: await readFile(file, 'utf8'),
    calc: { model: calcModel, result: calcResult },
    writer: { model: writerModel, result: writerResult },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracebound-replay-'));
  recorded = await recordTwoAgents();
});

/** What a recorded request must equal: the request the model received, less what is not recorded. */
function sent(request: ModelRequest) {
  return {
    system: request.system,
    messages: request.messages,
    tools: request.tools,
    maxOutputTokens: request.maxOutputTokens,
    temperature: request.temperature,
  };
}

function runOf(runs: RecordedRun[], agentName: string): RecordedRun {
  const run = runs.find((r) => r.agentName === agentName);
  if (!run) throw new Error(`no run of ${agentName}`);
  return run;
}

describe('readRecording: tracebound trace files', () => {
  it('rebuilds a run: steps, requests and responses as the model saw them, tool calls, compression, budget events', async () => {
    const runs = await readRecording(recorded.file);
    const run = runOf(runs, 'calc');
    const { model, result } = recorded.calc;
    expect(result.stopReason).toBe('final');
    expect(run).toMatchObject({
      traceId: result.traceId,
      agentName: 'calc',
      provider: 'openai',
      model: 'gpt-4o-mini',
      input: 'What is 1+2?',
      output: 'The answer is 3.',
      stopReason: 'final',
      usage: result.usage,
      costUsd: result.costUsd,
    });
    expect(run.costUsd).toBeGreaterThan(0);
    expect(run.steps.map((s) => [s.index, s.finish])).toEqual([
      [1, 'tool_calls'],
      [2, 'tool_calls'],
      [3, 'final'],
    ]);

    const calls = run.steps.flatMap((s) => s.modelCalls);
    expect(calls.map((c) => c.purpose)).toEqual(['step', 'step', 'step']);
    expect(calls.map((c) => c.request)).toEqual(model.requests.map(sent));
    // The tool message of the failed call keeps isError, and the request its budget-set max tokens.
    expect(calls[1]?.request.messages).toContainEqual({
      role: 'tool',
      toolCallId: 'call_fail',
      toolName: 'fail',
      content: 'Error: the service is down',
      isError: true,
    });
    expect(calls.map((c) => c.response)).toEqual(
      CALC_SCRIPT.map((s, i) => ({
        id: `scripted-${i + 1}`,
        model: 'gpt-4o-mini',
        text: s.text ?? '',
        toolCalls: s.toolCalls ?? [],
        finishReason: s.toolCalls ? 'tool_calls' : 'stop',
        usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, ...s.usage },
      })),
    );
    expect(calls.every((c) => c.costUsd !== undefined && c.costUsd > 0 && c.error === undefined)).toBe(true);
    expect(calls.reduce((sum, c) => sum + (c.costUsd ?? 0), 0)).toBeCloseTo(result.costUsd ?? 0, 12);

    // Tool calls in the order asked, with the results the model got back (trim later dropped step 1's).
    const toolMessages = new Map(
      model.requests.flatMap((r) => r.messages).flatMap((m) => (m.role === 'tool' ? [[m.toolCallId, m] as const] : [])),
    );
    expect(run.steps.map((s) => s.toolCalls.map((c) => c.id))).toEqual([['call_lookup_a', 'call_fail'], ['call_add', 'call_lookup_b'], []]);
    for (const call of run.steps.flatMap((s) => s.toolCalls)) {
      const asked = CALC_SCRIPT.flatMap((s) => s.toolCalls ?? []).find((c) => c.id === call.id);
      expect(call).toMatchObject({ name: asked?.name, arguments: asked?.arguments, isError: call.id === 'call_fail' });
      expect(call.result).toBe(toolMessages.get(call.id)?.content);
    }
    expect(run.steps[0]?.toolCalls[1]?.errorType).toBe('Error');
    expect(run.steps[1]?.toolCalls[0]?.result).toBe('3');

    // Step 3 was over the limit: trim dropped step 1's turn.
    expect(run.steps.map((s) => s.compression === undefined)).toEqual([true, true, false]);
    const compression = run.steps[2]?.compression;
    expect(compression).toMatchObject({ strategy: 'trim', limit: CALC_LIMIT });
    expect(compression?.tokensBefore).toBeGreaterThan(CALC_LIMIT);
    expect(compression?.tokensAfter).toBeLessThanOrEqual(CALC_LIMIT);
    expect(calls[2]?.request.messages[1]).toMatchObject({ role: 'assistant', content: 'Adding now.' });

    // Each step reserved (a check, lowered) before its call and settled after.
    for (const step of run.steps) {
      expect(step.budgetEvents.map((e) => e.name)).toEqual([EVENT.budgetCheck, EVENT.budgetSettle]);
      expect(step.budgetEvents[0]?.attributes).toMatchObject({ scope: 'run', limit: 0.05, decision: 'lower' });
    }
    const settled = run.steps.map((s) => s.budgetEvents[1]?.attributes.actual);
    expect(settled).toEqual(calls.map((c) => c.costUsd));
  });

  it('reads runs of two agents from one file, in start order; a conversation input, summary calls under compression', async () => {
    const runs = await readRecording(recorded.file);
    expect(runs.map((r) => r.agentName)).toEqual(['calc', 'writer']);
    const run = runOf(runs, 'writer');
    const { model, result } = recorded.writer;
    expect(run).toMatchObject({
      traceId: result.traceId,
      input: WRITER_INPUT,
      output: '2.0: faster, smaller.',
      stopReason: 'final',
      usage: result.usage,
      costUsd: result.costUsd,
    });
    expect(run.steps).toHaveLength(1);
    const [step] = run.steps as [RecordedRun['steps'][number]];
    expect(step.modelCalls.map((c) => c.purpose)).toEqual(['summary', 'step']);
    expect(step.modelCalls.map((c) => c.request)).toEqual(model.requests.map(sent));
    expect(step.modelCalls[0]?.request).toMatchObject({ tools: [], maxOutputTokens: expect.any(Number) as unknown });
    expect(step.modelCalls[0]?.response?.text).toBe(SUMMARY);
    expect(step.compression).toMatchObject({ strategy: 'summarize', limit: 150 });
    // The summary's reservation sits on the compression span, the answer's on the step: both are the step's.
    expect(step.budgetEvents.map((e) => e.name)).toEqual([EVENT.budgetCheck, EVENT.budgetSettle, EVENT.budgetCheck, EVENT.budgetSettle]);
  });

  it('reads the run input from gen_ai.input.messages: a string that looks like a conversation stays a string', async () => {
    const file = join(dir, 'json-looking-input.jsonl');
    const input = JSON.stringify([{ role: 'user', content: 'hi' }]);
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'hello' }] });
    const runtime = tracedRuntime({ traceFile: file });
    await runtime.run(agent({ name: 'echo', instructions: 'x', model }), input);
    await runtime.shutdown();
    const [run] = await readRecording(file);
    expect(run!.input).toBe(input);
  });

  it('reads reasoning parts back, and a tool_call finish reason as new and older recordings spell it', async () => {
    const file = join(dir, 'reasoning.jsonl');
    const model = scriptedModel({
      provider: 'anthropic',
      modelId: 'claude-sonnet-4-5',
      respond: [
        { reasoning: [{ text: 'Add them.', signature: 'sig' }], toolCalls: [{ id: 'call_add', name: 'add', arguments: { a: 1, b: 2 } }] },
        { text: '3' },
      ],
    });
    const runtime = tracedRuntime({ traceFile: file });
    await runtime.run(agent({ name: 'thinker', instructions: 'x', model, tools }), 'What is 1+2?');
    await runtime.shutdown();
    const text = await readFile(file, 'utf8');
    const [run] = await readRecording(file);
    const response = run!.steps[0]!.modelCalls[0]!.response!;
    // The text is recorded; the signature, needed only to send the block back, is not.
    expect(response.reasoning).toEqual([{ text: 'Add them.' }]);
    expect(response.finishReason).toBe('tool_calls');
    // Without gen_ai.response.finish_reasons, the output message's reason is read: semconv's
    // `tool_call` as written today, `tool_calls` as older recordings wrote it.
    for (const written of ['tool_call', 'tool_calls']) {
      const edited = await write(`finish-${written}.jsonl`, editSpans(text, (span) => {
        span.attributes = span.attributes.filter((a) => a.key !== ATTR.responseFinishReasons);
        for (const a of span.attributes) {
          if (a.key === ATTR.outputMessages) a.value = { stringValue: String(a.value.stringValue).replace('"finish_reason":"tool_call"', `"finish_reason":"${written}"`) };
        }
      }));
      const [read] = await readRecording(edited);
      expect(read!.steps[0]!.modelCalls[0]!.response!.finishReason).toBe('tool_calls');
    }
  });

  it('names each piece\'s file, line and span, finding a run\'s spans over several lines', async () => {
    expect(lines(recorded.text).length).toBeGreaterThan(1);
    const runs = await readRecording(recorded.file);
    for (const run of runs) {
      const { line } = findSpan(recorded.text, (s) => s.spanId === run.spanId);
      expect(run.source).toEqual({ file: recorded.file, line, spanId: run.spanId });
      for (const call of run.steps.flatMap((s) => [...s.modelCalls, ...s.toolCalls])) {
        expect(call.source.line).toBe(findSpan(recorded.text, (s) => s.spanId === call.source.spanId).line);
      }
    }
    // Live spans (no source) point at the name given.
    const live = recordedRuns(parseTraceLines(recorded.text, recorded.file), 'live');
    expect(live[0]?.source).toEqual({ file: 'live', line: 0, spanId: live[0]?.spanId });
  });

  it('records a failed model call with its error and no response', async () => {
    const file = join(dir, 'failed.jsonl');
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: [{ error: new ModelCallError('bad request', { kind: 'invalid_request', provider: 'openai', status: 400 }) }],
    });
    const runtime = tracedRuntime({ traceFile: file });
    await expect(runtime.run(agent({ name: 'broken', instructions: 'x', model }), 'hi')).rejects.toMatchObject({ stopReason: 'error' });
    await runtime.shutdown();
    const [run] = await readRecording(file);
    expect(run).toMatchObject({ stopReason: 'error', steps: [{ index: 1, finish: 'stopped' }] });
    expect(run?.output).toBeUndefined();
    const [call] = run?.steps[0]?.modelCalls ?? [];
    expect(call).toMatchObject({ purpose: 'step', error: 'invalid_request' });
    expect(call?.request).toEqual(sent(model.requests[0] as ModelRequest));
    expect(call?.response).toBeUndefined();
  });
});

describe('readRecording: Collector-style files', () => {
  const GATEWAY_TRACE = '0af7651916cd43dd8448eb211c80319c';

  /**
   * The recorded spans as one Collector line: every run in it, split across two resources and
   * several scopes, with a gateway service's spans (one of them the calc run's parent), a user's
   * span under a tool, and spans of unknown operations directly under a step.
   */
  function collectorDocument(text: string): OtlpDocument {
    const all = documents(text).flatMap((d) => d.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
    const calcRun = all.find((s) => s.name === 'invoke_agent calc') as OtlpSpan;
    const lookup = all.find((s) => attrOf(s, ATTR.toolCallId) === 'call_lookup_a') as OtlpSpan;
    const step = all.find((s) => s.parentSpanId === calcRun.spanId) as OtlpSpan;
    const at = { startTimeUnixNano: calcRun.startTimeUnixNano, endTimeUnixNano: calcRun.endTimeUnixNano };
    const gateway: OtlpSpan = { traceId: calcRun.traceId, spanId: 'b7ad6b7169203331', parentSpanId: '', name: 'POST /v1/runs', kind: 2, ...at, attributes: [stringAttr('http.request.method', 'POST')] };
    const otherTrace: OtlpSpan = { traceId: GATEWAY_TRACE, spanId: '00f067aa0ba902b7', parentSpanId: '', name: 'GET /healthz', kind: 2, ...at, attributes: [] };
    const userSpan: OtlpSpan = { traceId: lookup.traceId, spanId: '1111111111111111', parentSpanId: lookup.spanId, name: 'GET https://api.example.com/alpha', kind: 3, ...at, attributes: [] };
    const dbSpan: OtlpSpan = { traceId: step.traceId, spanId: '2222222222222222', parentSpanId: step.spanId, name: 'db.query', kind: 1, ...at, attributes: [] };
    const embeddings: OtlpSpan = { traceId: step.traceId, spanId: '3333333333333333', parentSpanId: step.spanId, name: 'embeddings text-embedding-3-small', kind: 3, ...at, attributes: [stringAttr(ATTR.operationName, 'embeddings')] };
    const ours = all.map((s) => (s === calcRun ? { ...s, parentSpanId: gateway.spanId } : { ...s, parentSpanId: s.parentSpanId ?? '' }));
    const half = Math.ceil(ours.length / 2);
    const resource = (host: string) => ({
      attributes: [stringAttr('service.name', 'agents'), stringAttr('host.name', host), stringAttr('k8s.pod.name', `agents-${host}`)],
      droppedAttributesCount: 0,
    });
    return {
      resourceSpans: [
        { resource: { attributes: [stringAttr('service.name', 'gateway')] }, scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.0' }, spans: [gateway, otherTrace] }], schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' },
        {
          resource: resource('worker-1'),
          scopeSpans: [
            { scope: { name: 'tracebound', version: '0.1.0' }, spans: ours.slice(0, half).reverse() },
            { scope: { name: 'user-code' }, spans: [userSpan, dbSpan] },
          ],
        },
        { resource: resource('worker-2'), scopeSpans: [{ scope: { name: 'tracebound' }, spans: [] }, { scope: { name: 'tracebound', attributes: [] }, spans: [...ours.slice(half), embeddings] }] },
      ],
    };
  }

  it('reads several resources, scopes and runs in one line, ignoring other services\' and users\' spans', async () => {
    const expected = await readRecording(recorded.file);
    const file = await write('collector.jsonl', `${JSON.stringify(collectorDocument(recorded.text))}\n`);
    const runs = await readRecording(file);
    expect(withoutSources(runs)).toEqual(withoutSources(expected));
    const sources = runs.flatMap((r) => [r.source, ...r.steps.flatMap((s) => [...s.modelCalls, ...s.toolCalls].map((c) => c.source))]);
    expect(new Set(sources.map((source) => `${source.file}:${source.line}`))).toEqual(new Set([`${file}:1`]));
  });

  it('reads the same as one pretty-printed OTLP JSON document', async () => {
    const file = await write('collector.json', JSON.stringify(collectorDocument(recorded.text), null, 2));
    expect(withoutSources(await readRecording(file))).toEqual(withoutSources(await readRecording(recorded.file)));
  });
});

describe('readRecording: files it cannot replay', () => {
  it('names the line of a truncated record', async () => {
    const text = recorded.text.trimEnd();
    const file = await write('truncated.jsonl', text.slice(0, text.length - 100));
    const error = await replayError(file);
    expect(error).toMatchObject({ file, line: lines(text).length });
    expect(error.field).toBeUndefined();
    expect(error.cause).toBeInstanceOf(TraceFileError);
    expect(error.message).toMatch(new RegExp(`^${file}: line ${lines(text).length}: not JSON \\(.+\\): the file may be truncated`));
  });

  it('names the OTLP field of a value of the wrong JSON type', async () => {
    const file = await write('wrong-otlp.jsonl', editSpans(recorded.text, (span) => {
      if (span.name === 'invoke_agent writer') span.startTimeUnixNano = { seconds: 1 };
    }));
    const error = await replayError(file);
    const { line } = findSpan(recorded.text, (s) => s.name === 'invoke_agent writer');
    expect(error.line).toBe(line);
    expect(error.field).toMatch(/^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[\d+\]\.startTimeUnixNano$/);
    expect(error.message).toContain('is an object, expected Unix epoch nanoseconds');
  });

  it('names the attribute, span and line of a tracebound attribute of the wrong type', async () => {
    const file = await write('wrong-attribute.jsonl', editSpans(recorded.text, (span) => {
      for (const a of span.attributes) if (a.key === ATTR.stepIndex) a.value = { stringValue: 'one' };
    }));
    const error = await replayError(file);
    const { span, line } = findSpan(recorded.text, opIs(OPERATION.step));
    expect(error).toMatchObject({ file, line, spanId: span.spanId, field: ATTR.stepIndex });
    expect(error.message).toContain(`${ATTR.stepIndex} of "${span.name}" is a string ("one"), expected a number`);
  });

  it.each([
    ['not JSON', '[{"role":"user","parts":[{"type":"text"', '', 'is not JSON'],
    ['a part id of the wrong type', '[{"role":"tool","parts":[{"type":"tool_call_response","id":7,"response":"3"}]}]', '[0].parts[0].id', 'is a number (7), expected a string'],
    ['an unknown role', '[{"role":"critic","parts":[]}]', '[0].role', 'expected system, user, assistant or tool'],
    ['an unknown part type', '[{"role":"user","parts":[{"type":"blob","content":"x"}]}]', '[0].parts[0].type', 'expected text, reasoning, tool_call or tool_call_response'],
    ['a result for no call', '[{"role":"tool","parts":[{"type":"tool_call_response","id":"call_nowhere","response":"3"}]}]', '[0].parts[0].id', 'answers no recorded tool call'],
    ['an object', '{"role":"user"}', '', 'is an object, expected an array'],
  ])('names the JSON path inside gen_ai.input.messages: %s', async (_, value, path, problem) => {
    const chat = findSpan(recorded.text, opIs(OPERATION.chat));
    const file = await write('bad-content.jsonl', editSpans(recorded.text, (span) => {
      if (span.spanId !== chat.span.spanId) return;
      for (const a of span.attributes) if (a.key === ATTR.inputMessages) a.value = { stringValue: value };
    }));
    const error = await replayError(file);
    expect(error).toMatchObject({ line: chat.line, spanId: chat.span.spanId, field: `${ATTR.inputMessages}${path}` });
    expect(error.message).toContain(problem);
    expect(error.message).toContain('replay needs the content as tracebound records it');
  });

  it('tells to record with content capture when a file was recorded without content', async () => {
    const file = join(dir, 'no-content.jsonl');
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: 'hi' }] });
    const runtime = tracedRuntime({ traceFile: file, captureContent: false });
    await runtime.run(agent({ name: 'quiet', instructions: 'x', model }), 'hello');
    await runtime.shutdown();
    const error = await replayError(file);
    const run = findSpan(await readFile(file, 'utf8'), opIs(OPERATION.invokeAgent));
    expect(error).toMatchObject({ file, line: run.line, spanId: run.span.spanId, field: ATTR.inputMessages });
    expect(error.message).toContain(
      'recorded without content: record with content capture on (tracedRuntime({ captureContent: true }), the default for the trace file)',
    );
  });

  it.each([
    [OPERATION.chat, ATTR.inputMessages],
    [OPERATION.chat, ATTR.outputMessages],
    [OPERATION.executeTool, ATTR.toolCallArguments],
    [OPERATION.executeTool, ATTR.toolCallResult],
  ])('names a %s span without %s as recorded without content', async (operation, attribute) => {
    const target = findSpan(recorded.text, opIs(operation));
    const file = await write('stripped.jsonl', editSpans(recorded.text, (span) => {
      if (span.spanId === target.span.spanId) span.attributes = span.attributes.filter((a) => a.key !== attribute);
    }));
    const error = await replayError(file);
    expect(error).toMatchObject({ line: target.line, spanId: target.span.spanId, field: attribute });
    expect(error.message).toContain(`${attribute} of "${target.span.name}" is missing: recorded without content`);
  });

  it('names langfuse.trace.input when an older recording kept the run input only there', async () => {
    const run = findSpan(recorded.text, opIs(OPERATION.invokeAgent));
    const file = await write('old-input.jsonl', editSpans(recorded.text, (span) => {
      if (span.spanId !== run.span.spanId) return;
      span.attributes = span.attributes.filter((a) => a.key !== ATTR.inputMessages);
      span.attributes.push(stringAttr(ATTR.langfuseTraceInput, 'What is 1+2?'));
    }));
    const error = await replayError(file);
    expect(error).toMatchObject({ line: run.line, spanId: run.span.spanId, field: ATTR.inputMessages });
    expect(error.message).toContain(`the run's input is only in ${ATTR.langfuseTraceInput}`);
    expect(error.message).toContain('re-record the run');
  });

  it('says a foreign OTLP file has no tracebound runs', async () => {
    const foreign = {
      resourceSpans: [
        {
          resource: { attributes: [stringAttr('service.name', 'gateway')] },
          scopeSpans: [{ scope: { name: 'http' }, spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'GET /', kind: 2, startTimeUnixNano: '1', endTimeUnixNano: '2' }] }],
        },
      ],
    };
    const file = await write('foreign.jsonl', `${JSON.stringify(foreign)}\n`);
    const error = await replayError(file);
    expect(error.line).toBeUndefined();
    expect(error.message).toBe(
      `${file}: no tracebound runs in ${file}: none of its 1 spans is an invoke_agent span; record one with tracedRuntime() or \`tracebound run\`, or check the path`,
    );
    expect((await replayError(await write('empty.jsonl', ''))).message).toContain('the file has no spans');
    expect((await replayError(await write('foreign.json', '{"foo":1}'))).message).toContain('resourceSpans is missing');
    expect(await replayError(join(dir, 'missing.jsonl'))).toMatchObject({ line: undefined, message: expect.stringContaining('no such file') as unknown });
  });
});
