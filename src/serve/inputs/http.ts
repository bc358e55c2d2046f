/**
 * The HTTP input: Hono routes (`http-app.ts`, loaded on `start()`) on a `node:http` server this
 * module owns, so it decides how connections end. `POST /v1/runs` and `POST /v1/agents/{name}/runs`
 * run a message and answer JSON, or stream the run's events as server-sent events when the client
 * asks for `text/event-stream`; `/v1/runs/{runId}` (status, events, approvals, cancel) and
 * `/v1/conversations/{id}` serve the runtime's state; `GET /healthz` and `GET /readyz` answer
 * probes. An incoming W3C `traceparent` continues the caller's trace.
 */
import { createServer, type IncomingMessage, type Server as NodeServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Input } from '../types.js';

/** What `httpInput()` takes. */
export interface HttpInputOptions {
  /** TCP port; 0 picks a free one (read it from `url` after start). Default 8787. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`; `0.0.0.0` in a container. */
  host?: string;
  /**
   * Largest request body accepted, in bytes. A bigger declared `Content-Length` gets 413 before
   * the body is read; a body without one gets 413 as soon as the bytes read pass it. Default 1 MiB.
   */
  maxBodyBytes?: number;
  /**
   * With a token, every route but `/healthz` and `/readyz` needs `Authorization: Bearer <token>`
   * (401 otherwise); compared in constant time, never logged.
   */
  authToken?: string;
}

/** The HTTP input; `url` is where it listens once started. */
export interface HttpInput extends Input {
  /** `http://host:port` of the listening server. @throws {Error} before `start()`. */
  readonly url: string;
}

/**
 * After the drain deadline, how long runs aborted by it get to send their answer before every
 * connection is closed, in ms. An abort settles in a few ticks; this only bounds a client that
 * stopped reading its answer.
 */
const ABORTED_ANSWER_GRACE_MS = 1_000;

/**
 * Makes the HTTP input. Answers: 200 with `{ runId, output, stopReason, usage, costUsd, steps,
 * toolCalls, traceId, interruptions? }` (budget stops and interruptions included); 400
 * `{ error: { type: 'invalid_input', field, message } }`; 401 `unauthorized`; 404 `not_found`,
 * `agent_not_found`, `run_not_found`; 409 `run_in_progress`, `run_not_running`,
 * `conversation_busy`; 413 `payload_too_large`; 429 `busy` with `retry-after` (seconds) when the
 * backlog is full; 503 `draining` (with `connection: close`) once `stop()` was called; 500/503/504
 * for runs that failed, were aborted or timed out (with `stopReason`, a safe message and the
 * `runId`). A client that disconnects aborts its run at once.
 */
export function httpInput(options: HttpInputOptions = {}): HttpInput {
  const maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
  let server: NodeServer | undefined;
  let draining = false;
  const drainBegun = new AbortController();
  const active = new Set<IncomingMessage>();
  let onIdle: (() => void) | undefined;

  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server!.close(() => resolve());
      server!.closeAllConnections();
    });

  const idle = (): Promise<void> => (active.size === 0 ? Promise.resolve() : new Promise((resolve) => (onIdle = resolve)));

  /** Resolves when `signal` aborts (never when it is absent). */
  const aborted = (signal: AbortSignal | undefined): Promise<void> =>
    new Promise((resolve) => (signal?.aborted ? resolve() : signal?.addEventListener('abort', () => resolve(), { once: true })));

  return {
    name: 'http',
    get url() {
      const address = server?.address() as AddressInfo | null | undefined;
      if (!address) throw new Error('httpInput: not listening yet: call start() first');
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    async start(dispatcher) {
      const [{ getRequestListener }, { httpApp }] = await Promise.all([import('@hono/node-server'), import('./http-app.js')]);
      const app = httpApp({ dispatcher, authToken: options.authToken, maxBodyBytes, draining: () => draining, drainSignal: drainBegun.signal });
      // With its default, the adapter installs its lighter Request/Response as the globals (as
      // `@hono/node-server`'s `serve()` does): hono/body-limit rebuilds a request from its own.
      const listener = getRequestListener(app.fetch);
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        active.add(req);
        res.once('close', () => {
          active.delete(req);
          if (active.size === 0) onIdle?.();
        });
        if (draining) res.setHeader('connection', 'close');
        void listener(req, res);
      });
      // Longer than typical load balancer idle timeouts, so they close first (no reset races).
      server.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => resolve());
      });
    },
    /**
     * Answers 503 to new requests (and on `/readyz`), ends run event streams, waits for in-flight
     * requests, then closes. At the `deadline`: requests still sending their body and idle
     * connections are closed at once, runs aborted by the deadline get a short grace to answer,
     * then every connection is closed.
     */
    async stop(deadline) {
      if (!server || draining) return;
      // Idle keep-alive connections stay open until the end: closing one a client is just reusing
      // resets its request. Answers carry `connection: close` from now on instead.
      draining = true;
      drainBegun.abort();
      await Promise.race([idle(), aborted(deadline)]);
      if (active.size > 0) {
        for (const req of active) if (!req.complete) req.socket.destroy();
        server.closeIdleConnections();
        const grace = AbortSignal.timeout(ABORTED_ANSWER_GRACE_MS);
        await Promise.race([idle(), aborted(grace)]);
      }
      await close();
    },
  };
}
