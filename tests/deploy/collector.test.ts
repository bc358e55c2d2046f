/**
 * collector/config.yaml, checked without running a Collector: its pipelines name only defined
 * components, it listens where tracebound sends, it points at the compose services, the Langfuse
 * exporter reaches Langfuse's OTLP route with Basic auth from the environment, and what its file
 * exporter writes is a file tracebound reads.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { showCommand } from '../../src/cli/show.js';
import { readRecording, ReplayFileError } from '../../src/replay/read.js';
import { createTracerProvider } from '../../src/telemetry/setup.js';
import { readTraceFile, TraceFileError } from '../../src/traces/trace-file.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = join(ROOT, 'tests/fixtures/traces/collector-file-exporter.jsonl');

/**
 * Langfuse's OTLP trace route: its docs give `/api/public/otel` as the OTLP endpoint (SDKs append
 * `/v1/traces`), and the server's route is `web/src/pages/api/public/otel/v1/traces/index.ts`.
 */
const LANGFUSE_OTLP_TRACES_PATH = '/api/public/otel/v1/traces';

type Components = Record<string, Record<string, unknown> | null>;
interface CollectorConfig {
  receivers: Components;
  processors?: Components;
  exporters: Components;
  extensions?: Components;
  connectors?: Components;
  service: {
    extensions?: string[];
    pipelines: Record<string, { receivers: string[]; processors?: string[]; exporters: string[] }>;
  };
}
interface Service {
  ports?: string[];
  expose?: (string | number)[];
  volumes?: string[];
  environment?: Record<string, string>;
}

async function loadConfig(): Promise<CollectorConfig> {
  return parse(await readFile(join(ROOT, 'collector/config.yaml'), 'utf8')) as CollectorConfig;
}
async function loadCompose(): Promise<{ services: Record<string, Service> }> {
  return parse(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
}

/** The component type of an id: `otlp_grpc/jaeger` → `otlp_grpc`. */
const typeOf = (id: string): string => id.split('/')[0]!;

/** The one component of `section` whose type is one of `types`. */
function only(section: Components, types: string[]): [string, Record<string, unknown>] {
  const found = Object.entries(section).filter(([id]) => types.includes(typeOf(id)));
  expect(found.map(([id]) => id), `one of ${types.join(', ')}`).toHaveLength(1);
  return [found[0]![0], found[0]![1] ?? {}];
}

function get(object: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);
}

