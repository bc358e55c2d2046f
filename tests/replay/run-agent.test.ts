/**
 * Replay of a run whose own tool starts sub-runs with `context.runAgent` (not `agent.asTool()`):
 * the recorded sub-runs are read into the tool call, and replay runs the tool's code with each
 * `runAgent` replaying the next recorded sub-run against today's sub-agent, so a change in the
 * sub-agent is a difference placed in its sub-run. Also: a partial export, where a sub-run's tool
 * span is missing. Recorded with the file exporter (`recordRun`), scripted models, real spans.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readRecording } from '../../src/replay/read.js';
import { ReplayDivergenceError, replayTrace } from '../../src/replay/replay.js';
import { recordRun } from '../../src/testing/record.js';
import { runCli } from '../cli/fixture.js';
import { editor, editorModel, researcherModel } from './run-agent-agents.js';
import { collectedShape, expectSameRun, offline, recordedShape, replayTraced } from './support.js';

async function record() {
  const file = join(await mkdtemp(join(tmpdir(), 'tracebound-runagent-')), 'recording.jsonl');
  const { result } = await recordRun(editor().editor, 'Brief me on owls and bats', { traceFile: file });
  return { file, result };
}

const PLACE = { step: 1, toolCallId: 'call_brief', agent: 'researcher' } as const;

describe('reading a recording whose tool called context.runAgent', () => {
  it('reads one run; the brief call holds both sub-runs in order, each with its parent run id', async () => {
    const { file, result } = await record();
    expect(result.output).toBe('Brief: Fact: owls are nocturnal / Fact: bats are nocturnal');
    const runs = await readRecording(file);
    expect(runs.map((r) => r.agentName)).toEqual(['editor']);
    const call = runs[0]!.steps[0]!.toolCalls[0]!;
    expect(call.name).toBe('brief');
    expect(call.subRuns?.map((s) => [s.agentName, s.input, s.output, s.parentRunId])).toEqual([
      ['researcher', 'owls', 'Fact: owls are nocturnal', result.runId],
      ['researcher', 'bats', 'Fact: bats are nocturnal', result.runId],
    ]);
    expect(call.subRun).toBe(call.subRuns?.[0]);
    expect(runs[0]!.parentRunId).toBeUndefined();
  });
});

describe('replaying a run whose tool called context.runAgent', () => {
  it('unchanged: runs the tool with both sub-runs fed from the recording; same result and span tree, no model or lookup called', async () => {
    const { file, result } = await record();
    const researcher = researcherModel();
    const editorM = editorModel();
    const lookups: string[] = [];
    const { replay, collector } = await replayTraced(file, editor({ researcher, editor: editorM, lookups }).editor);
    expect(replay.differences).toEqual([]);
    expectSameRun(replay.result, result);
    expect([researcher.requests, editorM.requests, lookups]).toEqual([[], [], []]);
    const shape = collectedShape(collector);
    expect(shape).toEqual(await recordedShape(file, result.traceId));
    expect(JSON.stringify(shape).match(/"name":"invoke_agent researcher"/g)).toHaveLength(2);
    expect(collector.open()).toEqual([]);
  });

  it('a changed sub-agent prompt: strict replay stops in the first sub-run', async () => {
    const { file } = await record();
    const error = await offline(() => replayTrace(file, editor({ researcherInstructions: 'Find two facts.' }).editor)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    const { differences, report } = error as ReplayDivergenceError;
    expect(differences).toEqual([
      {
        kind: 'request.system',
        step: 1,
        within: [{ ...PLACE, index: 1 }],
        summary: 'the system prompt differs',
        values: [{ path: 'system', recorded: 'Find one fact with lookup.', actual: 'Find two facts.' }],
      },
    ]);
    expect(report).toContain('step 1 > researcher#1 (call_brief) step 1: the system prompt differs');
  });

  it('lenient: each sub-run reports the change; the tool\'s result is still the recorded one', async () => {
    const { file, result } = await record();
    const { replay } = await replayTraced(file, editor({ researcherInstructions: 'Find two facts.' }).editor, { mode: 'lenient' });
    expect(replay.differences.map((d) => [d.within, d.step, d.kind])).toEqual([
      [[{ ...PLACE, index: 1 }], 1, 'request.system'],
      [[{ ...PLACE, index: 1 }], 2, 'request.system'],
      [[{ ...PLACE, index: 2 }], 1, 'request.system'],
      [[{ ...PLACE, index: 2 }], 2, 'request.system'],
    ]);
    expect(replay.result.output).toBe(result.output);
  });

  it('a changed tool: served, the recorded result reaches the editor; live (liveTools), today\'s does and differs', async () => {
    const { file, result } = await record();
    const changed = () => editor({ separator: '; ' }).editor;
    const { replay: served } = await replayTraced(file, changed());
    const briefResult = (r: typeof result) => r.messages.find((m) => m.role === 'tool')?.content;
    expect(served.differences).toEqual([]);
    expect(briefResult(served.result)).toBe('Fact: owls are nocturnal / Fact: bats are nocturnal');

    const { replay: live } = await replayTraced(file, changed(), { mode: 'lenient', liveTools: ['brief'] });
    expect(briefResult(live.result)).toBe('Fact: owls are nocturnal; Fact: bats are nocturnal');
    // The editor's answer is its recorded one: its model is served from the recording.
    expect(live.result.output).toBe(result.output);
    expect(live.differences.map((d) => [d.within, d.step, d.kind, d.values[0]?.path, d.values[0]?.actual])).toEqual([
      [undefined, 2, 'request.messages', 'messages[2].parts[0].response', 'Fact: owls are nocturnal; Fact: bats are nocturnal'],
    ]);
  });

  it('a tool that now starts fewer sub-runs, more, or of another agent: a sub-runs difference on its call', async () => {
    const { file } = await record();
    const { replay } = await replayTraced(file, editor({ topics: (t) => t.slice(0, 1) }).editor, { mode: 'lenient' });
    expect(replay.differences).toEqual([
      {
        kind: 'sub-runs',
        step: 1,
        summary: 'today\'s tool "brief" started 1 sub-runs, the recorded call started 2',
        values: [{ path: 'brief(call_brief).subRuns', recorded: 2, actual: 1 }],
      },
    ]);

    const { replay: renamed } = await replayTraced(file, editor({ researcherName: 'analyst' }).editor, { mode: 'lenient' });
    expect(renamed.differences.map((d) => [d.kind, d.summary, d.values])).toEqual(
      [0, 1].map((n) => [
        'sub-runs',
        'today\'s tool "brief" runs agent "analyst" where the recording ran "researcher"',
        [{ path: `brief(call_brief).subRuns[${n}].agent`, recorded: 'researcher', actual: 'analyst' }],
      ]),
    );

    const error = await offline(() => replayTrace(file, editor({ topics: (t) => [...t, 'moths'] }).editor, { mode: 'lenient' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    expect((error as ReplayDivergenceError).report).toContain('step 1: today\'s tool "brief" starts sub-run 3 (agent researcher), the recorded call started 2');
  });
});

describe('a live tool whose recorded call started no sub-run', () => {
  it('served, it matches; live, a runAgent call stops the replay instead of reaching the sub-agent\'s model', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'tracebound-runagent-')), 'recording.jsonl');
    await recordRun(editor({ topics: () => [] }).editor, 'Brief me on owls and bats', { traceFile: file });
    const { replay } = await replayTraced(file, editor().editor);
    expect(replay.differences).toEqual([]);

    const researcher = researcherModel();
    const error = await offline(() => replayTrace(file, editor({ researcher }).editor, { mode: 'lenient', liveTools: ['brief'] })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayDivergenceError);
    expect((error as ReplayDivergenceError).differences).toEqual([
      {
        kind: 'sub-runs',
        step: 1,
        summary: 'today\'s tool "brief" starts sub-run 1 (agent researcher), the recorded call started 0',
        values: [{ path: 'brief(call_brief).subRuns', recorded: 0, actual: 1 }],
      },
    ]);
    expect(researcher.requests).toEqual([]);
  });
});

describe('tracebound replay --live-tools, for a tool of a sub-agent started by context.runAgent', () => {
  it('takes the name from the recorded sub-runs and runs that tool live in each', async () => {
    const { file } = await record();
    const module = join(dirname(file), 'editor.ts');
    const agents = fileURLToPath(new URL('./run-agent-agents.ts', import.meta.url));
    await writeFile(module, `import { editor } from ${JSON.stringify(agents)};\nexport default editor({ fact: 'hunt at night' }).editor;\n`);
    // Served, the changed lookup is not called: the run matches.
    const served = await runCli(['replay', file, '--agent', module]);
    expect([served.code, served.stderr]).toEqual([0, '']);
    const live = await runCli(['replay', file, '--agent', module, '--lenient', '--live-tools', 'lookup']);
    expect([live.code, live.stderr]).toEqual([1, '']);
    expect(live.stdout).toContain('step 1 > researcher#1 (call_brief) step 2: the messages sent to the model differ');
    expect(live.stdout).toContain('      actual:   "owls hunt at night"');
    expect(live.stdout).toContain('step 1 > researcher#2 (call_brief) step 2: the messages sent to the model differ');
  });
});

describe('a partial export: a sub-run whose tool span is not in the file', () => {
  /** The file without the `execute_tool brief` span, as an export that lost it would be. */
  async function withoutToolSpan(file: string): Promise<string> {
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((line) => JSON.parse(line) as OtlpRequest);
    for (const request of lines) {
      for (const resource of request.resourceSpans) {
        for (const scope of resource.scopeSpans) scope.spans = scope.spans.filter((span) => span.name !== 'execute_tool brief');
      }
    }
    const partial = file.replace(/\.jsonl$/, '.partial.jsonl');
    await writeFile(partial, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    return partial;
  }

  it('reads each sub-run as a run of the file marked with the calling run\'s id, replayable on its own', async () => {
    const { file, result } = await record();
    const partial = await withoutToolSpan(file);
    const runs = await readRecording(partial);
    expect(runs.map((r) => [r.agentName, r.parentRunId])).toEqual([
      ['editor', undefined],
      ['researcher', result.runId],
      ['researcher', result.runId],
    ]);
    // The calling run lacks the call whose span is gone.
    expect(runs[0]!.steps[0]!.toolCalls).toEqual([]);
    const [, owls] = runs;
    const lookups: string[] = [];
    const { replay } = await replayTraced(partial, editor({ lookups }).researcher, { runId: owls!.spanId });
    expect(replay.differences).toEqual([]);
    expect(replay.result.output).toBe('Fact: owls are nocturnal');
    expect(lookups).toEqual([]);
    expect(replay.result.usage).toEqual(owls!.usage);
  });
});

/** The part of an OTLP/JSON `ExportTraceServiceRequest` the partial export edits. */
interface OtlpRequest {
  resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
}
