import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';

/**
 * One recorded HTTP answer: a JSON body or a raw `text/event-stream` body, with status and
 * headers as the provider sent them.
 */
export interface RecordedExchange {
  /** HTTP status; 200 when absent. */
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body, sent as `application/json`. */
  json?: unknown;
  /** A raw server-sent-events body, sent as `text/event-stream`. */
  sse?: string;
  /** Destroy the socket after this many body bytes: a stream that breaks midway. */
  cutAfterBytes?: number;
  /** Wait this long (ms) before answering. */
  delayMs?: number;
}

/** A request the server received, decoded. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The JSON body, or the raw text when it was not JSON. */
  body: unknown;
}

/** A local HTTP server on 127.0.0.1 that answers with recorded provider traffic. */
export interface RecordedServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[];
  /**
   * Queues answers for a path (e.g. `/v1/chat/completions`), served in order, one per request.
   */
  enqueue(path: string, ...exchanges: RecordedExchange[]): void;
  /** Answers for any path without a queue of its own, looked up on each request. */
  fallback?: (req: ReceivedRequest) => RecordedExchange | undefined;
  close(): Promise<void>;
}

/**
 * Reads a fixture file: `*.sse` is a raw event stream; `*.json` is
 * `{ "status"?, "headers"?, "body" }` where `body` is the recorded JSON body.
 * @throws {Error} when the file is missing or a `.json` fixture has no `body`.
 */
export async function loadFixture(file: string): Promise<RecordedExchange> {
  const text = await readFile(file, 'utf8');
  if (file.endsWith('.sse')) return { sse: text };
  const parsed = JSON.parse(text) as { status?: number; headers?: Record<string, string>; body?: unknown };
  if (parsed.body === undefined) throw new Error(`fixture ${file} has no "body": wrap the recorded JSON as { "body": ... }`);
  return { status: parsed.status, headers: parsed.headers, json: parsed.body };
}

/**
 * Starts a recorded-traffic server on 127.0.0.1 (a free port). A request to a path with no
 * queued answer gets a 404 whose body says so, so a test sees the miss at once.
 */
export async function startRecordedServer(): Promise<RecordedServer> {
  const queues = new Map<string, RecordedExchange[]>();
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = raw;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      // Not JSON: the raw text is kept for the test to inspect.
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const received: ReceivedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body };
    requests.push(received);
    const exchange = queues.get(path)?.shift() ?? self.fallback?.(received);
    if (!exchange) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `recorded server: nothing queued for ${path}` } }));
      return;
    }
    await send(res, exchange);
  }

  async function send(res: ServerResponse, exchange: RecordedExchange): Promise<void> {
    if (exchange.delayMs) await new Promise((r) => setTimeout(r, exchange.delayMs));
    const isSse = exchange.sse !== undefined;
    const payload = isSse ? (exchange.sse as string) : JSON.stringify(exchange.json ?? {});
    res.writeHead(exchange.status ?? 200, {
      'content-type': isSse ? 'text/event-stream' : 'application/json',
      ...exchange.headers,
    });
    if (exchange.cutAfterBytes !== undefined) {
      res.write(Buffer.from(payload).subarray(0, exchange.cutAfterBytes));
      // Let the partial body reach the client before the connection breaks.
      await new Promise((r) => setTimeout(r, 20));
      res.destroy();
      return;
    }
    res.end(payload);
  }

  const self: { -readonly [K in keyof RecordedServer]: RecordedServer[K] } = {
    url: '',
    requests,
    enqueue(path, ...exchanges) {
      const queue = queues.get(path) ?? [];
      queue.push(...exchanges);
      queues.set(path, queue);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  self.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}