function portOf(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

function publishedContainerPorts(service: Service): number[] {
  return (service.ports ?? []).map((p) => Number(String(p).split(':').pop()));
}

describe('collector/config.yaml', () => {
  it('names in its pipelines only receivers, processors, exporters and extensions it defines', async () => {
    const config = await loadConfig();
    const pipelines = Object.entries(config.service.pipelines);
    expect(pipelines.length).toBeGreaterThan(0);
    const connectors = Object.keys(config.connectors ?? {});
    for (const [name, pipeline] of pipelines) {
      expect(['traces', 'metrics', 'logs']).toContain(typeOf(name));
      expect(pipeline.receivers.length, `${name}: receivers`).toBeGreaterThan(0);
      expect(pipeline.exporters.length, `${name}: exporters`).toBeGreaterThan(0);
      for (const id of pipeline.receivers) expect([...Object.keys(config.receivers), ...connectors], `${name}: receiver ${id}`).toContain(id);
      for (const id of pipeline.processors ?? []) expect(Object.keys(config.processors ?? {}), `${name}: processor ${id}`).toContain(id);
      for (const id of pipeline.exporters) expect([...Object.keys(config.exporters), ...connectors], `${name}: exporter ${id}`).toContain(id);
    }
    for (const id of config.service.extensions ?? []) expect(Object.keys(config.extensions ?? {}), `extension ${id}`).toContain(id);
    // And defines nothing it leaves unused (an unused component is a typo waiting to happen).
    const used = new Set(pipelines.flatMap(([, p]) => [...p.receivers, ...(p.processors ?? []), ...p.exporters]));
    for (const id of [...Object.keys(config.receivers), ...Object.keys(config.processors ?? {}), ...Object.keys(config.exporters)]) {
      expect(used, `${id} is defined but in no pipeline`).toContain(id);
    }
  });

  it('sends traces through memory_limiter (first) and batch to Jaeger, Langfuse and the file', async () => {
    const config = await loadConfig();
    const traces = config.service.pipelines.traces!;
    expect(traces.receivers).toEqual(['otlp']);
    expect(traces.processors?.[0]).toBe('memory_limiter');
    expect(traces.processors).toContain('batch');
    expect(traces.exporters.map(typeOf).sort()).toEqual(['file', 'otlp_grpc', 'otlp_http']);
    expect(config.service.extensions).toContain('health_check');
  });

  it('sends metrics through memory_limiter (first) and batch to a Prometheus endpoint compose publishes on localhost', async () => {
    const config = await loadConfig();
    const { services } = await loadCompose();
    const metrics = config.service.pipelines.metrics!;
    expect(metrics.receivers).toEqual(['otlp']);
    expect(metrics.processors).toEqual(['memory_limiter', 'batch']);
    expect(metrics.exporters).toEqual(['prometheus']);
    const [, prometheus] = only(config.exporters, ['prometheus']);
    const endpoint = String(prometheus.endpoint);
    expect(endpoint).toBe('0.0.0.0:8889');
    expect(get(prometheus, 'resource_to_telemetry_conversion.enabled')).toBe(true);
    expect(services['otel-collector']!.ports).toContain(`127.0.0.1:${portOf(endpoint)}:${portOf(endpoint)}`);
  });

  it('receives OTLP on 0.0.0.0:4317 (gRPC) and 0.0.0.0:4318 (HTTP), the ports compose publishes', async () => {
    const config = await loadConfig();
    const { services } = await loadCompose();
    const grpc = String(get(config.receivers.otlp, 'protocols.grpc.endpoint'));
    const http = String(get(config.receivers.otlp, 'protocols.http.endpoint'));
    expect(grpc).toBe('0.0.0.0:4317');
    expect(http).toBe('0.0.0.0:4318');
    const published = publishedContainerPorts(services['otel-collector']!);
    expect(published).toContain(portOf(grpc));
    expect(published).toContain(portOf(http));
    const health = String(get(config.extensions?.health_check, 'endpoint'));
    expect(health).toMatch(/^0\.0\.0\.0:/);
    expect(published).toContain(portOf(health));
  });

  it('exports to the jaeger service over OTLP gRPC, in plain text on the compose network', async () => {
    const config = await loadConfig();
    const { services } = await loadCompose();
    const [, jaeger] = only(config.exporters, ['otlp_grpc', 'otlp']);
    const endpoint = String(jaeger.endpoint);
    const host = endpoint.split(':')[0]!;
    expect(services, `exporter host ${host} is a compose service`).toHaveProperty(host);
    expect(host).toBe('jaeger');
    expect(portOf(endpoint)).toBe(4317);
    expect((services.jaeger!.expose ?? []).map(Number)).toContain(4317);
    expect(get(jaeger, 'tls.insecure')).toBe(true);
  });

  it("exports to Langfuse's OTLP route (endpoint + /v1/traces) with Basic auth from LANGFUSE_AUTH", async () => {
    const config = await loadConfig();
    const { services } = await loadCompose();
    const [, langfuse] = only(config.exporters, ['otlp_http', 'otlphttp']);
    // The OTLP/HTTP exporter sends traces to `endpoint` + "/v1/traces" unless traces_endpoint is set.
    expect(langfuse.traces_endpoint).toBeUndefined();
    const url = new URL(`${String(langfuse.endpoint)}/v1/traces`);
    expect(url.pathname).toBe(LANGFUSE_OTLP_TRACES_PATH);
    expect(url.hostname).toBe('langfuse-web');
    expect(services).toHaveProperty(url.hostname);
    expect(publishedContainerPorts(services['langfuse-web']!)).toContain(Number(url.port));
    const headers = (langfuse.headers ?? {}) as Record<string, string>;
    expect(headers.Authorization).toBe('Basic ${env:LANGFUSE_AUTH}');
    // The variable reaches the Collector's container.
    expect(services['otel-collector']!.environment).toHaveProperty('LANGFUSE_AUTH');
    // No key is written into the file itself.
    const text = await readFile(join(ROOT, 'collector/config.yaml'), 'utf8');
    expect(text).not.toMatch(/[ps]k-lf-/);
  });

  it('writes the file exporter output (OTLP/JSON lines, appended) onto the mounted collector-data volume', async () => {
    const config = await loadConfig();
    const { services } = await loadCompose();
    const [, file] = only(config.exporters, ['file']);
    expect(file.format ?? 'json').toBe('json');
    expect(file.append).toBe(true);
    expect(file.rotation).toBeUndefined();
    expect(file.compression).toBeUndefined();
    const path = String(file.path);
    const mount = (services['otel-collector']!.volumes ?? [])
      .map((v) => String(v).split(':'))
      .find(([source]) => source === 'collector-data');
    expect(mount, 'collector-data is mounted').toBeDefined();
    const target = mount![1]!;
    expect(posix.relative(target, path).startsWith('..'), `${path} is under ${target}`).toBe(false);
  });
});

describe("tracebound's otlp exporter reaches the collector's HTTP receiver", () => {
  const saved: Record<string, string | undefined> = {};
  const variables = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'];
  let server: Server | undefined;
  beforeEach(() => {
    for (const name of variables) {
      saved[name] = process.env[name];
      delete process.env[name];
    }
  });
  afterEach(async () => {
    for (const name of variables) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    if (server) await new Promise((done) => server!.close(done));
    server = undefined;
  });

  /** Starts a receiver; resolves with its port, or undefined when the port is taken. */
  async function receiver(port: number, requests: IncomingMessage[]): Promise<number | undefined> {
    server = createServer((request, response) => {
      requests.push(request);
      request.resume();
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    });
    // Not `events.once(server, 'listening')`: it rejects on 'error', so a taken port would throw
    // EADDRINUSE instead of skipping.
    const listening = server;
    const failure = await new Promise<NodeJS.ErrnoException | undefined>((done) => {
      listening.once('listening', () => done(undefined)).once('error', (error: NodeJS.ErrnoException) => done(error));
      listening.listen(port, '127.0.0.1');
    });
    if (failure) {
      server = undefined;
      if (failure.code === 'EADDRINUSE') return undefined;
      throw failure;
    }
    return (server.address() as AddressInfo).port;
  }

  async function exportOneSpan(): Promise<void> {
    const provider = createTracerProvider({ exporter: 'otlp' });
    provider.getTracer('deploy-test').startSpan('ping').end();
    await provider.forceFlush();
    await provider.shutdown();
  }

  it('README documents OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318, the port of the HTTP receiver', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/OTEL_EXPORTER_OTLP_ENDPOINT=(http:\/\/localhost:(\d+))/g)];
    expect(documented.length).toBeGreaterThan(0);
    const config = await loadConfig();
    const http = String(get(config.receivers.otlp, 'protocols.http.endpoint'));
    for (const match of documented) expect(Number(match[2]), match[0]).toBe(portOf(http));
  });

  it('posts to <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces, as the README tells users to set it', async () => {
    const requests: IncomingMessage[] = [];
    const port = await receiver(0, requests);
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${port}`;
    await exportOneSpan();
    expect(requests.map((r) => [r.method, r.url])).toEqual([['POST', '/v1/traces']]);
  });

  it('with no OTEL_EXPORTER_OTLP_* set, posts to port 4318 /v1/traces (skipped when 127.0.0.1:4318 is taken)', async (context) => {
    const requests: IncomingMessage[] = [];
    const config = await loadConfig();
    const port = await receiver(portOf(String(get(config.receivers.otlp, 'protocols.http.endpoint'))), requests);
    if (port === undefined) return context.skip();
    await exportOneSpan();
    expect(requests.map((r) => [r.method, r.url])).toEqual([['POST', '/v1/traces']]);
  });
});

describe("a file in the Collector file exporter's format", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracebound-collector-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** The fixture without its id-less span (see SOURCES.md). */
  async function withIdsOnly(): Promise<string> {
    const document = JSON.parse(await readFile(FIXTURE, 'utf8')) as {
      resourceSpans: { scopeSpans: { spans: { traceId?: string }[] }[] }[];
    };
    for (const resource of document.resourceSpans) {
      for (const scope of resource.scopeSpans) scope.spans = scope.spans.filter((span) => span.traceId);
    }
    const path = join(dir, 'traces.jsonl');
    await writeFile(path, `${JSON.stringify(document)}\n`);
    return path;
  }

  it('is refused at the span the Collector wrote without ids, naming the line and field', async () => {
    const error = await readTraceFile(FIXTURE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TraceFileError);
    expect(error).toMatchObject({ line: 1, field: 'resourceSpans[0].scopeSpans[0].spans[1].traceId' });
  });

  it('is read by readTraceFile: hex ids, string int64 times, enums, every attribute type, events, resource', async () => {
    const spans = await readTraceFile(await withIdsOnly());
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span).toMatchObject({
      traceId: '0102030405060708090a0b0c0d0e0f10',
      spanId: '1112131415161718',
      parentSpanId: '1112131415161718',
      name: 'testSpan',
      kind: 'CLIENT',
      startTimeUnixNano: 1684617382541971000n,
      endTimeUnixNano: 1684623646539558000n,
      status: { code: 'OK', message: 'message' },
      resource: { 'host.name': 'testHost', 'service.name': 'testService' },
    });
    expect(span.attributes).toEqual({
      string: 'value',
      bool: true,
      int: 1,
      double: 1.1,
      bytes: 'Zm9v',
      array: '[1,"str"]',
      kvList: '{"int":1,"string":"string"}',
    });
    expect(span.events).toEqual([
      {
        name: 'eventName',
        timeUnixNano: 1684620382541971000n,
        attributes: { string: 'value', bool: true, int: 1, double: 1.1, bytes: 'Zm9v' },
      },
    ]);
  });

  it('is printed by `tracebound show`', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await showCommand(await withIdsOnly(), { stdout: (t) => out.push(t), stderr: (t) => err.push(t), color: false });
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    expect(out.join('')).toContain('0102030405060708090a0b0c0d0e0f10');
    expect(out.join('')).toContain('testSpan');
  });

  it('gets "no tracebound runs" from replay (it holds none)', async () => {
    const path = await withIdsOnly();
    const error = await readRecording(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReplayFileError);
    expect((error as Error).message).toMatch(/no tracebound runs/);
  });
});
