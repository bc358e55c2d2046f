/**
 * mcpTools() against real MCP servers in child processes: the third-party server-everything over
 * stdio and over Streamable HTTP, and fixture-server.ts (the SDK's McpServer) for the trace context
 * a server receives, isError results, a server dying mid-call and a changing tool list.
 */
import { createHash } from 'node:crypto';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { mcpTools, McpServerError, type McpTools } from '../../src/mcp/index.js';
import { modelToolNames } from '../../src/mcp/tool-names.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { ATTR, MCP_ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';
import { EVERYTHING, FIXTURE, startEverythingHttp } from './support.js';

const usage = { inputTokens: 10, outputTokens: 5 };

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

/** One run whose model calls `tool` with `args` once, then answers; returns the spans and what the model saw. */
async function runCalling(tools: McpTools, spans: ReturnType<typeof collectSpans>, tool: string, args: Record<string, unknown>) {
  const model = scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: [{ toolCalls: [{ id: 'call-1', name: tool, arguments: args }], usage }, { text: 'done', usage }],
  });
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true });
  const outcome = await runtime.run(agent({ name: 'mcp-user', instructions: 'Use the tools.', model, tools: [...tools.tools] }), 'go');
  const toolMessage = outcome.messages.find((m) => m.role === 'tool');
  return { outcome, toolMessage, spans: spans.spans() };
}

/** The `execute_tool {tool}` span and its `tools/call {tool}` child. */
function spanPair(spans: ReadableSpan[], tool: string) {
  const execute = spans.find((s) => s.name === SPAN_NAME.tool(tool));
  const call = spans.find((s) => s.name === `tools/call ${tool}`);
  expect(execute, `execute_tool ${tool}`).toBeDefined();
  expect(call, `tools/call ${tool}`).toBeDefined();
  expect(call!.parentSpanContext?.spanId).toBe(execute!.spanContext().spanId);
  expect(call!.spanContext().traceId).toBe(execute!.spanContext().traceId);
  return { execute: execute!, call: call! };
}

