import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { openai } from '../../src/providers/openai.js';
import { loadFixture, startRecordedServer } from '../../src/testing/recorded-server.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'openai');
const echo = tool({ name: 'echo', description: 'Echoes.', parameters: z.object({ text: z.string() }), execute: ({ text }) => text });

describe('the trace file (embedded default exporter)', () => {
  it('writes OTLP/JSON lines that read back as the run, with content and nothing lost', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-'));
    const traceFile = join(dir, 'nested', 'traces.jsonl');
    const runtime = tracedRuntime({ traceFile });
    const model = scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (req) =>
        req.messages.some((m) => m.role === 'tool')
          ? { text: 'done', usage: { inputTokens: 40, outputTokens: 5 } }
          : { toolCalls: [{ id: 'call_1', name: 'echo', arguments: { text: 'hi' } }], usage: { inputTokens: 30, outputTokens: 7 } },
    });
    const a = agent({ name: 'echoer', instructions: 'Echo.', model, tools: [echo] });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => runtime.run(a, `say ${i}`)));
    await runtime.shutdown();

    const text = await readFile(traceFile, 'utf8');
    const lines = text.trim().split('\n');
    for (const line of lines) expect(JSON.parse(line)).toHaveProperty('resourceSpans');
    const spans = await readTraceFile(traceFile);
    // 20 runs x (run + 2 steps + 2 chats + 1 tool) spans, every one exported.
    expect(spans).toHaveLength(20 * 6);
    const runs = spans.filter((s) => s.name === 'invoke_agent echoer');
    expect(new Set(runs.map((r) => r.traceId))).toEqual(new Set(results.map((r) => r.traceId)));
    const run = runs[0]!;
    expect(run.attributes[ATTR.usageInputTokens]).toBe(70);
    expect(run.resource['service.name']).toBe('tracebound');
    const chat = spans.find((s) => s.traceId === run.traceId && s.name === 'chat gpt-4o-mini' && s.attributes[ATTR.usageInputTokens] === 30)!;
    expect(chat.kind).toBe('CLIENT');
    expect(JSON.parse(String(chat.attributes[ATTR.inputMessages]))[0]).toEqual({ role: 'user', parts: [{ type: 'text', content: expect.stringMatching(/^say \d+$/) }] });
    expect(JSON.parse(String(chat.attributes[ATTR.systemInstructions]))).toEqual([{ type: 'text', content: 'Echo.' }]);
  });

  it('never writes the API key, even when content is captured from a real SDK call', async () => {
    const server = await startRecordedServer();
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-'));
    const traceFile = join(dir, 'traces.jsonl');
    const apiKey = 'sk-proj-SECRETSECRETSECRET0123456789';
    try {
      server.enqueue('/v1/chat/completions', await loadFixture(join(fixtures, 'chat-tool-answer.json')));
      const runtime = tracedRuntime({ traceFile });
      const a = agent({ name: 'keyed', instructions: 'Hi.', model: openai('gpt-4o-mini', { apiKey, baseURL: `${server.url}/v1` }) });
      await runtime.run(a, 'hello');
      await runtime.shutdown();
      expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${apiKey}`);
      const bytes = await readFile(traceFile, 'utf8');
      expect(bytes.length).toBeGreaterThan(0);
      expect(bytes).not.toContain(apiKey);
      expect(bytes).not.toContain('SECRETSECRET');
    } finally {
      await server.close();
    }
  });

  it('forceFlush() exports ended spans without closing the exporter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tracebound-'));
    const traceFile = join(dir, 'traces.jsonl');
    const runtime = tracedRuntime({ traceFile });
    const a = agent({ name: 'f', instructions: '', model: scriptedModel({ respond: () => ({ text: 'ok' }) }) });
    await runtime.run(a, 'one');
    await runtime.forceFlush();
    expect(await readTraceFile(traceFile)).toHaveLength(3);
    await runtime.run(a, 'two');
    await runtime.shutdown();
    expect(await readTraceFile(traceFile)).toHaveLength(6);
  });
});

describe('other exporters', () => {
  it('console prints one line per span on stderr, in the tree format; none exports nothing', async () => {
    const printed: string[] = [];
    const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      const model = scriptedModel({
        provider: 'openai',
        modelId: 'gpt-4o-mini',
        respond: () => ({ text: 'ok', usage: { inputTokens: 259, outputTokens: 78 } }),
      });
      const consoleRuntime = tracedRuntime({ exporter: 'console' });
      const { traceId } = await consoleRuntime.run(agent({ name: 'c', instructions: '', model }), 'hi');
      await consoleRuntime.shutdown();
      const lines = printed.join('').split('\n').filter(Boolean);
      const id = `[${traceId.slice(0, 8)}]`;
      expect(lines).toHaveLength(3);
      // gpt-4o-mini: 259 x $0.15/MTok + 78 x $0.60/MTok = $0.0000856, printed without float noise.
      expect(lines[0]).toMatch(new RegExp(`^\\${id} chat gpt-4o-mini {2}[\\d.]+ ms {2}tokens 259/78 {2}\\$0\\.000086$`));
      expect(lines[1]).toMatch(new RegExp(`^\\${id} step 1 {2}[\\d.]+ ms {2}final$`));
      expect(lines[2]).toMatch(new RegExp(`^\\${id} invoke_agent c {2}stop final {2}1 step {2}0 tool calls {2}[\\d.]+ ms {2}tokens 259/78 {2}\\$0\\.000086$`));

      printed.length = 0;
      const none = tracedRuntime({ exporter: 'none' });
      const result = await none.run(agent({ name: 'n', instructions: '', model }), 'hi');
      await none.shutdown();
      expect(printed).toEqual([]);
      expect(result.traceId).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      write.mockRestore();
    }
  });

  it('rejects an unknown exporter name with what to use instead', () => {
    expect(() => tracedRuntime({ exporter: 'jaeger' as never })).toThrow(/unknown exporter "jaeger": use one of file, otlp, otlp-proto, langfuse, console, none/);
  });
});
