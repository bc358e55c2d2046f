import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { colorEnabled } from '../../src/cli/io.js';
import { recordConversationRuns, recordWeatherRun, runCli, tempDir, writeTemp } from './fixture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('tracebound show', () => {
  it('prints the tree of each run and exits 0', async () => {
    const { file } = await recordWeatherRun();
    const result = await runCli(['show', file]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(/^trace [0-9a-f]{32} {2}service weather-service$/);
    expect(lines[1]).toBe('invoke_agent weather  openai gpt-4o-mini');
    expect(result.stdout).toContain('│  ├─ chat gpt-4o-mini  503 ms  tokens 100/20  $0.000027\n');
    expect(result.stdout).toContain('· budget run: allow, $0.000100 of $0.000100 held');
    expect(result.stdout).toMatch(/└─ stop final {2}2 steps {2}2 tool calls .* \$0\.000123\n$/);
    expect(result.stdout).not.toContain('\x1b');
  });

  it('colours when the io allows it', async () => {
    const { file } = await recordWeatherRun();
    expect((await runCli(['show', file], true)).stdout).toContain('\x1b[31mERROR');
  });

  it('prints every trace of a Collector-style file', async () => {
    const recording = await recordWeatherRun();
    const other = await recordWeatherRun();
    const file = await writeTemp(recording.text + other.text);
    const result = await runCli(['show', file]);
    expect(result.code).toBe(0);
    expect(result.stdout.match(/^trace /gm)).toHaveLength(2);
    expect(result.stdout.match(/^invoke_agent weather/gm)).toHaveLength(2);
  });

  it('groups the runs of one conversation under its id, in start order, whatever the file order', async () => {
    const { text } = await recordConversationRuns();
    // One line per run; reversed, so the order printed can only come from the start times.
    const file = await writeTemp(`${text.trimEnd().split('\n').reverse().join('\n')}\n`);
    const result = await runCli(['show', file]);
    expect(result.code).toBe(0);
    const out = result.stdout;
    const heads = out.split('\n').filter((line) => /^(conversation|trace|invoke_agent) /.test(line));
    expect(heads).toEqual([
      'conversation support-42  2 runs',
      expect.stringMatching(/^trace [0-9a-f]{32} {2}service support-service$/),
      'invoke_agent support  openai gpt-4o-mini',
      'conversation other-7  1 run',
    ]);
    const support = out.slice(out.indexOf('conversation support-42'), out.indexOf('\n\ntrace '));
    expect(support.match(/^ {2}invoke_agent support/gm)).toHaveLength(2);
    // Turn 1 loaded nothing and saved 2 messages; turn 2 loaded those 2 and saved 4.
    expect(support.indexOf('load_conversation  2.0 ms  0 messages')).toBeLessThan(support.indexOf('load_conversation  2.0 ms  2 messages'));
    expect(support).toContain('  ├─ save_conversation  3.0 ms  4 messages\n');
    expect(out.slice(out.indexOf('conversation other-7')).match(/^ {2}invoke_agent support/gm)).toHaveLength(1);
  });

  it('says so for an empty file and exits 0', async () => {
    const file = await writeTemp('\n');
    expect(await runCli(['show', file])).toEqual({ code: 0, stdout: `no spans in ${file}\n`, stderr: '' });
  });

  it('exits 2 naming the line and field of a malformed file', async () => {
    const truncated = await writeTemp('{"resourceSpans":[{"scopeSpans":[{"spans":');
    const cut = await runCli(['show', truncated]);
    expect(cut.code).toBe(2);
    expect(cut.stdout).toBe('');
    expect(cut.stderr).toMatch(/^tracebound show: .*traces\.jsonl: line 1: not JSON \(.*\): the file may be truncated/);

    const wrongType = await writeTemp('\n{"resourceSpans":[{"scopeSpans":[{"spans":7}]}]}\n');
    const wrong = await runCli(['show', wrongType]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('line 2: resourceSpans[0].scopeSpans[0].spans is a number (7), expected an array');

    const foreign = await runCli(['show', await writeTemp('{"foo":1}\n')]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toContain('this is not an OTLP/JSON trace file');
  });

  it('exits 2 for a missing file', async () => {
    const missing = join(await tempDir(), 'nope.jsonl');
    const result = await runCli(['show', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`tracebound show: ${missing}: no such file: check the path, or record a trace first with \`tracebound run\`\n`);
  });
});

describe('tracebound usage', () => {
  it('exits 2 with commander’s message on a missing argument or an unknown command', async () => {
    const missing = await runCli(['show']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: missing required argument 'trace-file'");
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown command 'frobnicate'");
    expect((await runCli([])).code).toBe(2);
  });

  it('prints help and version with exit 0', async () => {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await runCli(['--version'])).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('show <trace-file>');
    expect((await runCli(['show', '--help'])).code).toBe(0);
  });

  it('colours only on a TTY without NO_COLOR', () => {
    expect(colorEnabled({}, true)).toBe(true);
    expect(colorEnabled({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorEnabled({ NO_COLOR: '' }, true)).toBe(true);
    expect(colorEnabled({}, false)).toBe(false);
  });
});

describe('bin/tracebound.js', () => {
  const run = promisify(execFile);

  it('runs `show` as a real process', async () => {
    const { file } = await recordWeatherRun();
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/tracebound.js'), 'show', file], { cwd: ROOT });
    expect(stderr).toBe('');
    expect(stdout).toContain('invoke_agent weather  openai gpt-4o-mini\n├─ step 1  799 ms  tool_calls\n');
    expect(stdout).not.toContain('\x1b');
  });

  it('exits 2 on a missing file', async () => {
    const failure = await run(process.execPath, [join(ROOT, 'bin/tracebound.js'), 'show', 'no/such/file.jsonl'], { cwd: ROOT }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain('no/such/file.jsonl: no such file');
  });
});
