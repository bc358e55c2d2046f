/** The vitest matchers of `tracebound/testing/vitest`, on real recordings, runs and collectors. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { traceboundMatchers } from '../../src/testing/matchers.js';
import { recordRun } from '../../src/testing/record.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import '../../src/testing/vitest.js';
import { tool } from '../../src/tool.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

function adder(instructions = 'Add with the tool.', provider = 'openai') {
  const add = tool({
    name: 'add',
    description: 'Adds two numbers.',
    parameters: z.object({ a: z.number(), b: z.number() }),
    execute: ({ a, b }) => String(a + b),
  });
  return agent({
    name: 'adder',
    instructions,
    tools: [add],
    model: scriptedModel({
      provider,
      modelId: 'gpt-4o-mini',
      respond: [
        { toolCalls: [{ id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } }], usage: { inputTokens: 100, outputTokens: 20 } },
        { text: 'The answer is 3.', usage: { inputTokens: 130, outputTokens: 8 } },
      ],
    }),
  });
}

async function recording(): Promise<string> {
  const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-matchers-')), 'recording.jsonl');
  await recordRun(adder(), '1 + 2?', { traceFile });
  return traceFile;
}

describe('toMatchRecording', () => {
  it('passes when the agent replays its recording, and fails with the divergence report when not', async () => {
    const file = await recording();
    await expect(adder()).toMatchRecording(file);
    await expect(adder('Be terse.')).not.toMatchRecording(file);
    await expect(expect(adder('Be terse.')).toMatchRecording(file)).rejects.toThrow(
      /replay diverged from .* 1 difference\n {2}step 1: the system prompt differs\n {4}system\n {6}recorded: "Add with the tool\."\n {6}actual: {3}"Be terse\."/,
    );
    await expect(expect(adder()).not.toMatchRecording(file)).rejects.toThrow(/expected agent "adder" to diverge from .*, but replay matched/);
  });

  it('lists every difference in lenient mode', async () => {
    const file = await recording();
    const changed = agent({ ...adder('Be terse.'), tools: [] });
    await expect(expect(changed).toMatchRecording(file, { mode: 'lenient' })).rejects.toThrow(
      /6 differences\n {2}step 1: the recording calls tool "add", which today's agent does not have\n[^]*step 2: the messages sent to the model differ/,
    );
  });

  it('throws on what is not an agent, and on a bad file', async () => {
    await expect(expect({ name: 'x' }).toMatchRecording('nope.jsonl')).rejects.toThrow(/toMatchRecording: expected an agent/);
    await expect(expect(adder()).toMatchRecording(join(tmpdir(), 'no-such-recording.jsonl'))).rejects.toThrow(/no such file/);
  });
});

describe('toCostLessThan and toHaveCalledTool', () => {
  it('check a run result', async () => {
    const result = await createRuntime().run(adder(), '1 + 2?');
    expect(result).toCostLessThan(0.001);
    expect(result).not.toCostLessThan(result.costUsd ?? 0);
    expect(() => expect(result).toCostLessThan(0.00001)).toThrow(/expected the run's cost \$0\.0000\d+ to be less than \$0\.00001/);

    expect(result).toHaveCalledTool('add');
    expect(result).toHaveCalledTool('add', { a: 1, b: 2 });
    expect(result).toHaveCalledTool('add', expect.objectContaining({ a: 1 }));
    expect(result).not.toHaveCalledTool('add', { a: 2, b: 2 });
    expect(result).not.toHaveCalledTool('subtract');
    expect(() => expect(result).toHaveCalledTool('add', { a: 9 })).toThrow(/to have called tool add\(\{"a":9\}\); it called:\n {2}add\(\{"a":1,"b":2\}\)/);
  });

  it('fail on a run without a known price, and on what is not a run result', async () => {
    const result = await createRuntime().run(adder('Add.', 'unpriced-provider'), '1 + 2?');
    expect(result.costUsd).toBeUndefined();
    expect(() => expect(result).toCostLessThan(1)).toThrow(/has no cost: one of its models has no known price/);
    expect(() => expect(42).toHaveCalledTool('add')).toThrow(/toHaveCalledTool: expected a run result, received number/);
  });
});

describe('toHaveNoOpenSpans', () => {
  it('passes when every span ended, and names the spans still open', async () => {
    const collector = collectSpans();
    await tracedRuntime({ tracerProvider: collector.tracerProvider }).run(adder(), '1 + 2?');
    expect(collector).toHaveNoOpenSpans();
    const dangling = collector.tracerProvider.getTracer('test').startSpan('dangling');
    expect(() => expect(collector).toHaveNoOpenSpans()).toThrow('expected every span to have ended; still open: dangling');
    expect(collector).not.toHaveNoOpenSpans();
    dangling.end();
    expect(collector).toHaveNoOpenSpans();
    expect(collector.open()).toEqual([]);
  });
});

describe('traceboundMatchers', () => {
  it('is a plain object of matchers for expect.extend, without importing vitest', () => {
    expect(Object.keys(traceboundMatchers).sort()).toEqual(['toCostLessThan', 'toHaveCalledTool', 'toHaveNoOpenSpans', 'toMatchRecording']);
  });
});
