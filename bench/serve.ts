/**
 * Runs per second and p50/p99 latency of `serve` (its Hono HTTP input, a traced runtime, a scripted model
 * agent: one tool call, then the answer) against a bare `node:http` handler running a hand-written
 * traced loop over the same model and tool, in the same invocation and with the same OpenTelemetry
 * SDK setup. The load comes from a second process (this file, run as `client`) over keep-alive
 * connections, so the server's process does nothing but serve.
 *
 * Run with `npm run bench:serve`. Prints a table, then a `BENCH_JSON` line followed by the figures
 * as one JSON line. Targets: serve >= 2,000 runs/s, and serve's time per run <= 2x the bare one's.
 */
import { execFile } from 'node:child_process';
import { Agent as HttpAgent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { SpanKind, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { context } from '@opentelemetry/api';
import { agent } from '../src/agent.js';
import { toUsage, type Message } from '../src/messages.js';
import type { Model, ModelResponse } from '../src/providers/model.js';
import { httpInput } from '../src/serve/inputs/http.js';
import { serve } from '../src/serve/serve.js';
import { ATTR } from '../src/tracing/attributes.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { add } from './scenario.js';

const REQUESTS = 6_000;
const WARMUP = 1_000;
const CONCURRENCY = 50;
const ROUNDS = 5;
const TARGET = { runsPerSecond: 2_000, overBare: 2 } as const;

// ---- the load client (second process) ----

/** Sends `total` POSTs over `concurrency` keep-alive connections; prints `{ seconds, latenciesMs, errors }`. */
async function client(url: string, total: number, concurrency: number): Promise<void> {
  const agentPool = new HttpAgent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL('/v1/runs', url);
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const post = (i: number) =>
    new Promise<number>((resolve, reject) => {
      const body = JSON.stringify({ input: `request ${i}` });
      const req = request(target, { method: 'POST', agent: agentPool, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (next < total) {
      const began = performance.now();
      const status = await post(next++).catch(() => 0);
      latencies.push(performance.now() - began);
      if (status !== 200) errors++;
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - began) / 1_000;
  agentPool.destroy();
  process.stdout.write(JSON.stringify({ seconds, latenciesMs: latencies, errors }));
}

// ---- the servers ----

/** Counts exported spans and drops them: the figures measure serving, not disk writes. */
class CountingExporter implements SpanExporter {
  count = 0;
  export(spans: ReadableSpan[], done: (result: { code: 0 }) => void): void {
    this.count += spans.length;
    done({ code: 0 });
  }
  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}

const usage = toUsage({ inputTokens: 100, outputTokens: 20 });
const CALL = { id: 'call_1', name: 'add', arguments: { a: 1, b: 2 } };

/** A scripted model that keeps no requests (scriptedModel keeps them all: memory grows under load). */
const model: Model = {
  provider: 'openai',
  modelId: 'gpt-4o-mini',
  async generate(req): Promise<ModelResponse> {
    const answered = req.messages.some((m) => m.role === 'tool');
    return answered
      ? { id: 'r2', model: 'gpt-4o-mini', text: 'The sum is 3.', toolCalls: [], finishReason: 'stop', usage }
      : { id: 'r1', model: 'gpt-4o-mini', text: '', toolCalls: [CALL], finishReason: 'tool_calls', usage };
  },
  // eslint-disable-next-line require-yield
  async *stream() {
    throw new Error('the bench does not stream');
  },
};

const benchAgent = agent({ name: 'calc', instructions: 'Use the tool.', model, tools: [add] });

function tracing() {
  const exporter = new CountingExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 16_384, maxExportBatchSize: 1_024, scheduledDelayMillis: 500 })],
  });
  return { exporter, provider };
}

/** The baseline: parse, check, loop (model, tool, model) with run/chat/tool spans, answer JSON. */
function bareLoop(tracer: Tracer) {
  const span = <T>(name: string, kind: SpanKind, fn: () => Promise<T>) =>
    tracer.startActiveSpan(name, { kind, attributes: { [ATTR.operationName]: name.split(' ')[0] } }, async (s) => {
      try {
        return await fn();
      } finally {
        s.end();
      }
    });
  return (input: string) =>
    span(`invoke_agent calc`, SpanKind.INTERNAL, async () => {
      const messages: Message[] = [{ role: 'user', content: input }];
      for (;;) {
        const response = await span('chat gpt-4o-mini', SpanKind.CLIENT, () => model.generate({ system: 'Use the tool.', messages: [...messages], tools: [add.definition] }));
        messages.push({ role: 'assistant', content: response.text, ...(response.toolCalls.length ? { toolCalls: response.toolCalls } : {}) });
        if (response.toolCalls.length === 0) return response.text;
        for (const call of response.toolCalls) {
          const args = add.parameters.parse(call.arguments);
          const result = await span(`execute_tool ${call.name}`, SpanKind.INTERNAL, async () => add.execute(args, { signal: new AbortController().signal, toolCallId: call.id }));
          messages.push({ role: 'tool', toolCallId: call.id, toolName: call.name, content: String(result) });
        }
      }
    });
}

async function bareServer(tracer: Tracer) {
  const run = bareLoop(tracer);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: unknown };
      if (typeof body.input !== 'string') return void res.writeHead(400).end();
      const text = JSON.stringify({ output: await run(body.input) });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, stop: () => new Promise<void>((r) => server.close(() => r())) };
}

