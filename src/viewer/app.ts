/**
 * The viewer's routes, on Hono (loaded when the viewer starts): the page and its bundled assets,
 * the JSON API the page reads (`/api/*`, shapes in api-types.ts), live updates as server-sent
 * events, and an OTLP/HTTP trace receiver (`POST /v1/traces`, JSON or protobuf).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { maskSecrets } from '../secrets.js';
import { decodeTraceRequest, TraceFileError } from '../traces/trace-file.js';
import type { RunQuery } from './api-types.js';
import { diffRuns } from './diff.js';
import { decodeOtlpProtobuf, encodeRpcStatus } from './otlp-protobuf.js';
import type { RunIndex } from './run-index.js';

const gunzipAsync = promisify(gunzip);

/** What the routes need. */
export interface ViewerAppOptions {
  index: RunIndex;
  /** The followed file's path, shown in the page; undefined when only OTLP feeds the viewer. */
  file?: string;
  /** Largest OTLP request body, in bytes (after decompression too). */
  maxBodyBytes: number;
  /**
   * Host names the page may be reached by (the `Host` header without its port), besides IP
   * addresses. Any other name gets 403, so a web page elsewhere cannot read local traces through
   * DNS rebinding (which needs a name it controls).
   */
  allowedHosts: ReadonlySet<string>;
}

/**
 * Where `npm run build` writes the UI bundle (esbuild, see package.json); two levels up from
 * both src/viewer and dist/viewer is the package root.
 */
const ASSETS = new URL('../../dist/viewer-ui/', import.meta.url);

const ASSET_TYPES: Record<string, string> = {
  'main.js': 'text/javascript; charset=utf-8',
  'main.css': 'text/css; charset=utf-8',
};

/** OTLP/HTTP's protobuf media type (the OTLP specification, "OTLP/HTTP"). */
const PROTOBUF = 'application/x-protobuf';

/** gRPC status INVALID_ARGUMENT, the `code` of an OTLP/HTTP 400 answer's `google.rpc.Status`. */
const INVALID_ARGUMENT = 3;

/** Most page size of `GET /api/runs`. */
const MAX_PAGE = 500;

function page(title: string): string {
  const escaped = title.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escaped} · tracebound view</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/main.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/assets/main.js"></script>
