/** `tracebound replay <trace-file> --agent <module> [--lenient] [--run <id>] [--live-tools [names...]]`, in process. */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recordRun } from '../../src/testing/record.js';
import { runCli, tempDir } from './fixture.js';
import { greeter, weather } from './replay-agents.js';

const AGENTS = fileURLToPath(new URL('./replay-agents.ts', import.meta.url));

/** A recording with two weather runs and a greeter run between them, and agent modules. */
async function setup() {
  const dir = await tempDir();
  const file = join(dir, 'traces.jsonl');
  const paris = await recordRun(weather(), 'Paris', { traceFile: file });
  const hello = await recordRun(greeter(), 'Hi', { traceFile: file });
  const oslo = await recordRun(weather(), 'Oslo', { traceFile: file });
  const module = async (name: string, factory: 'greeter' | 'weather', args = '') => {
    const path = join(dir, name);
    await writeFile(path, `import { ${factory} } from ${JSON.stringify(AGENTS)};\nexport default ${factory}(${args});\n`);
    return path;
  };
  return {
    dir,
    file,
    traces: { paris: paris.result.traceId, hello: hello.result.traceId, oslo: oslo.result.traceId },
    same: await module('same.ts', 'weather'),
    changed: await module('changed.ts', 'weather', "'Answer in French.'"),
    changedTool: await module('changed-tool.ts', 'weather', "undefined, 'rainy'"),
    greeting: await module('greeting.ts', 'greeter'),
  };
}

describe('tracebound replay', () => {
  it('exits 0 and prints a match line for every run of the agent', async () => {
    const s = await setup();
    const result = await runCli(['replay', s.file, '--agent', s.same]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual([
      `✓ matched run ${s.traces.paris} (agent weather, ${s.file}:1): 2 steps, 1 tool call`,
      expect.stringMatching(new RegExp(`^✓ matched run ${s.traces.oslo} \\(agent weather, ${s.file}:\\d+\\): 2 steps, 1 tool call$`)),
      '',
    ]);
    const greeting = await runCli(['replay', s.file, '--agent', s.greeting]);
    expect(greeting.code).toBe(0);
    expect(greeting.stdout).toContain(`✓ matched run ${s.traces.hello} (agent greeter`);
  });

  it('replays only the run --run names', async () => {
    const s = await setup();
    const result = await runCli(['replay', s.file, '--agent', s.same, '--run', s.traces.oslo]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^✓ matched run ${s.traces.oslo} .*\n$`));
  });

  it('exits 1 with the report on divergence; strict stops at the first difference, lenient lists them all', async () => {
    const s = await setup();
    const strict = await runCli(['replay', s.file, '--agent', s.changed, '--run', s.traces.paris]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toBe('');
    expect(strict.stdout).toBe(
      [
        `✗ replay diverged from ${s.file}:1 run ${s.traces.paris} (agent weather): 1 difference`,
        '  step 1: the system prompt differs',
        '    system',
        '      recorded: "Answer with the weather."',
        '      actual:   "Answer in French."',
        '',
      ].join('\n'),
    );
    const lenient = await runCli(['replay', s.file, '--agent', s.changed, '--lenient']);
    expect(lenient.code).toBe(1);
    expect(lenient.stdout.match(/^✗ replay diverged from .*: 2 differences$/gm)).toHaveLength(2);
    expect(lenient.stdout.match(/step 2: the system prompt differs/g)).toHaveLength(2);
  });

  it('checks a changed tool only with --live-tools (all tools, or the tools named)', async () => {
    const s = await setup();
    const recorded = await runCli(['replay', s.file, '--agent', s.changedTool, '--run', s.traces.paris]);
    expect(recorded.code).toBe(0);
    expect(recorded.stdout).toMatch(/^✓ matched run /);

    const report = [
      `✗ replay diverged from ${s.file}:1 run ${s.traces.paris} (agent weather): 1 difference`,
      '  step 2: the messages sent to the model differ',
    ];
    for (const argv of [
      ['replay', s.file, '--agent', s.changedTool, '--run', s.traces.paris, '--live-tools'],
      ['replay', s.file, '--live-tools', 'lookup', '--agent', s.changedTool, '--run', s.traces.paris],
      ['replay', s.file, '--agent', s.changedTool, '--live-tools', 'lookup', '--run', s.traces.paris],
    ]) {
      const live = await runCli(argv);
      expect(live.stderr, argv.join(' ')).toBe('');
      expect(live.code, argv.join(' ')).toBe(1);
      expect(live.stdout.split('\n').slice(0, 2), argv.join(' ')).toEqual(report);
      expect(live.stdout).toContain('recorded: "sunny in Paris"');
      expect(live.stdout).toContain('actual:   "rainy in Paris"');
    }
  });

  it('--live-tools never takes the trace file: a name the agent lacks is bad usage saying where the file goes', async () => {
    const s = await setup();
    const swallowed = await runCli(['replay', '--live-tools', s.file, '--agent', s.changedTool]);
    expect(swallowed.code).toBe(2);
    expect(swallowed.stdout).toBe('');
    expect(swallowed.stderr).toMatch(/missing required argument 'trace-file'/);

    const unknown = await runCli(['replay', s.file, '--agent', s.changedTool, '--live-tools', 'lookup', 'forecast']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      'tracebound replay: --live-tools: agent "weather" has no tool "forecast" (its tools: lookup); ' +
        'put the trace file before --live-tools: tracebound replay <trace-file> --agent <module> --live-tools [names...]\n',
    );
  });

  it('exits 2 on bad input, saying what is wrong', async () => {
    const s = await setup();
    const missing = await runCli(['replay', join(s.dir, 'nope.jsonl'), '--agent', s.same]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^tracebound replay: .*nope\.jsonl: no such file/);

    const malformed = join(s.dir, 'malformed.jsonl');
    await writeFile(malformed, '');
    await appendFile(malformed, '{"resourceSpans": [}\n');
    const bad = await runCli(['replay', malformed, '--agent', s.same]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/malformed\.jsonl: line 1: .*not JSON/);

    const noRun = await runCli(['replay', s.file, '--agent', s.same, '--run', 'abc']);
    expect(noRun.code).toBe(2);
    expect(noRun.stderr).toContain('no run abc in the recording');

    const stranger = join(s.dir, 'stranger.ts');
    await writeFile(stranger, `import { agent } from ${JSON.stringify(fileURLToPath(new URL('../../src/agent.ts', import.meta.url)))};\nimport { scriptedModel } from ${JSON.stringify(fileURLToPath(new URL('../../src/testing/scripted-model.ts', import.meta.url)))};\nexport default agent({ name: 'stranger', instructions: '', model: scriptedModel({ respond: [] }) });\n`);
    const noAgentRun = await runCli(['replay', s.file, '--agent', stranger]);
    expect(noAgentRun.code).toBe(2);
    expect(noAgentRun.stderr).toMatch(/has no run of agent "stranger"; runs: .*\(weather\), .*\(greeter\), .*\(weather\)\. Pick one with --run/);

    const noAgent = join(s.dir, 'no-agent.ts');
    await writeFile(noAgent, 'export const x = 1;\n');
    const notAgent = await runCli(['replay', s.file, '--agent', noAgent]);
    expect(notAgent.code).toBe(2);
    expect(notAgent.stderr).toMatch(/no default-exported agent/);

    const usage = await runCli(['replay', s.file]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/required option '--agent <agent-module>' not specified/);
  });
});
