/**
 * Replay of a `fallback()` run. Recorded for real: the official Anthropic and OpenAI SDKs against
 * the recorded server replaying recorded traffic (tests/fixtures, see SOURCES.md there), where
 * Anthropic is overloaded (529) through its retries at both steps and OpenAI answers, written to a
 * trace file by the file exporter. Replayed offline with today's agent, the recorded 529s fail
 * Claude again, so today's fallback runs again and OpenAI's recorded answers are served; an agent
 * that no longer falls back, or falls back to another model, diverges at the step where it does.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent, type Agent } from '../../src/agent.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { ModelCallError } from '../../src/providers/errors.js';
import { fallback, type FallbackOptions } from '../../src/providers/fallback.js';
import type { Model } from '../../src/providers/model.js';
import { openai } from '../../src/providers/openai.js';
import { readRecording } from '../../src/replay/read.js';
import { ReplayDivergenceError, replayTrace, type ReplayOptions } from '../../src/replay/replay.js';
import { recordRun } from '../../src/testing/record.js';
import { loadFixture, startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR, EVENT } from '../../src/tracing/attributes.js';
import { collectedShape, expectSameRun, offline, recordedShape, replayTraced } from './support.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const MESSAGES = '/v1/messages';
const CHAT = '/v1/chat/completions';
const QUESTION = 'What is the capital of England?';

/** The models as a test records them (`baseURL`: the recorded server) or as production has them. */
const claude = (baseURL?: string) => anthropic('claude-sonnet-4-0', { apiKey: 'sk-ant-test', ...(baseURL ? { baseURL } : {}) });
const gpt = (modelId: string, baseURL?: string) => openai(modelId, { apiKey: 'sk-test', ...(baseURL ? { baseURL: `${baseURL}/v1` } : {}) });

function resilient(model: Model): Agent {
  const getCapital = tool({
    name: 'get_capital',
    description: 'Get the capital of a country.',
    parameters: z.object({ country: z.string() }),
    execute: () => 'London',
  });
  return agent({ name: 'resilient', instructions: 'Use the tool.', model, tools: [getCapital] });
}

/** Today's agent as production runs it: the SDKs pointed at the providers, never reached in a replay. */
const today = (models: Model[], options?: FallbackOptions) => resilient(models.length === 1 ? (models[0] as Model) : fallback(models, options));

let server: RecordedServer;
beforeEach(async () => {
  server = await startRecordedServer();
});
afterEach(async () => {
  await server.close();
});

/** Records the run: at each of its two steps, three 529s from Claude (a try, two retries), then GPT answers. */
async function recordFallbackRun() {
  const overloaded = await loadFixture(join(FIXTURES, 'anthropic/error-529-overloaded.json'));
  server.enqueue(MESSAGES, overloaded, overloaded, overloaded, overloaded, overloaded, overloaded);
  server.enqueue(CHAT, await loadFixture(join(FIXTURES, 'openai/chat-tool-call.json')), await loadFixture(join(FIXTURES, 'openai/chat-tool-answer.json')));
  const file = join(await mkdtemp(join(tmpdir(), 'tracebound-replay-fallback-')), 'recording.jsonl');
  const a = resilient(fallback([claude(server.url), gpt('gpt-4o-mini', server.url)]));
  const { result } = await recordRun(a, QUESTION, { traceFile: file, retry: { initialDelayMs: 1, maxDelayMs: 20 } });
  expect(server.requests.map((r) => r.path)).toEqual([MESSAGES, MESSAGES, MESSAGES, CHAT, MESSAGES, MESSAGES, MESSAGES, CHAT]);
  await server.close();
  return { file, result };
}

async function divergence(file: string, a: Agent, options: ReplayOptions = {}): Promise<ReplayDivergenceError> {
  const error = await offline(() => replayTrace(file, a, options)).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ReplayDivergenceError);
  return error as ReplayDivergenceError;
}

