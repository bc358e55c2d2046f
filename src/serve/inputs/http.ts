/**
 * The HTTP input (node:http): `POST /v1/runs` runs a message and answers JSON, or streams the run's
 * events as server-sent events when the client asks for `text/event-stream`;
 * `GET`/`DELETE /v1/conversations/{id}` read and forget a conversation; `GET /healthz` and
 * `GET /readyz` answer probes. An incoming W3C `traceparent` continues the caller's trace.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunEvent } from '../../runtime/events.js';
import { maskSecrets } from '../../secrets.js';
import { resultJson } from '../serve.js';
import { extractTraceContext } from '../trace-context.js';
import { ServerBusyError, type Dispatcher, type Input, type RunOutcome } from '../types.js';

/** What `httpInput()` takes. */
export interface HttpInputOptions {
  /** TCP port; 0 picks a free one (read it from `url` after start). Default 8787. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`; `0.0.0.0` in a container. */
  host?: string;
  /** Largest request body accepted, in bytes; a bigger one gets 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/** The HTTP input; `url` is where it listens once started. */
export interface HttpInput extends Input {
  /** `http://host:port` of the listening server. @throws {Error} before `start()`. */
  readonly url: string;
}

/** A bad request, answered with its status and an error body. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: { type: string; message: string; field?: string },
  ) {
    super(body.message);
  }
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > limit) return reject(new HttpError(413, { type: 'payload_too_large', message: `the body is over ${limit} bytes` }));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (error) {
        reject(new HttpError(400, { type: 'invalid_input', field: '(body)', message: `the body is not valid JSON: ${(error as Error).message}` }));
      }
    });
  });
}

/** Answers with a JSON body, known API keys masked (an error may quote a provider's echo of one). */
function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = maskSecrets(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** JSON of an event: errors (a retry's cause) keep their name and message, which `JSON.stringify` drops. */
function eventJson(event: RunEvent): string {
  const data = event.type === 'run-end' ? { type: event.type, result: resultJson(event.result) } : event;
  return JSON.stringify(data, (_key, value: unknown) => (value instanceof Error ? { name: value.name, message: value.message } : value));
}

/** HTTP status of an outcome that is not a result. */
function failureStatus(error: Extract<RunOutcome, { ok: false }>['error']): number {
  if (error.type === 'invalid_input') return 400;
  if (error.type === 'conversation_busy') return 409;
  if (error.stopReason === 'timeout') return 504;
  if (error.stopReason === 'aborted') return 503;
  return 500;
}

/** Writes SSE frames, sending the headers with the first one (until then the answer can still be JSON). */
class SseWriter {
  started = false;

  constructor(private readonly res: ServerResponse) {}

  send(type: string, data: string): void {
    if (!this.started) {
      this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      this.started = true;
    }
    this.res.write(`event: ${type}\ndata: ${maskSecrets(data)}\n\n`);
  }
}

/**
 * Makes the HTTP input. Answers: 200 with `{ output, stopReason, usage, costUsd, steps, toolCalls,
 * traceId }` (budget stops included); 400 `{ error: { type: 'invalid_input', field, message } }`;
 * 429 with `retry-after` (seconds) when the backlog is full; 503 while draining; 409 when another
 * run held the message's conversation too long; 500/503/504 for runs that failed, were aborted or
 * timed out (with `stopReason`). `GET /v1/conversations/{id}` answers 200 with
 * `{ id, agent, messages, createdAt, updatedAt }` or 404; `DELETE` answers 204 or 404. SSE streams `event: <type>`
 * frames ending with `run-end` or `error`; a client that disconnects aborts its run.
 */
export function httpInput(options: HttpInputOptions = {}): HttpInput {
  const limit = options.maxBodyBytes ?? 1_048_576;
  let server: NodeServer | undefined;
  let dispatcher: Dispatcher | undefined;
  let draining = false;
  let active = 0;
  let onIdle: (() => void) | undefined;

  const postRun = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (draining) return sendJson(res, 503, { error: { type: 'draining', message: 'the server is shutting down' } }, { 'retry-after': '1' });
    const payload = await readJson(req, limit);
    const message = { id: req.headers['x-request-id']?.toString() ?? randomUUID(), payload, source: 'http', parentContext: extractTraceContext(req.headers) };
    const sse = /\btext\/event-stream\b/.test(req.headers.accept ?? '') ? new SseWriter(res) : undefined;
    const onEvent = sse
      ? (event: RunEvent) => {
          // Throwing ends the run's stream, which aborts the run: nobody is left to read it.
          if (res.destroyed) throw new Error('the client disconnected');
          sse.send(event.type, eventJson(event));
        }
      : undefined;
    const outcome = await dispatcher!.dispatch(message, onEvent);
    if (sse?.started) {
      if (!outcome.ok) sse.send('error', JSON.stringify(outcome.error));
      res.end();
    } else if (outcome.ok) sendJson(res, 200, resultJson(outcome.result));
    else sendJson(res, failureStatus(outcome.error), { error: outcome.error });
  };

  /** `GET` or `DELETE /v1/conversations/{id}` (the id URI-encoded). */
  const conversation = async (req: IncomingMessage, res: ServerResponse, encodedId: string): Promise<void> => {
    const conversations = dispatcher!.conversations;
    if (!conversations) return sendJson(res, 404, { error: { type: 'not_found', message: 'this server keeps no conversations' } });
    let id: string;
    try {
      id = decodeURIComponent(encodedId);
    } catch {
      throw new HttpError(400, { type: 'invalid_input', field: 'id', message: 'the conversation id is not valid URI encoding' });
    }
    const missing = () => sendJson(res, 404, { error: { type: 'not_found', message: `no conversation "${id}"` } });
    if (req.method === 'GET') {
      const found = await conversations.get(id);
      return found ? sendJson(res, 200, found) : missing();
    }
    if (req.method === 'DELETE') {
      if (!(await conversations.delete(id))) return missing();
      res.writeHead(204).end();
      return;
    }
    sendJson(res, 405, { error: { type: 'method_not_allowed', message: 'use GET or DELETE' } }, { allow: 'GET, DELETE' });
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (draining) res.setHeader('connection', 'close');
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/readyz') return sendJson(res, draining ? 503 : 200, { status: draining ? 'draining' : 'ready' });
    if (path === '/v1/runs' && req.method === 'POST') return postRun(req, res);
    if (path === '/v1/runs') return sendJson(res, 405, { error: { type: 'method_not_allowed', message: 'use POST' } }, { allow: 'POST' });
    const conversationPath = /^\/v1\/conversations\/([^/]+)$/.exec(path ?? '');
    if (conversationPath) return conversation(req, res, conversationPath[1] as string);
    sendJson(res, 404, { error: { type: 'not_found', message: `no route ${req.method} ${path}` } });
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    active++;
    route(req, res)
      .catch((error: unknown) => {
        if (res.headersSent) return void res.end();
        if (error instanceof ServerBusyError) {
          sendJson(res, 429, { error: { type: 'busy', message: error.message } }, { 'retry-after': String(error.retryAfterSeconds) });
        } else if (error instanceof HttpError) sendJson(res, error.status, { error: error.body });
        else sendJson(res, 500, { error: { type: 'internal', message: (error as Error).message } });
      })
      .finally(() => {
        if (--active === 0) onIdle?.();
      });
  };

  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server!.close(() => resolve());
      server!.closeAllConnections();
    });

  return {
    name: 'http',
    get url() {
      const address = server?.address() as AddressInfo | null | undefined;
      if (!address) throw new Error('httpInput: not listening yet: call start() first');
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    async start(d) {
      dispatcher = d;
      server = createServer(handle);
      // Longer than typical load balancer idle timeouts, so they close first (no reset races).
      server.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => resolve());
      });
    },
    /** Answers 503 to new runs (and on `/readyz`), waits for in-flight requests, then closes. */
    async stop() {
      if (!server || draining) return;
      // Idle keep-alive connections stay open until the end: closing one a client is just reusing
      // resets its request. Answers carry `connection: close` from now on instead.
      draining = true;
      if (active > 0) await new Promise<void>((resolve) => (onIdle = resolve));
      await close();
    },
  };
}
