/**
 * examples/research-desk (README "Sub-agents" and "MCP tools"), run as a user runs it:
 * `tracebound run examples/research-desk/agent.ts --offline` in its own process, server-everything
 * started by `npx` over stdio. The process must exit by itself (the module's `close()` ends the MCP
 * server), print the sub-run inside the desk's step and write a trace whose one run holds it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readRecording } from '../../src/replay/read.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { runCli } from '../cli/fixture.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('tracebound run examples/research-desk/agent.ts --offline', () => {
  it('exits, printing execute_tool researcher > invoke_agent researcher > ... > tools/call get-sum, and writes that trace', { timeout: 90_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-desk-'));
    const traceFile = join(dir, 'traces.jsonl');
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.OPENAI_API_KEY;
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin', 'tracebound.js'), 'run', 'examples/research-desk/agent.ts', '--offline', '--trace-file', traceFile, '--state', join(dir, 'state.db')],
      { cwd: ROOT, env, timeout: 60_000 },
    );
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(lines[0]).toBe('offline: scripted models stand in for gpt-4o-mini; the MCP server and the tools run for real (set OPENAI_API_KEY to run live)');
    expect(lines[1]).toBe('invoke_agent desk  openai gpt-4o-mini');
    // Each span on the line after its parent, one level (3 columns) deeper.
    const depth = (line: string) => line.search(/[a-z]/);
    const at = (pattern: RegExp, from = 0) => {
      const i = lines.findIndex((line, n) => n >= from && pattern.test(line));
      expect(i, String(pattern)).toBeGreaterThan(0);
      return i;
    };
    const tool = at(/[├└]─ execute_tool researcher {2}call_research /);
    const sub = at(/[├└]─ invoke_agent researcher {2}openai gpt-4o-mini$/);
    expect([sub, depth(lines[sub]!)]).toEqual([tool + 1, depth(lines[tool]!) + 3]);
    const sum = at(/[├└]─ execute_tool get-sum {2}call_sum /, sub);
    const call = at(/[├└]─ tools\/call get-sum /, sum);
    expect([call, depth(lines[call]!)]).toEqual([sum + 1, depth(lines[sum]!) + 3]);
    expect(depth(lines[sum]!)).toBeGreaterThan(depth(lines[sub]!));
    // The almanac's fee on its tool lines, and in the sub-run's and the desk's totals.
    expect(lines.filter((line) => /execute_tool almanac .*\$0\.001000$/.test(line))).toHaveLength(2);
    expect(stdout).toMatch(/└─ stop final {2}3 steps {2}3 tool calls .* \$0\.002000\n/);
    expect(stdout).toMatch(/\n└─ stop final {2}2 steps {2}1 tool call .* \$0\.002000\n/);
    expect(stdout).toContain('\nThe researcher found: Mars has 2 known moons. Jupiter has 95 known moons. The sum of 2 and 95 is 97.\n');

    const spans = await readTraceFile(traceFile);
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const mcp = spans.find((s) => s.name === 'tools/call get-sum');
    const ancestors: string[] = [];
    for (let s = mcp; s; s = s.parentSpanId ? byId.get(s.parentSpanId) : undefined) ancestors.push(s.name);
    expect(ancestors).toEqual(['tools/call get-sum', 'execute_tool get-sum', 'step 2', 'invoke_agent researcher', 'execute_tool researcher', 'step 1', 'invoke_agent desk']);
    const desk = spans.find((s) => s.name === 'invoke_agent desk');
    expect(spans.find((s) => s.name === 'invoke_agent researcher')?.attributes[ATTR.parentRunId]).toBe(desk?.attributes[ATTR.runId]);
    // `show` prints one trace with the sub-run inside the desk's tool call, as `run` did.
    const shown = await runCli(['show', traceFile]);
    expect(shown.stdout.match(/^trace /gm)).toHaveLength(1);
    expect(shown.stdout).toMatch(/\n│ {2}└─ execute_tool researcher {2}call_research .*\n│ {5}└─ invoke_agent researcher {2}openai gpt-4o-mini\n/);
    // One run in the file: the researcher's is inside the desk's tool call.
    const runs = await readRecording(traceFile);
    expect(runs.map((r) => r.agentName)).toEqual(['desk']);
    expect(runs[0]?.steps[0]?.toolCalls[0]?.subRun?.agentName).toBe('researcher');
  });

  it('replays its recording with --live-tools naming the researcher\'s MCP tool (once refused: it is not the desk\'s), and matches', { timeout: 90_000 }, async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'bin', 'tracebound.js'), 'replay', 'examples/research-desk/recording.jsonl', '--agent', 'examples/research-desk/agent.ts', '--live-tools', 'get-sum'],
      { cwd: ROOT, timeout: 60_000 },
    );
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^✓ matched run [0-9a-f]{32} \(agent desk, examples\/research-desk\/recording\.jsonl:1\): 2 steps, 1 tool call\n$/);
  });
});
