/**
 * What an MCP tool costs per call through tracebound, against the bare MCP SDK client calling the
 * same server in the same run: server-everything's `get-sum` over stdio (one server process per
 * side, both started here), called sequentially.
 *
 * - bare: `client.callTool({ name: 'get-sum', arguments })` on the SDK's own Client.
 * - tracebound: the tool from `mcpTools()` as the runtime calls it (arguments validated by its
 *   schema, then `execute`) under an `execute_tool` span, with the `tools/call` CLIENT span and
 *   the `_meta.traceparent` injection; spans go to an in-memory exporter through a batch processor.
 *
 * Rounds alternate the two sides (rotated order) and the median round is reported.
 *
 * Run with `npm run bench:mcp`. Prints a table, then a `BENCH_JSON` line followed by the figures
 * as one JSON line.
 */
import { context, trace } from '@opentelemetry/api';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { mcpTools } from '../src/mcp/index.js';
import { SPAN_NAME } from '../src/tracing/attributes.js';
import { EVERYTHING } from '../tests/mcp/support.js';
import { useContextManager } from './scenario.js';
import { medianUsPerCall } from './stats.js';

const CALLS_PER_ROUND = 300;
const ROUNDS = 15;
const args = { a: 2, b: 40 };

useContextManager(true);
const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 100_000 })] });
const tracer = provider.getTracer('bench');

const bare = new Client({ name: 'bench', version: '1' });
await bare.connect(new StdioClientTransport({ command: process.execPath, args: [EVERYTHING, 'stdio'], stderr: 'ignore' }));
const mcp = await mcpTools({ command: process.execPath, args: [EVERYTHING, 'stdio'], tracerProvider: provider });
const sum = mcp.tools.find((t) => t.name === 'get-sum')!;
const signal = new AbortController().signal;

const sides = {
  bare: async () => {
    for (let i = 0; i < CALLS_PER_ROUND; i++) await bare.callTool({ name: 'get-sum', arguments: args });
  },
  tracebound: async () => {
    for (let i = 0; i < CALLS_PER_ROUND; i++) {
      const span = tracer.startSpan(SPAN_NAME.tool('get-sum'));
      await context.with(trace.setSpan(context.active(), span), async () => {
        const parsed = sum.parameters.safeParse(args);
        if (!parsed.success) throw parsed.error;
        await sum.execute(parsed.data, { signal, toolCallId: String(i) });
      });
      span.end();
    }
  },
} as const;
// Warm-up: JIT, the server's first calls.
for (let i = 0; i < 3; i++) for (const run of Object.values(sides)) await run();
await provider.forceFlush();
exporter.reset();

const { bare: bareUs, tracebound: traceboundUs } = await medianUsPerCall(sides, ROUNDS, CALLS_PER_ROUND);
await provider.forceFlush();
const spans = exporter.getFinishedSpans().length;

console.log(`MCP tools/call get-sum over stdio (server-everything), ${CALLS_PER_ROUND} sequential calls x ${ROUNDS} rounds, median round`);
console.log(`  bare SDK client     ${bareUs.toFixed(1)} µs/call`);
console.log(`  tracebound mcpTools ${traceboundUs.toFixed(1)} µs/call  (+${(traceboundUs - bareUs).toFixed(1)} µs, x${(traceboundUs / bareUs).toFixed(3)})`);
console.log(`  spans exported: ${spans} (expected ${2 * CALLS_PER_ROUND * ROUNDS})`);
console.log('BENCH_JSON');
console.log(JSON.stringify({ bareUsPerCall: bareUs, traceboundUsPerCall: traceboundUs, overheadUsPerCall: traceboundUs - bareUs, ratio: traceboundUs / bareUs, spans }));

await mcp.close();
await bare.close();
await provider.shutdown();
