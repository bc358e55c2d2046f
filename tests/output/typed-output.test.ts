/**
 * Typed output through the runtime with scripted models: an invalid answer is sent back once
 * (its own chat span, an event naming the failure), a second failure rejects with
 * OutputValidationError; a model without native structured output gets the schema in its system
 * prompt; streaming yields partial objects; the answer is on the run span as JSON, replays, and
 * stays plain data in the checkpoint.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { DefinitionError, OutputValidationError } from '../../src/errors.js';
import type { RunEvent, RunResult } from '../../src/runtime/events.js';
import { memoryStore } from '../../src/state/memory.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { recordRun } from '../../src/testing/record.js';
import { replayTrace } from '../../src/replay/replay.js';
import { scriptedModel, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { createRuntime } from '../../src/create-runtime.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';

const usage = { inputTokens: 100, outputTokens: 20 };
const City = z.object({ city: z.string(), country: z.string(), population: z.number().int().positive() });
const answer = { city: 'Mexico City', country: 'Mexico', population: 9_209_944 };

function setup(responses: ScriptedResponse[]) {
  const spans = collectSpans();
  const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: responses });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true, retry: { initialDelayMs: 1 } });
  const a = agent({ name: 'geo', instructions: 'Answer about cities.', model, output: City });
  return { spans, model, runtime, agent: a };
}

describe('typed output: validation', () => {
  it('sends an answer that is not JSON back once with the error, in its own chat span, and keeps the repaired answer', async () => {
    const { spans, model, runtime, agent: a } = setup([
      { text: 'The largest city is Mexico City.', usage },
      { text: JSON.stringify(answer), usage },
    ]);
    const result = await runtime.run(a, 'Largest city of Mexico?');
    expect(result.stopReason).toBe('final');
    expect(result.output).toEqual(answer);
    expect(result.steps).toBe(1);
    expect(result.usage.inputTokens).toBe(200);

    // The second request carries the bad answer and the error.
    const retry = model.requests[1]!;
    expect(retry.messages.slice(-2)).toEqual([
      { role: 'assistant', content: 'The largest city is Mexico City.' },
      { role: 'user', content: expect.stringContaining('the answer is not valid JSON') as string },
    ]);
    expect(retry.output).toEqual(a.outputRequest);

    const all = spans.spans();
    const step = all.find((s) => s.name === 'step 1')!;
    const chats = all.filter((s) => s.name === 'chat gpt-4o-mini');
    expect(chats).toHaveLength(2);
    for (const chat of chats) {
      expect(chat.parentSpanContext?.spanId).toBe(step.spanContext().spanId);
      expect(chat.attributes[ATTR.outputType]).toBe('json');
    }
    const invalid = step.events.filter((e) => e.name === EVENT.outputInvalid);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.attributes).toEqual({ 'error.type': 'invalid_json', 'error.message': 'the answer is not valid JSON' });
    // The run span's answer is the typed object as JSON.
    const run = all.find((s) => s.name === 'invoke_agent geo')!;
    const out = JSON.parse(String(run.attributes[ATTR.outputMessages])) as { parts: { content: string }[] }[];
    expect(JSON.parse(out[0]!.parts[0]!.content)).toEqual(answer);
    await runtime.shutdown();
  });

  it('rejects with OutputValidationError carrying the raw text and the zod issues when the retry fails too', async () => {
    const bad = JSON.stringify({ city: 'Mexico City', country: 'Mexico', population: -3 });
    const { spans, runtime, agent: a } = setup([
      { text: JSON.stringify({ city: 'Mexico City' }), usage },
      { text: bad, usage },
    ]);
    const error = await runtime.run(a, 'Largest city of Mexico?').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OutputValidationError);
    const failure = error as OutputValidationError;
    expect(failure.stopReason).toBe('error');
    expect(failure.reason).toBe('schema');
    expect(failure.text).toBe(bad);
    expect(failure.issues.map((i) => [i.code, i.path])).toEqual([['too_small', ['population']]]);
    expect(failure.progress.usage.inputTokens).toBe(200);

    const step = spans.spans().find((s) => s.name === 'step 1')!;
    const [event] = step.events.filter((e) => e.name === EVENT.outputInvalid);
    expect(event!.attributes!['error.type']).toBe('schema');
    expect(String(event!.attributes!['error.message'])).toMatch(/population/);
    const run = spans.spans().find((s) => s.name === 'invoke_agent geo')!;
    expect(run.status.code).toBe(SpanStatusCode.ERROR);
    expect(run.attributes[ATTR.stopReason]).toBe('error');
    expect(run.attributes[ATTR.errorType]).toBe('OutputValidationError');
    await runtime.shutdown();
  });

  it('instructs a model without native structured output with the schema, and takes an answer in a code fence', async () => {
    const { model, runtime, agent: a } = setup([{ text: '```json\n' + JSON.stringify(answer) + '\n```', usage }]);
    const result = await runtime.run(a, 'Largest city of Mexico?');
    expect(result.output).toEqual(answer);
    expect(model.requests[0]!.system).toBe(`Answer about cities.\n\nWhen you give your final answer, reply with only a JSON value (no other text, no code fence) that matches this JSON Schema:\n${JSON.stringify(a.outputRequest!.jsonSchema)}`);
    await runtime.shutdown();
  });

  it('gives no output when the run stops before an answer (max_steps)', async () => {
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: () => ({ toolCalls: [{ id: 'c1', name: 'nothing', arguments: {} }], usage }) });
    const a = agent({ name: 'geo', instructions: 'x', model, output: City, budget: { maxSteps: 1 } });
    const result = await createRuntime().run(a, 'Largest city of Mexico?');
    expect(result.stopReason).toBe('max_steps');
    expect(result.output).toBeUndefined();
  });

  it('refuses a schema that is not an object, or that JSON Schema cannot express, when the agent is defined', () => {
    const model = scriptedModel({ respond: [] });
    expect(() => agent({ name: 'a', instructions: '', model, output: z.array(z.string()) })).toThrow(DefinitionError);
    expect(() => agent({ name: 'a', instructions: '', model, output: z.object({ at: z.date() }) })).toThrow(/output cannot be sent as JSON Schema: Date/);
  });
});

describe('typed output: the JSON Schema sent', () => {
  it('is closed and lists every property as required at every depth (strict mode), optional ones included', () => {
    const model = scriptedModel({ respond: [] });
    const schema = z.object({ name: z.string(), tags: z.array(z.object({ label: z.string(), weight: z.number().optional() })), note: z.string().nullable() });
    const a = agent({ name: 'a', instructions: '', model, output: schema });
    expect(a.outputRequest).toEqual({
      name: 'final_result',
      jsonSchema: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          tags: {
            type: 'array',
            items: { type: 'object', properties: { label: { type: 'string' }, weight: { type: 'number' } }, required: ['label', 'weight'], additionalProperties: false },
          },
          note: { type: ['string', 'null'] },
        },
        required: ['name', 'tags', 'note'],
        additionalProperties: false,
      },
    });
  });
});

describe('typed output: streaming', () => {
  it('yields partial objects as the JSON streams, then the parsed answer in run-end', async () => {
    const { runtime, agent: a } = setup([{ text: '{"city": "Mexico City", "country": "Mexico", "population": 9209944}', usage }]);
    const partials: unknown[] = [];
    let end: RunResult<z.output<typeof City> | undefined> | undefined;
    for await (const event of runtime.stream(a, 'Largest city of Mexico?')) {
      if (event.type === 'output-partial') partials.push(event.partial);
      if (event.type === 'run-end') end = event.result;
    }
    // The scripted stream sends one word a chunk: each chunk that changes the parse is one partial.
    expect(partials).toEqual([
      {},
      { city: 'Mexico' },
      { city: 'Mexico City' },
      { city: 'Mexico City', country: 'Mexico' },
      answer,
    ]);
    expect(end?.output).toEqual(answer);
    await runtime.shutdown();
  });
});

describe('typed output: types', () => {
  it('infers result.output from the schema through run, stream and resume', async () => {
    const model = scriptedModel({ respond: () => ({ text: JSON.stringify(answer), usage }) });
    const typed = agent({ name: 'geo', instructions: '', model, output: City });
    const plain = agent({ name: 'plain', instructions: '', model });
    const runtime = createRuntime();
    const result = await runtime.run(typed, 'x');
    expectTypeOf(result.output).toEqualTypeOf<{ city: string; country: string; population: number } | undefined>();
    expectTypeOf((await runtime.run(plain, 'x')).output).toEqualTypeOf<string>();
    expectTypeOf(runtime.stream(typed, 'x')).toEqualTypeOf<AsyncIterable<RunEvent<{ city: string; country: string; population: number } | undefined>>>();
    expectTypeOf(runtime.resume(typed, result.runId)).resolves.toEqualTypeOf<RunResult<{ city: string; country: string; population: number } | undefined>>();
    expect(result.output?.population).toBe(answer.population);
  });
});

describe('typed output: checkpoints and replay', () => {
  it('keeps the answer in the checkpoint as plain data and a completed run resumes to the same object', async () => {
    const store = memoryStore();
    const model = scriptedModel({ respond: () => ({ text: JSON.stringify(answer), usage }) });
    const a = agent({ name: 'geo', instructions: '', model, output: City });
    const runtime = createRuntime({ store });
    const result = await runtime.run(a, 'Largest city of Mexico?', { runId: 'r-geo' });
    const record = await store.runs!.get('r-geo');
    expect(record?.state.answer).toEqual(answer);
    expect(JSON.parse(JSON.stringify(record!.state))).toEqual(record!.state);
    expect((await runtime.resume(a, 'r-geo')).output).toEqual(result.output);
  });

  it('replays a recorded typed run to the same object, offline', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'tracebound-output-')), 'recording.jsonl');
    const model = scriptedModel({ provider: 'openai', modelId: 'gpt-4o-mini', respond: [{ text: JSON.stringify(answer), usage }] });
    const a = agent({ name: 'geo', instructions: 'Answer about cities.', model, output: City });
    const recorded = await recordRun(a, 'Largest city of Mexico?', { traceFile: file });
    const replay = await replayTrace(file, a);
    expect(replay.matched).toBe(true);
    expect(replay.result.output).toEqual(recorded.result.output);
    expect(replay.result.output).toEqual(answer);
  });
});