describe.each([
  { transport: 'stdio', networkTransport: 'pipe' },
  { transport: 'Streamable HTTP', networkTransport: 'tcp' },
])('server-everything over $transport', ({ transport, networkTransport }) => {
  let mcp: McpTools;
  let stop: (() => Promise<void>) | undefined;
  const spans = collectSpans();
  beforeAll(async () => {
    const { tracerProvider } = spans;
    if (transport === 'stdio') {
      mcp = await mcpTools({ command: process.execPath, args: [EVERYTHING, 'stdio'], tracerProvider });
    } else {
      const server = await startEverythingHttp();
      stop = server.stop;
      mcp = await mcpTools({ url: server.url, tracerProvider });
    }
  }, 30_000);
  beforeEach(() => spans.reset());
  afterAll(async () => {
    await mcp?.close();
    await stop?.();
  });

  it('lists its tools with their JSON Schemas as the definitions sent to the model', () => {
    const names = mcp.tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    const sum = mcp.tools.find((t) => t.name === 'get-sum')!;
    expect(sum.definition.parameters).toMatchObject({ type: 'object', properties: { a: { type: 'number' }, b: { type: 'number' } }, required: ['a', 'b'] });
    expect(sum.parameters.safeParse({ a: 1, b: 2 }).success).toBe(true);
    expect(sum.parameters.safeParse({ a: 'one', b: 2 }).success).toBe(false);
  });

  it('runs a call through an agent run, traced as execute_tool with a tools/call CLIENT child', async () => {
    const { toolMessage, spans: ended } = await runCalling(mcp, spans, 'get-sum', { a: 2, b: 40 });
    expect(JSON.stringify(toolMessage)).toContain('42');
    const { call } = spanPair(ended, 'get-sum');
    expect(call.kind).toBe(SpanKind.CLIENT);
    expect(call.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(call.attributes[MCP_ATTR.methodName]).toBe('tools/call');
    expect(call.attributes[ATTR.toolName]).toBe('get-sum');
    expect(call.attributes[MCP_ATTR.networkTransport]).toBe(networkTransport);
    expect(call.attributes[MCP_ATTR.protocolVersion]).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(call.attributes[MCP_ATTR.jsonrpcRequestId]).toMatch(/^\d+$/);
    if (transport === 'stdio') expect(call.attributes[MCP_ATTR.sessionId]).toBeUndefined();
    else expect(call.attributes[MCP_ATTR.sessionId]).toEqual(expect.any(String));
    expect(spans.open()).toEqual([]);
  });

  it('gives the model a validation error, without calling the server, for arguments its schema rejects', async () => {
    const { toolMessage, spans: ended } = await runCalling(mcp, spans, 'get-sum', { a: 'two', b: 40 });
    expect(JSON.stringify(toolMessage)).toMatch(/invalid|expected/i);
    expect(ended.some((s) => s.name === 'tools/call get-sum')).toBe(false);
  });
});

describe('fixture server over stdio', () => {
  it("receives the tools/call span context in params._meta.traceparent; the span goes to the runtime's provider without being given it", async () => {
    const spans = collectSpans();
    // No tracerProvider: the call takes the tracer of the runtime running it (not the global no-op).
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE] });
    try {
      const { toolMessage, spans: ended } = await runCalling(mcp, spans, 'meta', {});
      const { call } = spanPair(ended, 'meta');
      const received = JSON.parse(String((toolMessage as { content: unknown }).content)) as { meta: { traceparent?: string } };
      const { traceId, spanId } = call.spanContext();
      expect(received.meta.traceparent).toBe(`00-${traceId}-${spanId}-01`);
    } finally {
      await mcp.close();
    }
  });

  it('returns an isError result to the model as an error result; both spans are ERROR', async () => {
    const spans = collectSpans();
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE], tracerProvider: spans.tracerProvider });
    try {
      const { toolMessage, spans: ended } = await runCalling(mcp, spans, 'fail', { why: 'no stock' });
      expect(JSON.stringify(toolMessage)).toContain('refused: no stock');
      const { execute, call } = spanPair(ended, 'fail');
      expect(call.status.code).toBe(SpanStatusCode.ERROR);
      expect(call.attributes[ATTR.errorType]).toBe('tool_error');
      expect(execute.status.code).toBe(SpanStatusCode.ERROR);
    } finally {
      await mcp.close();
    }
  });

  it('a server that dies mid-call fails that call with McpServerError naming it; spans closed, later calls fail too', async () => {
    const spans = collectSpans();
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE], tracerProvider: spans.tracerProvider });
    try {
      const { toolMessage, spans: ended } = await runCalling(mcp, spans, 'die', {});
      expect(JSON.stringify(toolMessage)).toContain('MCP server');
      expect(JSON.stringify(toolMessage)).toContain('fixture-server.ts: tools/call die failed: the connection closed');
      const { execute, call } = spanPair(ended, 'die');
      expect(call.status.code).toBe(SpanStatusCode.ERROR);
      expect(call.attributes[ATTR.errorType]).toBe('McpServerError');
      expect(execute.status.code).toBe(SpanStatusCode.ERROR);
      expect(spans.open()).toEqual([]);
      const meta = mcp.tools.find((t) => t.name === 'meta')!;
      const again = await Promise.resolve(meta.execute({}, { signal: new AbortController().signal, toolCallId: 'x' })).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(McpServerError);
      expect((again as McpServerError).server).toContain('fixture-server.ts');
    } finally {
      await mcp.close();
    }
  });

  it('a server killed (SIGKILL) during a call fails it with McpServerError; the span ends as ERROR', async () => {
    const spans = collectSpans();
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE], tracerProvider: spans.tracerProvider });
    try {
      const signal = new AbortController().signal;
      const meta = mcp.tools.find((t) => t.name === 'meta')!;
      const { pid } = JSON.parse(String(await meta.execute({}, { signal, toolCallId: 'a' }))) as { pid: number };
      const hang = mcp.tools.find((t) => t.name === 'hang')!;
      const call = Promise.resolve(hang.execute({}, { signal, toolCallId: 'b' })).catch((e: unknown) => e);
      await expect.poll(() => spans.open().some((s) => s.name === 'tools/call hang')).toBe(true);
      process.kill(pid, 'SIGKILL');
      const error = await call;
      expect(error).toBeInstanceOf(McpServerError);
      expect((error as Error).message).toContain('tools/call hang failed: the connection closed');
      const span = spans.spans().find((s) => s.name === 'tools/call hang')!;
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.attributes[ATTR.errorType]).toBe('McpServerError');
      expect(spans.open()).toEqual([]);
    } finally {
      await mcp.close();
    }
  });

  it('close() ends the server process', async () => {
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE] });
    const meta = mcp.tools.find((t) => t.name === 'meta')!;
    const { pid } = JSON.parse(String(await meta.execute({}, { signal: new AbortController().signal, toolCallId: 'x' }))) as { pid: number };
    expect(() => process.kill(pid, 0)).not.toThrow();
    await mcp.close();
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it("gives tools named outside the providers' rule a unique model-facing name; tools/call and its span keep the server's name", async () => {
    const spans = collectSpans();
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE], tracerProvider: spans.tracerProvider });
    try {
      const names = mcp.tools.map((t) => t.name);
      for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(new Set(names).size).toBe(names.length);
      expect(mcp.tools.map((t) => t.definition.name)).toEqual(names);
      const hashed = (name: string) => `weather_get_${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
      // weather.get and weather/get both become weather_get, which a tool already has: both take a suffix.
      expect(names).toEqual(expect.arrayContaining(['admin_tools_list', 'weather_get', hashed('weather.get'), hashed('weather/get')]));

      const { toolMessage, spans: ended } = await runCalling(mcp, spans, 'admin_tools_list', {});
      expect((toolMessage as { content: unknown }).content).toBe('called admin.tools.list');
      const execute = ended.find((s) => s.name === SPAN_NAME.tool('admin_tools_list'))!;
      const call = ended.find((s) => s.name === 'tools/call admin.tools.list')!;
      expect(execute.attributes[ATTR.toolName]).toBe('admin_tools_list');
      expect(call.attributes[ATTR.toolName]).toBe('admin.tools.list');
      expect(call.parentSpanContext?.spanId).toBe(execute.spanContext().spanId);

      spans.reset();
      const slashed = await runCalling(mcp, spans, hashed('weather/get'), {});
      expect((slashed.toolMessage as { content: unknown }).content).toBe('called weather/get');
      expect(slashed.spans.find((s) => s.name === 'tools/call weather/get')?.attributes[ATTR.toolName]).toBe('weather/get');
    } finally {
      await mcp.close();
    }
  });

  it('refreshes its tools on notifications/tools/list_changed', async () => {
    const mcp = await mcpTools({ command: process.execPath, args: ['--import', 'tsx', FIXTURE] });
    try {
      expect(mcp.tools.map((t) => t.name)).not.toContain('later');
      const grow = mcp.tools.find((t) => t.name === 'grow')!;
      await grow.execute({}, { signal: new AbortController().signal, toolCallId: 'x' });
      await expect.poll(() => mcp.tools.map((t) => t.name)).toContain('later');
    } finally {
      await mcp.close();
    }
  });

  it('a command that cannot start is an McpServerError naming it', async () => {
    const error = await mcpTools({ command: '/nonexistent/mcp-server', args: ['--token', 'x'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpServerError);
    expect((error as McpServerError).server).toBe('/nonexistent/mcp-server --token x');
  });

  it('an HTTP server that cannot be reached is an McpServerError naming the URL, its header values masked', async () => {
    const token = 'Bearer mcp-secret-token-4711';
    const error = await mcpTools({ url: 'http://127.0.0.1:1/mcp', headers: { authorization: token } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpServerError);
    expect((error as McpServerError).server).toBe('http://127.0.0.1:1/mcp');
    expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain('mcp-secret-token-4711');
  });
});

describe('modelToolNames', () => {
  const sha = (name: string) => createHash('sha256').update(name).digest('hex');

  it('keeps valid names, replaces other characters with _, and does not depend on the order', () => {
    const names = ['get-sum', 'admin.tools.list', 'files/read', 'café au lait'];
    expect(modelToolNames(names)).toEqual(['get-sum', 'admin_tools_list', 'files_read', 'caf__au_lait']);
    expect(modelToolNames([...names].reverse())).toEqual(['caf__au_lait', 'files_read', 'admin_tools_list', 'get-sum']);
  });

  it('cuts a name longer than 64 characters to 64, ending in a hash of the server name', () => {
    const long = `${'segment.'.repeat(10)}end`;
    const [name] = modelToolNames([long]);
    expect(name).toBe(`${'segment_'.repeat(10).slice(0, 55)}_${sha(long).slice(0, 8)}`);
    expect(name).toHaveLength(64);
  });

  it('takes more hash digits when a suffixed name is itself taken', () => {
    const taken = `a_b_${sha('a.b').slice(0, 8)}`;
    expect(modelToolNames(['a.b', 'a_b', taken])).toEqual([`a_b_${sha('a.b').slice(0, 9)}`, 'a_b', taken]);
  });
});