async function serveServer(provider: BasicTracerProvider) {
  const http = httpInput({ port: 0 });
  const server = serve({ agent: benchAgent, runtime: tracedRuntime({ tracerProvider: provider }), inputs: [http], concurrency: 64, backlog: 1_024 });
  await server.start();
  return { url: http.url, stop: () => server.stop() };
}

// ---- measuring ----

interface Load {
  seconds: number;
  latenciesMs: number[];
  errors: number;
}

async function load(url: string, total: number): Promise<Load> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', import.meta.filename, 'client', url, String(total), String(CONCURRENCY)], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as Load;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Figures {
  runsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  spans: number;
}

interface Variant {
  url: string;
  stop(): Promise<void>;
  rounds: Load[];
  exporter: CountingExporter;
  provider: BasicTracerProvider;
}

async function variant(kind: 'bare' | 'serve'): Promise<Variant> {
  const { exporter, provider } = tracing();
  const server = kind === 'bare' ? await bareServer(provider.getTracer('bench')) : await serveServer(provider);
  await load(server.url, WARMUP);
  return { ...server, rounds: [], exporter, provider };
}

async function figures(v: Variant): Promise<Figures> {
  await v.stop();
  await v.provider.shutdown();
  // The median round by throughput, so one noisy round does not decide.
  const median = [...v.rounds].sort((a, b) => a.seconds - b.seconds)[Math.floor(v.rounds.length / 2)]!;
  const sorted = [...median.latenciesMs].sort((a, b) => a - b);
  return {
    runsPerSecond: REQUESTS / median.seconds,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    errors: v.rounds.reduce((n, r) => n + r.errors, 0),
    spans: v.exporter.count,
  };
}

/** Rounds alternate between the two servers, so drift in the machine's load hits both alike. */
async function measure(): Promise<{ bare: Figures; served: Figures }> {
  const bare = await variant('bare');
  const served = await variant('serve');
  for (let i = 0; i < ROUNDS; i++) {
    bare.rounds.push(await load(bare.url, REQUESTS));
    served.rounds.push(await load(served.url, REQUESTS));
  }
  return { bare: await figures(bare), served: await figures(served) };
}

async function main(): Promise<void> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const { bare, served } = await measure();
  const ratio = bare.runsPerSecond / served.runsPerSecond;
  const row = (name: string, f: Figures) =>
    `${name.padEnd(28)} ${f.runsPerSecond.toFixed(0).padStart(8)} ${f.p50Ms.toFixed(2).padStart(9)} ${f.p99Ms.toFixed(2).padStart(9)} ${String(f.errors).padStart(7)} ${String(f.spans).padStart(8)}`;
  console.log(`serve vs bare node:http, ${REQUESTS} requests x ${ROUNDS} rounds at concurrency ${CONCURRENCY} from a second process`);
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x ${os.cpus().length}\n`);
  console.log(`${'server'.padEnd(28)} ${'runs/s'.padStart(8)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'errors'.padStart(7)} ${'spans'.padStart(8)}`);
  console.log(row('bare node:http + bare loop', bare));
  console.log(row('serve (Hono HTTP input)', served));
  const verdict = { runsPerSecond: served.runsPerSecond >= TARGET.runsPerSecond, overBare: ratio <= TARGET.overBare };
  console.log(`\nserve runs/s: ${served.runsPerSecond.toFixed(0)}   target >= ${TARGET.runsPerSecond}   ${verdict.runsPerSecond ? 'ok' : 'MISSED'}`);
  console.log(`serve time per run / bare: ${ratio.toFixed(2)}x   target <= ${TARGET.overBare}x   ${verdict.overBare ? 'ok' : 'MISSED'}`);
  console.log('BENCH_JSON');
  console.log(JSON.stringify({ bench: 'serve', node: process.version, requests: REQUESTS, rounds: ROUNDS, concurrency: CONCURRENCY, bare, serve: served, ratio, target: TARGET, verdict }));
}

if (process.argv[2] === 'client') {
  const [url, total, concurrency] = process.argv.slice(3);
  await client(url!, Number(total), Number(concurrency));
} else {
  await main();
}
