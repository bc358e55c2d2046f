/**
 * `import('tracebound')` loads none of its heavy dependencies (provider SDKs, tokenizers, price
 * data, ioredis, Langfuse, the OpenTelemetry SDK and OTLP packages); each loads when first used.
 * Every case runs the built package (dist/: `npm test` builds first) in a fresh node process that
 * records each module it loads: ESM and `import`ed CommonJS through a `module.register` load hook,
 * CommonJS `require`d by tracebound (createRequire) through `require.cache`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, startRecordedServer, type RecordedServer } from '../../src/testing/recorded-server.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { ATTR, SPAN_NAME } from '../../src/tracing/attributes.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = pathToFileURL(join(ROOT, 'dist/index.js')).href;

/** What must not load with the package, each a package name under node_modules. */
const HEAVY = [
  'openai',
  '@anthropic-ai/sdk',
  '@anthropic-ai/tokenizer',
  '@google/genai',
  'google-auth-library',
  'gpt-tokenizer',
  '@pydantic/genai-prices',
  'ioredis',
  '@langfuse/otel',
  '@langfuse/core',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/otlp-exporter-base',
  '@opentelemetry/otlp-transformer',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/resources',
  '@opentelemetry/context-async-hooks',
  '@opentelemetry/core',
  '@modelcontextprotocol/sdk',
  '@ai-sdk/provider',
] as const;

/** Records every module the ESM loader loads, one URL a line, in the file named by `initialize`. */
const LOAD_HOOK = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function load(url, context, next) {
  appendFileSync(out, url + '\\n');
  return next(url, context);
}`;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracebound-lazy-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let scripts = 0;

/**
 * Runs `body` (ESM, top-level await; `tracebound` is the imported package) in a fresh node
 * process and returns the packages under node_modules it loaded, by name.
 */
async function packagesLoadedBy(body: string, env: Record<string, string> = {}): Promise<Set<string>> {
  const out = join(dir, `loaded-${++scripts}.txt`);
  const script = `
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(LOAD_HOOK)}`)}, { data: { out: ${JSON.stringify(out)} } });
const tracebound = await import(${JSON.stringify(ENTRY)});
${body}
appendFileSync(${JSON.stringify(out)}, Object.keys(createRequire(${JSON.stringify(ENTRY)}).cache).join('\\n') + '\\n');
`;
  // Asynchronous: the recorded server answering the child runs in this process.
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, ...env } });
  const loaded = (await readFile(out, 'utf8')).split('\n');
  return new Set(loaded.flatMap((entry) => [...entry.matchAll(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)].map((m) => m[1] as string)));
}

describe("import('tracebound')", () => {
  it('loads no provider SDK, tokenizer, price data, ioredis, Langfuse, OpenTelemetry SDK or OTLP package', async () => {
    const loaded = await packagesLoadedBy('');
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual([]);
    // The hook did record the package's own dependencies: zod (needed by agent() and tool()) and
    // the OpenTelemetry API (the spans the runtime makes).
    expect(loaded).toContain('zod');
    expect(loaded).toContain('@opentelemetry/api');
  });
});

describe('each dependency loads on first use', () => {
  let server: RecordedServer;
  beforeAll(async () => {
    server = await startRecordedServer();
  });
  afterAll(() => server.close());

  it('a traced run of an openai() model loads openai, the price data, the SDK and the OTLP/JSON serializer of the trace file, and nothing else', async () => {
    server.enqueue('/v1/chat/completions', await loadFixture(join(ROOT, 'tests/fixtures/openai/chat-cached.json')));
    const traceFile = join(dir, 'traces.jsonl');
    const loaded = await packagesLoadedBy(
      `
const runtime = tracebound.tracedRuntime({ exporter: 'file', traceFile: process.env.TRACE_FILE });
const model = tracebound.openai('gpt-4.1', { baseURL: process.env.BASE_URL, apiKey: 'sk-test' });
await runtime.run(tracebound.agent({ name: 'lazy', instructions: 'Answer briefly.', model }), 'hi');
await runtime.shutdown();
`,
      { BASE_URL: `${server.url}/v1`, TRACE_FILE: traceFile },
    );
    expect(server.requests).toHaveLength(1);
    // The run was priced (the price data did load) and its spans reached the trace file.
    const chat = (await readTraceFile(traceFile)).find((span) => span.name === SPAN_NAME.chat('gpt-4.1'));
    expect(chat?.attributes[ATTR.costAmount]).toBeGreaterThan(0);
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual([
      'openai',
      '@pydantic/genai-prices',
      '@opentelemetry/otlp-transformer',
      '@opentelemetry/sdk-trace-base',
      '@opentelemetry/resources',
      '@opentelemetry/context-async-hooks',
      '@opentelemetry/core',
    ]);
  });

  it('a google() model loads @google/genai (and its google-auth-library) at its first call, not when defined', async () => {
    server.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', await loadFixture(join(ROOT, 'tests/fixtures/google/text.json')));
    const defined = await packagesLoadedBy(`tracebound.google('gemini-2.5-flash', { apiKey: 'k' });`);
    expect(HEAVY.filter((name) => defined.has(name))).toEqual([]);
    const called = await packagesLoadedBy(
      `await tracebound.google('gemini-2.5-flash', { baseURL: process.env.BASE_URL, apiKey: 'k' }).generate({ messages: [{ role: 'user', content: 'Hello!' }], tools: [] });`,
      { BASE_URL: server.url },
    );
    expect(server.requests.at(-1)?.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(HEAVY.filter((name) => called.has(name))).toEqual(['@google/genai', 'google-auth-library']);
  });

  it('redisStore() loads ioredis, without connecting', async () => {
    const loaded = await packagesLoadedBy(`tracebound.redisStore({ url: 'redis://127.0.0.1:1' });`);
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual(['ioredis']);
  });

  it('mcpTools() loads the MCP SDK and the W3C propagator (@opentelemetry/core), at its first call', async () => {
    const loaded = await packagesLoadedBy(
      `await tracebound.mcpTools({ command: '/nonexistent/mcp-server' }).catch((e) => { if (e.name !== 'McpServerError') throw e; });`,
    );
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual(['@opentelemetry/core', '@modelcontextprotocol/sdk']);
  });
});
