/**
 * An agent using an MCP server's tools: server-everything (`@modelcontextprotocol/server-everything`,
 * a dev dependency), started over stdio. Offline: a scripted model calls `get-sum`, then answers
 * with what the tool returned. Run with `node --import tsx examples/mcp.ts`.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { agent, mcpTools, tracedRuntime } from 'tracebound';
import { collectSpans, scriptedModel } from 'tracebound/testing';

// Your own OpenTelemetry setup (README): a context manager, so the tools/call span nests under
// execute_tool (the runtime hands its tracer to the tool call through that context).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const spans = collectSpans();
const mcp = await mcpTools({ command: 'npx', args: ['mcp-server-everything', 'stdio'] });
console.log(mcp.tools.map((t) => t.name).join(' '));

const model = scriptedModel({
  respond: (request) =>
    request.messages.some((m) => m.role === 'tool')
      ? { text: `The tool said: ${String(request.messages.findLast((m) => m.role === 'tool')?.content)}` }
      : { toolCalls: [{ id: 'call_1', name: 'get-sum', arguments: { a: 2, b: 40 } }] },
});
const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider });
try {
  const result = await runtime.run(agent({ name: 'calculator', instructions: 'Add with the tools.', model, tools: mcp.tools }), 'What is 2 + 40?');
  console.log(result.output);
  const call = spans.spans().find((s) => s.name === 'tools/call get-sum')!;
  const parent = spans.spans().find((s) => s.spanContext().spanId === call.parentSpanContext?.spanId);
  console.log(`${call.name} (${String(call.attributes['network.transport'])}) under ${parent?.name ?? 'no parent'}`);
} finally {
  await mcp.close();
}