</body>
</html>
`;
}

/** JSON with known API keys masked: a span may quote a provider's error text. */
function json(c: Context, body: unknown, status: 200 | 400 | 404 = 200): Response {
  return c.body(maskSecrets(JSON.stringify(body)), status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
}

function notFound(c: Context, message: string): Response {
  return json(c, { error: { type: 'not_found', message } }, 404);
}

function hostName(header: string | undefined): string {
  if (header === undefined) return '';
  // `[::1]:4040` -> `::1`; `localhost:4040` -> `localhost`.
  const bracketed = /^\[([^\]]+)\]/.exec(header);
  return (bracketed ? bracketed[1]! : header.replace(/:\d+$/, '')).toLowerCase();
}

function queryOf(c: Context): RunQuery {
  const offset = Number(c.req.query('offset') ?? 0);
  const limit = Number(c.req.query('limit') ?? 100);
  const text = (name: string): string | undefined => c.req.query(name) || undefined;
  return {
    agent: text('agent'),
    stopReason: text('stopReason'),
    conversation: text('conversation'),
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
    limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, MAX_PAGE) : 100,
  };
}

/** Builds the routes over an index. */
export function viewerApp(options: ViewerAppOptions): Hono {
  const { index } = options;
  const app = new Hono();

  app.use('*', async (c, next) => {
    const name = hostName(c.req.header('host'));
    if (isIP(name) === 0 && !options.allowedHosts.has(name)) {
      return c.text('tracebound view: this Host is not allowed; open the viewer by the address it printed\n', 403);
    }
    await next();
  });

  app.get('/', (c) => c.html(page(options.file ?? 'OTLP')));

  app.get('/assets/:file', async (c) => {
    const file = c.req.param('file');
    const type = ASSET_TYPES[file];
    if (type === undefined) return c.text('not found\n', 404);
    try {
      const body = await readFile(new URL(file, ASSETS));
      return c.body(body, 200, { 'content-type': type, 'cache-control': 'no-cache' });
    } catch {
      return c.text(`tracebound view: the UI bundle is missing (${file}): run \`npm run build\` in the tracebound package\n`, 500);
    }
  });

  app.get('/api/info', (c) => json(c, { file: options.file ?? null, version: index.version }));

  app.get('/api/runs', (c) => json(c, index.list(queryOf(c))));

  app.get('/api/runs/:id', (c) => {
    const detail = index.run(c.req.param('id'));
    return detail ? json(c, detail) : notFound(c, `no run with span id ${JSON.stringify(c.req.param('id'))}`);
  });

  app.get('/api/runs/:id/spans/:spanId', (c) => {
    const span = index.span(c.req.param('id'), c.req.param('spanId'));
    return span ? json(c, span) : notFound(c, `no span ${JSON.stringify(c.req.param('spanId'))} in that run`);
  });

  app.get('/api/conversations/:id', (c) => json(c, index.conversation(c.req.param('id'))));

  app.get('/api/agents', (c) => json(c, { agents: index.agents() }));

  app.get('/api/budget/:agent', (c) => json(c, index.budget(c.req.param('agent'))));

  app.get('/api/diff', (c) => {
    const [a, b] = [c.req.query('a') ?? '', c.req.query('b') ?? ''];
    const baseline = index.summary(a);
    const candidate = index.summary(b);
    if (!baseline || !candidate) return notFound(c, `no run with span id ${JSON.stringify(baseline ? b : a)}`);
    return json(c, diffRuns(baseline, candidate));
  });

  app.get('/api/events', (c) =>
    streamSSE(c, async (stream) => {
      let wake: (() => void) | undefined;
      const off = index.onChange(() => wake?.());
      let closed = false;
      stream.onAbort(() => {
        closed = true;
        wake?.();
      });
      let sent = -1;
      while (!closed) {
        if (index.version !== sent) {
          // The first message names no trace: the page has read nothing yet.
          const traces = sent < 0 ? [] : index.changedSince(sent);
          sent = index.version;
          await stream.writeSSE({ event: 'change', data: JSON.stringify({ version: sent, traces }) });
          // Changes come in bursts (a file read in chunks); one message per 200 ms is enough.
          await stream.sleep(200);
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
      off();
    }),
  );

  app.post('/v1/traces', bodyLimit({ maxSize: options.maxBodyBytes, onError: (c) => c.text('request body too large\n', 413) }), async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const protobuf = type === PROTOBUF;
    if (!protobuf && type !== 'application/json') {
      return c.text(`unsupported content-type ${JSON.stringify(type)}: send OTLP/HTTP as application/json or ${PROTOBUF}\n`, 415);
    }
    const reject = async (message: string): Promise<Response> => {
      index.problem({ source: 'POST /v1/traces', message });
      if (protobuf) return c.body(Buffer.from(await encodeRpcStatus(INVALID_ARGUMENT, message)), 400, { 'content-type': PROTOBUF });
      return c.json({ code: INVALID_ARGUMENT, message }, 400);
    };
    let body: Buffer = Buffer.from(await c.req.arrayBuffer());
    const encoding = (c.req.header('content-encoding') ?? 'identity').toLowerCase();
    if (encoding === 'gzip') {
      try {
        body = await gunzipAsync(body, { maxOutputLength: options.maxBodyBytes });
      } catch (error) {
        return reject(`the gzip body could not be inflated (${(error as Error).message})`);
      }
    } else if (encoding !== 'identity') {
      return c.text(`unsupported content-encoding ${JSON.stringify(encoding)}: send gzip or none\n`, 415);
    }
    let document: unknown;
    try {
      document = protobuf ? await decodeOtlpProtobuf(body) : (JSON.parse(body.toString('utf8')) as unknown);
    } catch (error) {
      return reject(`not a valid ${protobuf ? 'protobuf' : 'JSON'} ExportTraceServiceRequest (${(error as Error).message})`);
    }
    try {
      index.add(decodeTraceRequest(document, 'POST /v1/traces'), 'otlp');
    } catch (error) {
      if (!(error instanceof TraceFileError)) throw error;
      return reject(error.message);
    }
    // An empty ExportTraceServiceResponse: everything was accepted.
    return protobuf ? c.body(new Uint8Array(0), 200, { 'content-type': PROTOBUF }) : c.json({}, 200);
  });

  return app;
}
