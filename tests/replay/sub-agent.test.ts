/**
 * Replay of a run with a sub-agent (`agent.asTool()`): the recorded sub-run is read into its tool
 * call (not a run of its own), and replay runs today's sub-agent on it, comparing its requests, so a
 * change inside the sub-agent is a difference placed in the sub-run. Scripted models, real spans.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent, type Agent } from '../../src/agent.js';
import { readRecording } from '../../src/replay/read.js';
import { ReplayDivergenceError, replayTrace } from '../../src/replay/replay.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { recordRun } from '../../src/testing/record.js';
import { scriptedModel, type ScriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectedShape, expectSameRun, offline, recordedShape, replayTraced } from './support.js';

const MODEL = { provider: 'openai', modelId: 'gpt-4o-mini' } as const;

/** The researcher looks a fact up with its `lookup` tool, then answers with it. */
function researcherModel(): ScriptedModel {
  return scriptedModel({
    ...MODEL,
    respond: (request) => {
      const found = request.messages.find((m) => m.role === 'tool');
      if (!found) return { toolCalls: [{ id: 'call_lookup', name: 'lookup', arguments: { topic: 'owls' } }], usage: { inputTokens: 90, outputTokens: 15 } };
      return { text: `Fact: ${found.content}`, usage: { inputTokens: 140, outputTokens: 20 } };
    },
  });
}

/** The writer asks the researcher, then writes one line with its answer. */
function writerModel(): ScriptedModel {
  return scriptedModel({
    ...MODEL,
    respond: (request) => {
      const answer = request.messages.find((m) => m.role === 'tool');
      if (!answer) return { toolCalls: [{ id: 'call_research', name: 'researcher', arguments: { input: 'a fact about owls' } }], usage: { inputTokens: 60, outputTokens: 12 } };
      return { text: `Did you know? ${answer.content}`, usage: { inputTokens: 110, outputTokens: 18 } };
    },
  });
}

interface Options {
  researcherInstructions?: string;
  fact?: string;
  researcher?: ScriptedModel;
  writer?: ScriptedModel;
  researcherMaxSteps?: number;
  lookups?: string[];
}

function writer(o: Options = {}): Agent {
  const lookup = tool({
    name: 'lookup',
    description: 'Looks a topic up.',
    parameters: z.object({ topic: z.string() }),
    execute: ({ topic }) => (o.lookups?.push(topic), o.fact ?? 'owls turn their heads 270 degrees'),
  });
  const researcher = agent({
    name: 'researcher',
    instructions: o.researcherInstructions ?? 'Find one fact with lookup.',
    model: o.researcher ?? researcherModel(),
    tools: [lookup],
    ...(o.researcherMaxSteps !== undefined ? { budget: { maxSteps: o.researcherMaxSteps, onLimit: 'finish' as const } } : {}),
  });
  return agent({
    name: 'writer',
    instructions: 'Write one line; ask the researcher for facts.',
    model: o.writer ?? writerModel(),
    tools: [researcher.asTool({ description: 'Researches a question.' })],
  });
}

async function record() {
  const file = join(await mkdtemp(join(tmpdir(), 'tracebound-subrun-')), 'recording.jsonl');
  const { result } = await recordRun(writer(), 'Write about owls', { traceFile: file });
  return { file, result };
}

describe('reading a recording with a sub-run', () => {
  it('reads one run; the sub-run is the researcher tool call\'s, with its own steps, input and usage', async () => {
    const { file, result } = await record();
    const runs = await readRecording(file);
    expect(runs.map((r) => r.agentName)).toEqual(['writer']);
    const [run] = runs;
    const call = run!.steps[0]!.toolCalls[0]!;
    expect(call.name).toBe('researcher');
    expect(call.result).toBe('Fact: owls turn their heads 270 degrees');
    const sub = call.subRun!;
    expect(sub.agentName).toBe('researcher');
    expect(sub.input).toBe('a fact about owls');
    expect(sub.output).toBe(call.result);
    expect(sub.steps.map((s) => s.toolCalls.map((c) => [c.name, c.result]))).toEqual([[['lookup', 'owls turn their heads 270 degrees']], []]);
    expect(sub.usage).toMatchObject({ inputTokens: 230, outputTokens: 35 });
    // The writer's totals hold the researcher's calls too.
    expect(run!.usage).toMatchObject({ inputTokens: 60 + 110 + 230, outputTokens: 12 + 18 + 35 });
    expect(run!.usage).toEqual(result.usage);
  });
});

