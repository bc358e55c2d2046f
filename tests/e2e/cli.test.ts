import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { CHILD_PROCESS_TEST_MS } from '../support/timeouts.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'tracebound.js');
const example = join(root, 'examples', 'release-notes', 'agent.ts');

/** Runs the real launcher as a user would, without any provider key in its environment. */
async function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extraEnv };
  delete env.OPENAI_API_KEY;
  delete env.ANTHROPIC_API_KEY;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { cwd: root, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('tracebound CLI (e2e)', { timeout: CHILD_PROCESS_TEST_MS }, () => {
  it('runs the example offline, prints the span tree and writes the trace that show prints', async () => {
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-e2e-')), 'traces.jsonl');
    const run = await cli(['run', example, '--offline', '--trace-file', traceFile]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines).toContain('invoke_agent release-notes  openai gpt-4o-mini');
    // Tokens and cost of the recorded responses (259/78 then 377/85 tokens, gpt-4o-mini prices).
    // Tokens and cost of the recorded responses (259/78 then 377/85 tokens, gpt-4o-mini prices),
    // and the demo's $0.00025 run budget: the second call is lowered and made without tools.
    // A plain allow leaves no budget line; the lowered second call does.
    expect(run.stdout).toMatch(/├─ step 1 .* tool_calls\n│ {2}├─ chat gpt-4o-mini/);
    expect(run.stdout).toMatch(/│ {2}├─ chat gpt-4o-mini .* tokens 259\/78 {2}\$0\.000086/);
    expect(run.stdout).toMatch(/├─ step 2 .* final\n│ {2}│ · budget run: lower, .* \$0\.000086 spent of \$0\.000250, max tokens lowered to \d+\n/);
    expect(run.stdout).toMatch(/│ {2}└─ chat gpt-4o-mini .* tokens 377\/85 {2}\$0\.000108/);
    expect(run.stdout.match(/execute_tool parallel_local_search_(one|two|three)/g)).toHaveLength(3);
    expect(run.stdout).toMatch(/└─ stop graceful_limit {2}2 steps {2}3 tool calls {2}.* tokens 636\/163 {2}\$0\.000193/);
    expect(run.stdout).toContain('The latest release notes for OpenAI, Anthropic, and Gemini models');

    const spans = await readTraceFile(traceFile);
    expect(spans.map((s) => s.name).sort()).toEqual([
      'chat gpt-4o-mini', 'chat gpt-4o-mini',
      'execute_tool parallel_local_search_one', 'execute_tool parallel_local_search_three', 'execute_tool parallel_local_search_two',
      'invoke_agent release-notes', 'step 1', 'step 2',
    ]);

    const show = await cli(['show', traceFile]);
    expect(show.code).toBe(0);
    const tree = run.stdout.slice(run.stdout.indexOf('invoke_agent'), run.stdout.indexOf('└─ stop'));
    expect(show.stdout).toContain(tree);

    // The run ends by saying how to open the viewer; that command serves the run it wrote.
    const last = run.stdout.trimEnd().split('\n').at(-1)!;
    expect(last).toBe(`  open it in the viewer:  npx tracebound view ${traceFile}   (then http://127.0.0.1:4040)`);
    const viewArgs = last.replace(/^.*npx tracebound /, '').replace(/\s+\(then .*$/, '').split(' ');
    const view = spawn(process.execPath, [bin, ...viewArgs, '--port', '0'], { cwd: root, env: { ...process.env, NO_COLOR: '1' } });
    try {
      const [url] = (await once(view.stdout.setEncoding('utf8'), 'data')) as [string];
      const address = /^tracebound view: (http:\/\/127\.0\.0\.1:\d+\/) /.exec(url)?.[1];
      expect(address, url).toBeDefined();
      const list = (await (await fetch(`${address}api/runs`)).json()) as { runs: { agent: string; steps: number; costUsd: number }[] };
      expect(list.runs.map((r) => [r.agent, r.steps])).toEqual([['release-notes', 2]]);
      expect(list.runs[0]!.costUsd).toBeCloseTo(0.000193, 6);
    } finally {
      view.kill('SIGTERM');
    }
    const [code] = (await once(view, 'exit')) as [number];
    expect(code).toBe(0);
  });

  it('exits 2 with a message saying what to fix on bad usage or input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-e2e-'));
    const missing = await cli(['run', join(dir, 'nope.ts')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/agent module not found/);

    const noAgent = join(dir, 'no-agent.ts');
    await writeFile(noAgent, 'export const x: number = 1;\n');
    const bad = await cli(['run', noAgent, 'hi']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no default-exported agent: add `export default agent/);

    const exporter = await cli(['run', example, '--offline', '--exporter', 'jaeger']);
    expect(exporter.code).toBe(2);
    expect(exporter.stderr).toMatch(/unknown exporter "jaeger"/);

    const usage = await cli(['run']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument/);
  });

  it('keeps content out of the trace when a remote exporter is on, unless --capture-content', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-e2e-'));
    // An OTLP endpoint nobody listens on: its spans are dropped (and reported), the file keeps its own.
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_TIMEOUT: '500' };
    const contentOf = async (file: string) =>
      (await readTraceFile(file)).filter((s) => s.attributes[ATTR.inputMessages] !== undefined).length;

    const plain = join(dir, 'plain.jsonl');
    expect((await cli(['run', example, '--offline', '--trace-file', plain, '--exporter', 'file', '--exporter', 'otlp'], env)).code).toBe(0);
    expect(await contentOf(plain)).toBe(0);

    const captured = join(dir, 'captured.jsonl');
    expect((await cli(['run', example, '--offline', '--trace-file', captured, '--exporter', 'file', '--exporter', 'otlp', '--capture-content'], env)).code).toBe(0);
    // The run span (its input) and the two model calls.
    expect(await contentOf(captured)).toBe(3);
  });
});