describe('replay of a fallback() run', () => {
  it('reads each step as the failed Claude call, then the GPT call it went on with', async () => {
    const { file } = await recordFallbackRun();
    const [run] = await readRecording(file);
    expect(run?.model).toBe('claude-sonnet-4-0');
    expect(run?.steps.map((s) => s.modelCalls.map((c) => [c.provider, c.model, c.error ?? c.response?.finishReason]))).toEqual([
      [['anthropic', 'claude-sonnet-4-0', 'overloaded'], ['openai', 'gpt-4o-mini', 'tool_calls']],
      [['anthropic', 'claude-sonnet-4-0', 'overloaded'], ['openai', 'gpt-4o-mini', 'stop']],
    ]);
    // The failed call sent what the next model was sent.
    const [failed, served] = run!.steps[1]!.modelCalls;
    expect(failed?.request).toEqual(served?.request);
  });

  it('reproduces the outcome and the span tree offline: Claude fails through its retries again, GPT is served', async () => {
    const { file, result } = await recordFallbackRun();
    expect(result.output).toContain('London');

    const { replay, collector } = await replayTraced(file, today([claude(), gpt('gpt-4o-mini')]));

    expect(replay.differences).toEqual([]);
    expect(replay.matched).toBe(true);
    expectSameRun(replay.result, result);
    const [run] = await readRecording(file);
    expectSameRun(replay.result, run!);
    // Two chat spans per step, the failed one with its error, retry events and no cost.
    expect(collectedShape(collector)).toEqual(await recordedShape(file, result.traceId));
    const chats = collector.spans().filter((s) => s.name.startsWith('chat '));
    expect(chats.map((s) => [s.name, s.attributes[ATTR.errorType], s.events.filter((e) => e.name === EVENT.retry).length])).toEqual([
      ['chat claude-sonnet-4-0', 'overloaded', 2],
      ['chat gpt-4o-mini', undefined, 0],
      ['chat claude-sonnet-4-0', 'overloaded', 2],
      ['chat gpt-4o-mini', undefined, 0],
    ]);
    expect(chats.filter((s) => s.attributes[ATTR.costAmount] !== undefined).map((s) => s.name)).toEqual(['chat gpt-4o-mini', 'chat gpt-4o-mini']);
    expect(collector.open()).toEqual([]);
  });

  it('an agent that no longer falls back diverges at step 1, naming the model the recording went on with', async () => {
    const { file } = await recordFallbackRun();
    for (const mode of ['strict', 'lenient'] as const) {
      const error = await divergence(file, today([claude()]), { mode });
      expect(error.differences.map((d) => ({ kind: d.kind, step: d.step, values: d.values }))).toEqual([
        { kind: 'fallback', step: 1, values: [{ path: 'fallback', recorded: 'openai:gpt-4o-mini', actual: undefined }] },
      ]);
      expect(error.report).toContain(
        "step 1: the call to anthropic:claude-sonnet-4-0 failed (overloaded) and the recording went on with openai:gpt-4o-mini; today's agent does not fall back",
      );
    }
  });

  it('a fallback that no longer moves on for the recorded error kind diverges the same way', async () => {
    const { file } = await recordFallbackRun();
    const error = await divergence(file, today([claude(), gpt('gpt-4o-mini')], { on: ['rate_limit'] }));
    expect(error.differences.map((d) => [d.kind, d.step])).toEqual([['fallback', 1]]);
  });

  it('a fallback to another model: strict replay stops at step 1, lenient lists each step and goes on with the recorded answers', async () => {
    const { file, result } = await recordFallbackRun();
    const changed = today([claude(), gpt('gpt-4.1')]);

    const error = await divergence(file, changed);
    expect(error.differences.map((d) => ({ kind: d.kind, step: d.step, values: d.values }))).toEqual([
      { kind: 'request.model', step: 1, values: [{ path: 'model', recorded: 'openai:gpt-4o-mini', actual: 'openai:gpt-4.1' }] },
    ]);
    expect(error.report).toContain('step 1: the call goes to openai:gpt-4.1, the recorded one went to openai:gpt-4o-mini');

    const { replay } = await replayTraced(file, changed, { mode: 'lenient' });
    expect(replay.differences.map((d) => [d.kind, d.step])).toEqual([
      ['request.model', 1],
      ['request.model', 2],
    ]);
    expect(replay.result.output).toBe(result.output);
  });

  it('an agent that tries another model first diverges at its first call', async () => {
    const { file } = await recordFallbackRun();
    const error = await divergence(file, today([gpt('gpt-4.1'), claude(), gpt('gpt-4o-mini')]));
    expect(error.differences.map((d) => ({ kind: d.kind, step: d.step, values: d.values }))).toEqual([
      { kind: 'request.model', step: 1, values: [{ path: 'model', recorded: 'anthropic:claude-sonnet-4-0', actual: 'openai:gpt-4.1' }] },
    ]);
  });
});

// ---- a sub-agent that fell back (scripted models) ----

const overloaded = () => ({ error: new ModelCallError('anthropic overloaded (HTTP 529): Overloaded', { kind: 'overloaded', provider: 'anthropic', status: 529 }) });
const claudeDown = () => scriptedModel({ provider: 'anthropic', modelId: 'claude-sonnet-4-5', respond: overloaded });
const gptFacts = () => scriptedModel({ provider: 'openai', modelId: 'gpt-4.1-mini', respond: () => ({ text: 'Owls turn their heads 270 degrees.', usage: { inputTokens: 40, outputTokens: 9 } }) });

/** The desk asks its researcher (a sub-agent on `researcherModel`), then answers with what it found. */
function desk(researcherModel: Model): Agent {
  const researcher = agent({ name: 'researcher', instructions: 'Answer with one fact.', model: researcherModel });
  const deskModel = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const found = request.messages.find((m) => m.role === 'tool');
      if (!found) return { toolCalls: [{ id: 'call_research', name: 'researcher', arguments: { input: 'a fact about owls' } }], usage: { inputTokens: 60, outputTokens: 12 } };
      return { text: `Did you know? ${found.content}`, usage: { inputTokens: 110, outputTokens: 18 } };
    },
  });
  return agent({ name: 'desk', instructions: 'Ask the researcher.', model: deskModel, tools: [researcher.asTool({ description: 'Researches a question.' })] });
}

describe('replay of a sub-agent that fell back', () => {
  it('matches when the sub-agent still falls back; one that no longer does diverges inside its sub-run', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'tracebound-replay-fallback-')), 'recording.jsonl');
    const { result } = await recordRun(desk(fallback([claudeDown(), gptFacts()])), 'Tell me about owls.', { traceFile: file, retry: { initialDelayMs: 1, maxDelayMs: 20 } });
    expect(result.output).toBe('Did you know? Owls turn their heads 270 degrees.');

    const { replay } = await replayTraced(file, desk(fallback([claudeDown(), gptFacts()])));
    expect(replay.differences).toEqual([]);
    expectSameRun(replay.result, result);

    const error = await divergence(file, desk(claudeDown()));
    expect(error.differences.map((d) => ({ kind: d.kind, step: d.step, within: d.within }))).toEqual([
      { kind: 'fallback', step: 1, within: [{ step: 1, toolCallId: 'call_research', agent: 'researcher' }] },
    ]);
    expect(error.report).toContain('step 1 > researcher (call_research) step 1: the call to anthropic:claude-sonnet-4-5 failed (overloaded)');
  });
});