describe('replaying a run with a sub-run', () => {
  it('runs today\'s sub-agent on its recorded chats: same result and span tree, no model or tool called', async () => {
    const { file, result } = await record();
    const researcher = researcherModel();
    const writerM = writerModel();
    const lookups: string[] = [];
    const { replay, collector } = await replayTraced(file, writer({ researcher, writer: writerM, lookups }));
    expect(replay.differences).toEqual([]);
    expect(replay.matched).toBe(true);
    expectSameRun(replay.result, result);
    expect([researcher.requests, writerM.requests, lookups]).toEqual([[], [], []]);
    const shape = collectedShape(collector);
    expect(shape).toEqual(await recordedShape(file, result.traceId));
    expect(JSON.stringify(shape)).toContain('"name":"invoke_agent researcher"');
    expect(collector.open()).toEqual([]);
  });

  it('a changed sub-agent prompt: strict replay stops, placing the difference in the sub-run', async () => {
    const { file } = await record();
    const collector = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: collector.tracerProvider, captureContent: true });
    const error = await offline(() => replayTrace(file, writer({ researcherInstructions: 'Find two facts.' }), { runtime })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    const { differences, report } = error as ReplayDivergenceError;
    expect(differences).toEqual([
      {
        kind: 'request.system',
        step: 1,
        within: [{ step: 1, toolCallId: 'call_research', agent: 'researcher' }],
        summary: 'the system prompt differs',
        values: [{ path: 'system', recorded: 'Find one fact with lookup.', actual: 'Find two facts.' }],
      },
    ]);
    expect(report).toContain('step 1 > researcher (call_research) step 1: the system prompt differs');
    expect(report).toMatch(/run [0-9a-f]{32} \(agent writer\)/);
    // The writer did not go on with an error result for its tool call: the whole run stopped.
    const steps = collector.spans().filter((s) => s.attributes[ATTR.operation] === 'step' && s.attributes[ATTR.agentName] !== 'researcher');
    expect(steps.map((s) => s.name)).toEqual(['step 1']);
    expect(collector.open()).toEqual([]);
  });

  it('lenient replay lists a sub-run\'s differences and the writer\'s that follow from them', async () => {
    const { file } = await record();
    const lookups: string[] = [];
    const { replay } = await replayTraced(file, writer({ fact: 'owls hoot', lookups }), { mode: 'lenient', liveTools: ['lookup'] });
    // The lookup ran live inside the replayed sub-run, and its new result reached the researcher's model.
    expect(lookups).toEqual(['owls']);
    expect(replay.matched).toBe(false);
    expect(replay.differences.map((d) => [d.within?.map((w) => w.agent) ?? [], d.step, d.kind, d.values[0]?.path])).toEqual([
      [['researcher'], 2, 'request.messages', 'messages[2].parts[0].response'],
    ]);
    // Served from the recording, the researcher's answer (and so the writer's) is unchanged.
    expect(replay.result.output).toBe('Did you know? Fact: owls turn their heads 270 degrees');
  });

  it('a sub-agent that now stops earlier: a steps difference in its sub-run', async () => {
    const { file } = await record();
    const error = await offline(() => replayTrace(file, writer({ researcherMaxSteps: 1 }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    const [first] = (error as ReplayDivergenceError).differences;
    expect(first).toMatchObject({ kind: 'steps', step: 2, within: [{ step: 1, toolCallId: 'call_research', agent: 'researcher' }] });
    expect((error as ReplayDivergenceError).report).toContain('step 1 > researcher (call_research) step 2: today\'s sub-run stopped (graceful_limit) after 1 model calls; the recording has 2');
  });

  it('--live-tools naming the sub-agent still runs it on its recorded chats (its model is never called)', async () => {
    const { file, result } = await record();
    const researcher = researcherModel();
    const lookups: string[] = [];
    const { replay } = await replayTraced(file, writer({ researcher, lookups }), { liveTools: ['researcher'] });
    expect(replay.matched).toBe(true);
    expectSameRun(replay.result, result);
    expect([researcher.requests, lookups]).toEqual([[], []]);
  });
});
