/**
 * `tracebound run` and `tracebound serve` options shared through src/cli/agent-options.ts, in
 * process: `--exporter` (repeatable, comma-separated, never taking the input), `--offline` on a
 * module without an offline setup, the module's `runtime` export, and `run --conversation`
 * continuing a conversation kept in the `--state` SQLite file.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { runCli, tempDir } from './fixture.js';

const AGENTS = fileURLToPath(new URL('./replay-agents.ts', import.meta.url));
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** A module default-exporting the weather agent (a scripted gpt-4o-mini that looks the city up), plus `extra` source. */
async function weatherModule(extra = ''): Promise<{ dir: string; path: string }> {
  const dir = await tempDir();
  const path = join(dir, 'weather.ts');
  await writeFile(path, `import { weather } from ${JSON.stringify(AGENTS)};\nexport default weather();\n${extra}`);
  return { dir, path };
}

describe('tracebound run --exporter', () => {
  it('takes one value per flag, so the input after it stays the input', async () => {
    const { path } = await weatherModule();
    const result = await runCli(['run', path, '--exporter', 'none', 'Paris']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('\nIt is sunny in Paris.\n');
    expect(result.stdout).not.toContain('trace written');
  });

  it('is repeatable and comma-separated', async () => {
    const { dir, path } = await weatherModule();
    for (const [name, flags] of [
      ['repeated', ['--exporter', 'none', '--exporter', 'file']],
      ['commas', ['--exporter', 'none,file']],
    ] as const) {
      const traceFile = join(dir, `${name}.jsonl`);
      const result = await runCli(['run', path, ...flags, '--trace-file', traceFile, 'Oslo']);
      expect(result.code, name).toBe(0);
      expect(result.stdout, name).toContain('It is sunny in Oslo.');
      expect(result.stdout, name).toContain(`trace written to ${traceFile}`);
      expect((await readTraceFile(traceFile)).map((s) => s.name), name).toContain('invoke_agent weather');
    }
  });

  it('rejects an unknown name with exit 2, in a list too', async () => {
    const { path } = await weatherModule();
    for (const value of ['jaeger', 'file,jaeger']) {
      const result = await runCli(['run', path, '--exporter', value, 'Paris']);
      expect(result.code, value).toBe(2);
      expect(result.stderr, value).toMatch(/unknown exporter "jaeger": use one of file, otlp, otlp-proto, langfuse, console, none/);
      expect(result.stdout, value).toBe('');
    }
  });
});

describe('--offline on a module without an offline setup', () => {
  it('run: one line on stderr, exit 2, no trace written', async () => {
    const { dir, path } = await weatherModule();
    const traceFile = join(dir, 'traces.jsonl');
    const result = await runCli(['run', path, '--offline', '--trace-file', traceFile, 'Paris']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `tracebound run: ${path} does not support --offline: it exports no \`offline\` setup (see README, "Your own --offline setup"); run it without --offline\n`,
    );
    expect(result.stdout).toBe('');
    expect(existsSync(traceFile)).toBe(false);
  });

  it('serve: one line on stderr, exit 2', async () => {
    const { path } = await weatherModule();
    const result = await runCli(['serve', path, '--offline', '--port', '0', '--exporter', 'none']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^tracebound serve: .* does not support --offline: it exports no `offline` setup .*\n$/);
    expect(result.stderr.split('\n')).toHaveLength(2);
  });
});

describe('the module\'s `runtime` export', () => {
  it('sets runtime options the CLI has no flag for: a price for a model the table does not know', async () => {
    const dir = await tempDir();
    const houseModule = async (name: string, extra: string) => {
      const path = join(dir, name);
      await writeFile(
        path,
        [
          `import { agent } from ${JSON.stringify(join(SRC, 'agent.ts'))};`,
          `import { scriptedModel } from ${JSON.stringify(join(SRC, 'testing/scripted-model.ts'))};`,
          "const model = scriptedModel({ provider: 'house', modelId: 'house-llm-1', respond: [{ text: 'Hi.', usage: { inputTokens: 100, outputTokens: 20 } }] });",
          "export default agent({ name: 'house', instructions: 'Greet.', model });",
          extra,
        ].join('\n'),
      );
      return path;
    };
    const priced = await runCli(['run', await houseModule('priced.ts', "export const runtime = { prices: { 'house-llm-1': { inputPerMTok: 1, outputPerMTok: 2 } } };"), '--exporter', 'none', 'hello']);
    expect(priced.stderr).toBe('');
    expect(priced.code).toBe(0);
    // 100 x $1/MTok + 20 x $2/MTok.
    expect(priced.stdout).toMatch(/└─ chat house-llm-1 .* tokens 100\/20 {2}\$0\.000140\n/);
    expect(priced.stdout).toMatch(/└─ stop final .* \$0\.000140\n/);

    // Without the export the same model has no price: `cost ?`, never $0.
    const unpriced = await runCli(['run', await houseModule('unpriced.ts', ''), '--exporter', 'none', 'hello']);
    expect(unpriced.code).toBe(0);
    expect(unpriced.stdout).toMatch(/└─ chat house-llm-1 .* tokens 100\/20 {2}cost \?\n/);
  });

  it('may not set what the flags own (where spans go): exit 2 naming it', async () => {
    const { path } = await weatherModule("export const runtime = { exporter: 'otlp', retry: { maxRetries: 0 } };\n");
    const result = await runCli(['run', path, 'Paris']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `tracebound run: ${path} exports \`runtime\` with exporter: the CLI sets where spans go (--exporter, --trace-file); remove it\n`,
    );
  });

  it('is named in the help of run and serve, with the store they use', async () => {
    for (const command of ['run', 'serve']) {
      const help = await runCli([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.stdout, command).toMatch(/Conversations \(--conversation, or conversationId in serve\) and budget spend\s+windows \(budget\.spend\) live in the --state SQLite file/);
      expect(help.stdout, command).toMatch(/--state <path>\s+SQLite file of conversations and budget spend windows/);
      expect(help.stdout, command).toMatch(/--exporter <names>/);
    }
  });
});

describe('tracebound run --conversation', () => {
  it('continues a conversation across two commands through the --state file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'memo.ts');
    await writeFile(
      path,
      [
        `import { agent } from ${JSON.stringify(join(SRC, 'agent.ts'))};`,
        `import { scriptedModel } from ${JSON.stringify(join(SRC, 'testing/scripted-model.ts'))};`,
        "const heard = (messages) => messages.filter((m) => m.role === 'user').map((m) => m.content).join(' | ');",
        "export default agent({ name: 'memo', instructions: '', model: scriptedModel({ respond: (r) => ({ text: `heard: ${heard(r.messages)}` }) }) });",
      ].join('\n'),
    );
    const state = join(dir, 'state', 'state.db');
    expect(existsSync(state)).toBe(false);
    const first = await runCli(['run', path, '--exporter', 'none', '--state', state, '--conversation', 'c-1', 'My name is Ada.']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('\nheard: My name is Ada.\n');
    expect(first.stdout).toContain(`conversation c-1: 2 messages, kept in ${state}`);
    const second = await runCli(['run', path, '--exporter', 'none', '--state', state, '--conversation', 'c-1', 'Who am I?']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('\nheard: My name is Ada. | Who am I?\n');
    expect(second.stdout).toContain('conversation c-1: 4 messages');
    // Another conversation, and a run without one, start afresh; neither touches c-1.
    const other = await runCli(['run', path, '--exporter', 'none', '--state', state, '--conversation', 'c-2', 'Hello.']);
    expect(other.stdout).toContain('\nheard: Hello.\n');
    const none = await runCli(['run', path, '--exporter', 'none', '--state', state, 'Alone.']);
    expect(none.stdout).toContain('\nheard: Alone.\n');
    expect(none.stdout).not.toContain('conversation');
  });

  it('fails with exit 1 and a message saying what to do when the state file is not a database', async () => {
    const dir = await tempDir();
    const state = join(dir, 'state.db');
    await writeFile(state, 'not a database\n'.repeat(100));
    const { path } = await weatherModule();
    const result = await runCli(['run', path, '--exporter', 'none', '--state', state, '--conversation', 'c-1', 'Paris']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${state} is not a SQLite database or is damaged: move it away`);
  });
});

describe('tracebound run --agent', () => {
  /** A module exporting two agents, the weather agent as the default. */
  async function twoAgents(): Promise<string> {
    const dir = await tempDir();
    const path = join(dir, 'agents.ts');
    await writeFile(path, `import { weather, greeter } from ${JSON.stringify(AGENTS)};\nexport const agents = [weather(), greeter()];\n`);
    return path;
  }

  it('runs the named agent of the module\'s `agents`', async () => {
    const path = await twoAgents();
    const result = await runCli(['run', path, '--exporter', 'none', '--agent', 'greeter', 'Ada']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('invoke_agent greeter');
    expect(result.stdout).not.toContain('invoke_agent weather');
  });

  it('exits 2 on a module exporting two agents of one name, naming both and what to do; run and serve alike', async () => {
    const dir = await tempDir();
    const path = join(dir, 'twins.ts');
    await writeFile(path, `import { weather, greeter } from ${JSON.stringify(AGENTS)};\nexport default weather();\nexport const agents = [greeter(), weather('Be brief.')];\n`);
    const message = `${path} exports two agents named "weather" (the default export and agents[1]): --agent and serve pick an agent by name, so give each its own name in agent({ name })`;
    const run = await runCli(['run', path, '--exporter', 'none', 'Paris']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`tracebound run: ${message}\n`);
    const served = await runCli(['serve', path, '--port', '0', '--exporter', 'none']);
    expect(served.code).toBe(2);
    expect(served.stderr).toBe(`tracebound serve: ${message}\n`);
  });

  it('exits 2 on a name the module does not export, listing its agents', async () => {
    const path = await twoAgents();
    const result = await runCli(['run', path, '--exporter', 'none', '--agent', 'nobody', 'Ada']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/no agent named "nobody"; its agents: weather, greeter/);
  });
});

describe("a module's close()", () => {
  it('is called once the run (or replay) is done, and also when the run exits 2', async () => {
    const dir0 = await tempDir();
    const { dir, path } = await weatherModule(
      `import { appendFileSync } from 'node:fs';\nexport const close = async () => appendFileSync(${JSON.stringify(join(dir0, 'closed'))}, 'x');\n`,
    );
    const closed = join(dir0, 'closed');
    expect((await runCli(['run', path, '--exporter', 'none', 'Paris'])).code).toBe(0);
    expect(await readFile(closed, 'utf8')).toBe('x');
    expect((await runCli(['run', path, '--exporter', 'none', '--agent', 'nobody', 'Paris'])).code).toBe(2);
    expect(await readFile(closed, 'utf8')).toBe('xx');
    expect((await runCli(['replay', join(dir, 'none.jsonl'), '--agent', path])).code).toBe(2);
    expect(await readFile(closed, 'utf8')).toBe('xxx');
  });

  it('that is not a function is a usage error', async () => {
    const { path } = await weatherModule('export const close = 1;\n');
    const result = await runCli(['run', path, '--exporter', 'none', 'Paris']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('exports `close` that is not a function');
  });
});
