/** `tracebound diff <baseline> <candidate> [--run-a] [--run-b] [--fail-on]`, in process, on files recorded by real runs. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { recordRun } from '../../src/testing/record.js';
import { RULE_GRAMMAR } from '../../src/viewer/diff.js';
import { greeter, weather, type WeatherVariant } from '../viewer/agents.js';
import { CHILD_PROCESS_TEST_MS } from '../support/timeouts.js';
import { recordWeatherRun, runCli, tempDir, writeTemp } from './fixture.js';

/** Records runs of the weather agent (or the greeter) into a fresh trace file; returns it and the run ids. */
async function record(runs: [WeatherVariant | 'greeter', string][]): Promise<{ file: string; ids: string[] }> {
  const file = join(await tempDir(), 'traces.jsonl');
  const ids: string[] = [];
  for (const [variant, input] of runs) {
    const { result } = await recordRun(variant === 'greeter' ? greeter() : weather(variant), input, { traceFile: file });
    ids.push(result.runId);
  }
  return { file, ids };
}

describe('tracebound diff', () => {
  it('prints a table per pair of runs, paired by input, and exits 0 without rules', async () => {
    const main = await record([[{}, 'Paris'], ['greeter', 'Hi']]);
    const branch = await record([['greeter', 'Hi'], [{ lookups: 2, outputTokens: 30 }, 'Paris']]);
    const result = await runCli(['diff', main.file, branch.file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [weatherBlock, greeterBlock] = result.stdout.trimEnd().split('\n\n');
    const lines = weatherBlock!.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^baseline {3}weather run ${main.ids[0]} {2}"Paris" {2}\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z {2}openai gpt-4o-mini$`));
    expect(lines[1]).toMatch(new RegExp(`^candidate {2}weather run ${branch.ids[1]} {2}"Paris" `));
    // Baseline: 100 + 150 input, 2 x 20 output: $0.0000615; candidate: 100 + 150 + 200 input, 3 x 30
    // output: $0.0001215 (gpt-4o-mini: $0.15 and $0.60 per million), +97.6%.
    expect(lines.slice(2, 11)).toEqual([
      '               baseline  candidate     change   change %',
      'cost (USD)     0.000062   0.000121  +0.000060     +97.6%',
      'tokens              290        540       +250     +86.2%',
      '  input             250        450       +200     +80.0%',
      '  output             40         90        +50    +125.0%',
      'steps                 2          3         +1     +50.0%',
      'tool calls            1          2         +1    +100.0%',
      '  lookup              1          2         +1    +100.0%',
      expect.stringMatching(/^latency \(ms\) +\d+\.\d +\d+\.\d +[+-]\d+\.\d +[+-]\d+\.\d%$/),
    ]);
    expect(lines[11]).toMatch(/^stop reason +final +final$/);
    expect(lines).toHaveLength(12);
    expect(greeterBlock).toContain(`baseline   greeter run ${main.ids[1]}  "Hi"`);
    expect(greeterBlock).toMatch(/tool calls +0 +0 +0 +0\.0%\n/);
  });

  it('exits 1 naming each broken rule, and 0 when all hold', async () => {
    const main = await record([[{}, 'Paris'], [{}, 'Oslo']]);
    const branch = await record([[{ lookups: 2 }, 'Paris'], [{ maxSteps: 1 }, 'Oslo']]);
    const broken = await runCli(['diff', main.file, branch.file, '--fail-on', 'cost>+10%', 'steps>+1', 'stop_reason!=final']);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toContain('✗ broken  cost>+10%: cost +');
    expect(broken.stdout).toContain('✓ kept  steps>+1: steps +1 (2 → 3)');
    expect(broken.stdout).toContain('✗ broken  stop_reason!=final: stop_reason max_steps');
    const stderr = broken.stderr.split('\n');
    expect(stderr[0]).toBe('tracebound diff: 2 rules are broken:');
    expect(stderr[1]).toMatch(new RegExp(`^ {2}cost>\\+10% \\(weather run ${branch.ids[0]}: cost \\+\\d+\\.\\d% \\(0\\.\\d{6} → 0\\.\\d{6}\\)\\)$`));
    expect(stderr.slice(2)).toEqual([`  stop_reason!=final (weather run ${branch.ids[1]}: stop_reason max_steps)`, '']);
    const kept = await runCli(['diff', main.file, branch.file, '--fail-on', 'steps>+1', '--fail-on', 'tokens>+100%']);
    expect(kept.stderr).toBe('');
    expect(kept.code).toBe(0);
  });

  it('compares the runs --run-a and --run-b name, or a named run with its partner', async () => {
    const main = await record([[{}, 'Paris'], [{}, 'Oslo']]);
    const branch = await record([[{}, 'Oslo'], [{ lookups: 3 }, 'Rome']]);
    const both = await runCli(['diff', main.file, branch.file, '--run-a', main.ids[0]!, '--run-b', branch.ids[1]!]);
    expect(both.code).toBe(0);
    expect(both.stdout).toContain(`baseline   weather run ${main.ids[0]}  "Paris"`);
    expect(both.stdout).toContain(`candidate  weather run ${branch.ids[1]}  "Rome"`);
    expect(both.stdout).toMatch(/^steps +2 +4 +\+2 +\+100\.0%$/m);
    expect(both.stdout).not.toContain('Oslo');

    const partner = await runCli(['diff', main.file, branch.file, '--run-a', main.ids[1]!]);
    expect(partner.code).toBe(0);
    expect(partner.stdout).toContain(`candidate  weather run ${branch.ids[0]}  "Oslo"`);
    expect(partner.stdout.match(/^baseline /gm)).toHaveLength(1);
  });

  it('lists runs without a partner', async () => {
    const main = await record([[{}, 'Paris']]);
    const branch = await record([[{}, 'Paris'], ['greeter', 'Hi']]);
    const result = await runCli(['diff', main.file, branch.file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`\n\nonly in candidate: greeter run ${branch.ids[1]}  "Hi"`);
  });

  it('reads a file without run ids, naming its runs by span id', async () => {
    const { file, spans } = await recordWeatherRun();
    const result = await runCli(['diff', file, file, '--fail-on', 'cost>+0%']);
    expect(result.code).toBe(0);
    const runSpan = spans.find((span) => span.name === 'invoke_agent weather')!;
    expect(result.stdout).toContain(`baseline   weather run ${runSpan.spanContext().spanId}  2023-11-14T22:13:20.000Z  openai gpt-4o-mini\n`);
    expect(result.stdout).toMatch(/^ {2}cache read +50 +50 +0 +0\.0%$/m);
    expect(result.stdout).toMatch(/^ {2}reasoning +10 +10 +0 +0\.0%$/m);
    expect(result.stdout).not.toContain('cache write');
    expect(result.stdout).toContain('✓ kept  cost>+0%: cost 0.0% (0.000123 → 0.000123)');
  });

  describe('exits 2 on bad usage, saying what to fix', () => {
    it('a bad rule, with the grammar', async () => {
      const main = await record([[{}, 'Paris']]);
      const result = await runCli(['diff', main.file, main.file, '--fail-on', 'cost>10%']);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(`tracebound diff: bad rule "cost>10%": a percentage is a change: write +10% or -10%; a rule is ${RULE_GRAMMAR}\n`);
    });

    it('an unknown run id, listing the runs', async () => {
      const main = await record([[{}, 'Paris'], ['greeter', 'Hi']]);
      const result = await runCli(['diff', main.file, main.file, '--run-b', 'nope']);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `tracebound diff: --run-b nope: ${main.file} has no such run (a run id, trace id or run span id); its runs: ${main.ids[0]} (weather), ${main.ids[1]} (greeter)\n`,
      );
    });

    it('a missing or malformed file, or one without runs', async () => {
      const main = await record([[{}, 'Paris']]);
      const missing = join(await tempDir(), 'absent.jsonl');
      const gone = await runCli(['diff', main.file, missing]);
      expect(gone.code).toBe(2);
      expect(gone.stderr).toMatch(new RegExp(`^tracebound diff: ${missing.replace(/[.]/g, '\\.')}: `));
      const malformed = await writeTemp('{"resourceSpans":7}\n');
      expect((await runCli(['diff', malformed, main.file])).stderr).toContain('line 1: resourceSpans is a number (7), expected an array');
      const empty = join(await tempDir(), 'empty.jsonl');
      await writeFile(empty, '');
      const none = await runCli(['diff', main.file, empty]);
      expect(none.code).toBe(2);
      expect(none.stderr).toBe(`tracebound diff: ${empty} holds no tracebound run (no invoke_agent span): record one with tracebound run or tracedRuntime()\n`);
    });

    it('no pair to compare', async () => {
      const main = await record([[{}, 'Paris']]);
      const other = await record([['greeter', 'Hi']]);
      const result = await runCli(['diff', main.file, other.file]);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `tracebound diff: no run of ${other.file} pairs with a run of ${main.file} (agents weather vs greeter): pick two runs with --run-a and --run-b\n`,
      );
    });

    it('a missing argument', async () => {
      const result = await runCli(['diff', 'only-one.jsonl']);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("missing required argument 'candidate'");
    });
  });
});

describe('tracebound diff (launcher)', { timeout: CHILD_PROCESS_TEST_MS }, () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.OPENAI_API_KEY;
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(root, 'bin', 'tracebound.js'), ...args], { cwd: root, env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      return error as { code: number; stdout: string; stderr: string };
    }
  };

  it("gates on the example's offline runs: the process exits 0 when rules hold, 1 when one breaks", async () => {
    const dir = await tempDir();
    const [baseline, candidate] = [join(dir, 'main.jsonl'), join(dir, 'branch.jsonl')];
    const example = join(root, 'examples', 'release-notes', 'agent.ts');
    for (const file of [baseline, candidate]) expect((await cli(['run', example, '--offline', '--trace-file', file])).code).toBe(0);

    const kept = await cli(['diff', baseline, candidate, '--fail-on', 'cost>+10%', 'steps>+0', 'tool_calls>+0']);
    expect(kept.stderr).toBe('');
    expect(kept.code).toBe(0);
    // The offline server answers the same recorded responses: 636/163 tokens, 2 steps, 3 tool calls.
    expect(kept.stdout).toMatch(/^tokens +799 +799 +0 +0\.0%$/m);
    expect(kept.stdout).toMatch(/^tool calls +3 +3 +0 +0\.0%$/m);

    // The example's run stops on its budget (graceful_limit), not with a final answer.
    const broken = await cli(['diff', baseline, candidate, '--fail-on', 'stop_reason!=final']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^tracebound diff: a rule is broken:\n {2}stop_reason!=final \(release-notes run [0-9a-f-]{36}: stop_reason graceful_limit\)\n$/);
  });
});
