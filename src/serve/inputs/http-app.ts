/**
 * The HTTP input's routes, on Hono (loaded by `httpInput()` when it starts, so importing
 * `tracebound/serve` does not load Hono). Every answer that is not a result is
 * `{ error: { type, message, ... } }` with a message this module writes or vouches for: a run's
 * raw failure text (which may quote a provider or a tool) never reaches the caller.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { errorType } from '../../errors.js';
import type { RunEvent } from '../../runtime/events.js';
import type { RunInfo } from '../../runtime/runs.js';
import { maskSecrets } from '../../secrets.js';
import { resultJson } from '../serve.js';
import { extractTraceContext } from '../trace-context.js';
import { ServerBusyError, type Dispatcher, type InboundMessage, type RunOutcome } from '../types.js';

/** What the routes need from the input that serves them. */
export interface HttpAppOptions {
  dispatcher: Dispatcher;
  /** Requests need `Authorization: Bearer <token>` (all but `/healthz` and `/readyz`). */
  authToken?: string;
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** True once the input drains: new requests get 503. */
  draining(): boolean;
  /** Aborted when the drain begins: run event streams end there (the client resumes elsewhere). */
  drainSignal: AbortSignal;
}

/** An error body: a stable `type` and a message safe to show the caller. */
interface ErrorBody {
  type: string;
  message: string;
  stopReason?: string;
  field?: string;
  runId?: string;
}

type Status = 400 | 401 | 404 | 405 | 409 | 413 | 429 | 500 | 503 | 504;

/** Answers `{ error }` with its status, known API keys masked (a field message may quote input). */
function fail(c: Context, status: Status, error: ErrorBody, headers: Record<string, string> = {}): Response {
  return c.body(maskSecrets(JSON.stringify({ error })), status, { 'content-type': 'application/json', ...headers });
}

/** Answers JSON with known API keys masked (a result's output may quote one). */
function json(c: Context, body: unknown, status: 200 | 202 = 200): Response {
  return c.body(maskSecrets(JSON.stringify(body)), status, { 'content-type': 'application/json' });
}

/**
 * What a caller is told about a failed message: validation, lookup and busy errors as written
 * (this package writes them); a failed run only by its type and stop reason, since its message
 * may quote a provider's or a tool's text.
 */
function publicError(error: Extract<RunOutcome, { ok: false }>['error']): { status: Status; body: ErrorBody } {
  const { runId, stopReason } = error;
  switch (error.type) {
    case 'invalid_input':
      return { status: 400, body: { type: error.type, field: error.field, message: error.message } };
    case 'agent_not_found':
      return { status: 404, body: { type: error.type, message: error.message, runId } };
    case 'RunNotFoundError':
      return { status: 404, body: { type: 'run_not_found', message: `no run ${JSON.stringify(runId)}`, runId } };
    case 'RunInProgressError':
      return { status: 409, body: { type: 'run_in_progress', message: 'the run is held by a live process: wait for it to end, or cancel it', runId } };
    case 'unknown_tool_call':
      // A ResumeError's kind: a decision on a call the run does not wait on (its message names them).
      return { status: 400, body: { type: 'invalid_approvals', message: error.message, runId } };
    case 'conversation_busy':
      return { status: 409, body: { type: error.type, message: 'another run held the conversation too long: retry later', stopReason, runId } };
  }
  const status = stopReason === 'timeout' ? 504 : stopReason === 'aborted' ? 503 : 500;
  return { status, body: { type: error.type, message: runFailure(stopReason), stopReason, runId } };
}

/** What a caller is told about a run that failed, by its stop reason. */
function runFailure(stopReason: string | undefined): string {
  if (stopReason === 'timeout') return 'the run timed out';
  if (stopReason === 'aborted') return 'the run was aborted (cancelled, or the server stopped)';
  return 'the run failed: its trace has the details';
}

/**
 * An event as SSE data: a result as {@link resultJson}; a failure's message and an error inside
 * an event (a retry's cause) by type only, since their text may be a provider's or a tool's.
 */
function eventJson(event: RunEvent): string {
  const data =
    event.type === 'run-end'
      ? { type: event.type, result: resultJson(event.result) }
      : event.type === 'run-error'
        ? { ...event, error: { type: event.error.type, message: runFailure(event.stopReason) } }
        : event;
  return maskSecrets(JSON.stringify(data, (_key, value: unknown) => (value instanceof Error ? { type: errorType(value) } : value)));
}

/** The last event of a run: its result or its failure. */
const isLast = (event: RunEvent): boolean => event.type === 'run-end' || event.type === 'run-error';

/** SHA-256 of a token: digests of equal length, so comparing them takes the same time whatever the token. */
const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** Accepts the `Accept` header of an SSE client. */
const wantsSse = (c: Context): boolean => /\btext\/event-stream\b/.test(c.req.header('accept') ?? '');

/** `{ approvals: { [toolCallId]: true | { approved, reason? } } }`. */
const approvalsSchema = z.object({
  approvals: z.record(z.string(), z.union([z.literal(true), z.object({ approved: z.boolean(), reason: z.string().optional() })])),
});

/** A run as `GET /v1/runs/{runId}` answers it: the record, its result without the conversation. */
function runJson(info: RunInfo) {
  return { ...info, result: info.result && resultJson(info.result) };
}

/** Builds the app. Routes and answers: see `httpInput()`. */
export function httpApp(options: HttpAppOptions): Hono {
  const { dispatcher } = options;
  const token = options.authToken === undefined ? undefined : digest(options.authToken);
  const app = new Hono();

  const runtime = () => {
    if (!dispatcher.runtime) throw new Error('httpInput: the dispatcher has no runtime (serve() gives one)');
    return dispatcher.runtime;
  };
  const messageOf = (c: Context, payload: unknown, agent?: string): InboundMessage => ({
    id: c.req.header('x-request-id') ?? randomUUID(),
    payload,
    source: 'http',
    parentContext: extractTraceContext({ traceparent: c.req.header('traceparent'), tracestate: c.req.header('tracestate') }),
    agent,
    tenant: c.req.header('x-tracebound-tenant') || undefined,
    user: c.req.header('x-tracebound-user') || undefined,
  });
  const outcomeResponse = (c: Context, outcome: RunOutcome): Response => {
    if (outcome.ok) return json(c, resultJson(outcome.result));
    const { status, body } = publicError(outcome.error);
    return fail(c, status, body);
  };
  const readJson = async (c: Context): Promise<{ ok: true; payload: unknown } | { ok: false; response: Response }> => {
    try {
      return { ok: true, payload: await c.req.json() };
    } catch {
      return { ok: false, response: fail(c, 400, { type: 'invalid_input', field: '(body)', message: 'the body is not valid JSON' }) };
    }
  };

  app.get('/healthz', (c) => json(c, { status: 'ok' }));
  app.get('/readyz', (c) => (options.draining() ? fail(c, 503, { type: 'draining', message: 'the server is shutting down' }) : json(c, { status: 'ready' })));

  app.use('*', async (c, next) => {
    if (options.draining()) return fail(c, 503, { type: 'draining', message: 'the server is shutting down: retry on another instance' }, { 'retry-after': '1', connection: 'close' });
    if (token) {
      const [scheme, value] = (c.req.header('authorization') ?? '').split(' ', 2);
      if (scheme?.toLowerCase() !== 'bearer' || !value || !timingSafeEqual(digest(value), token)) {
        return fail(c, 401, { type: 'unauthorized', message: 'a valid `Authorization: Bearer <token>` header is required' }, { 'www-authenticate': 'Bearer' });
      }
    }
    await next();
  });
  // A declared length is checked before reading. A body without one goes through hono's body
  // limit, which counts it as it arrives and refuses it the moment it passes the limit (the rest
  // is never buffered). Only that case goes there: the limit wraps every body it sees in a web
  // Request, which costs more than the rest of a run's request (bench/serve.ts), while a body of
  // declared length is read straight off the socket by @hono/node-server.
  const tooLarge = (c: Context) => fail(c, 413, { type: 'payload_too_large', message: `the body is over ${options.maxBodyBytes} bytes` }, { connection: 'close' });
  const unlengthed = bodyLimit({ maxSize: options.maxBodyBytes, onError: tooLarge });
  app.use('*', async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return unlengthed(c, next);
    if (Number(length) > options.maxBodyBytes) return tooLarge(c);
    await next();
  });

  const postRun = async (c: Context, agent?: string): Promise<Response> => {
    if (agent !== undefined && !dispatcher.agent?.(agent)) return fail(c, 404, { type: 'agent_not_found', message: `no agent named ${JSON.stringify(agent)} is served` });
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const message = messageOf(c, body.payload, agent);
    const signal = c.req.raw.signal;
    if (!wantsSse(c)) return outcomeResponse(c, await dispatcher.dispatch(message, { signal }));

    // Until the run's first event, the answer can still be JSON (invalid input, a busy server).
    const events: RunEvent[] = [];
    let wake: (() => void) | undefined;
    const onEvent = (event: RunEvent) => {
      events.push(event);
      wake?.();
    };
    let settled = false;
    const outcome = dispatcher.dispatch(message, { onEvent, signal }).finally(() => {
      settled = true;
      wake?.();
    });
    await new Promise<void>((resolve) => {
      wake = resolve;
      void outcome.catch(() => {});
    });
    if (events.length === 0) return outcomeResponse(c, await outcome);
    return streamSSE(c, async (stream) => {
      let last: RunEvent | undefined;
      for (;;) {
        for (const event of events.splice(0)) {
          await stream.writeSSE({ event: event.type, data: eventJson(event) });
          last = event;
        }
        if (events.length > 0) continue;
        if (settled) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const ended = await outcome;
      // A run that failed said so in its `run-error` event; a failure outside the run (the
      // conversation's store, say) is told by an `error` event.
      if (!ended.ok && !(last && isLast(last))) await stream.writeSSE({ event: 'error', data: JSON.stringify(publicError(ended.error).body) });
    });
  };

  app.post('/v1/runs', (c) => postRun(c));
  app.post('/v1/agents/:name/runs', (c) => postRun(c, c.req.param('name')));

  app.get('/v1/runs/:runId', async (c) => {
    const runId = c.req.param('runId');
    const info = await runtime().runs.get(runId);
    return info ? json(c, runJson(info)) : fail(c, 404, { type: 'run_not_found', message: `no run ${JSON.stringify(runId)}`, runId });
  });

  app.get('/v1/runs/:runId/events', async (c) => {
    const runId = c.req.param('runId');
    const rt = runtime();
    if (!(await rt.runs.get(runId))) return fail(c, 404, { type: 'run_not_found', message: `no run ${JSON.stringify(runId)}`, runId });
    const after = c.req.header('last-event-id') || undefined;
    return streamSSE(c, async (stream) => {
      let written = Promise.resolve();
      let ended = false;
      let end!: () => void;
      const over = new Promise<void>((resolve) => (end = resolve));
      stream.onAbort(end);
      options.drainSignal.addEventListener('abort', end, { once: true });
      const unsubscribe = rt.subscribe(
        runId,
        (event, entry) => {
          // Nothing after the run's last event: the log of a resumed run goes on past an
          // interruption's run-end, which a client reads by reconnecting with its Last-Event-ID.
          if (ended) return;
          ended = isLast(event);
          // Writes are chained, so the stream ends only after the last one went out.
          written = written.then(() => stream.writeSSE({ id: entry.id, event: event.type, data: eventJson(event) }));
          if (ended) void written.then(end, end);
        },
        { after },
      );
      await over;
      unsubscribe();
      options.drainSignal.removeEventListener('abort', end);
      await written.catch(() => {});
    });
  });

  app.post('/v1/runs/:runId/approvals', async (c) => {
    const runId = c.req.param('runId');
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const parsed = approvalsSchema.safeParse(body.payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return fail(c, 400, { type: 'invalid_input', field: issue?.path.map(String).join('.') || '(body)', message: issue?.message ?? 'is invalid' });
    }
    if (!dispatcher.resume) throw new Error('httpInput: the dispatcher cannot resume runs (serve() can)');
    return outcomeResponse(c, await dispatcher.resume(messageOf(c, parsed.data), runId, { approvals: parsed.data.approvals, signal: c.req.raw.signal }));
  });

  app.post('/v1/runs/:runId/cancel', async (c) => {
    const runId = c.req.param('runId');
    const rt = runtime();
    if (await rt.cancel(runId)) return json(c, { runId, cancelled: true }, 202);
    const info = await rt.runs.get(runId);
    if (!info) return fail(c, 404, { type: 'run_not_found', message: `no run ${JSON.stringify(runId)}`, runId });
    return fail(c, 409, { type: 'run_not_running', message: `the run is ${info.status}: there is nothing to cancel`, runId });
  });

  app.get('/v1/conversations/:id', async (c) => {
    const id = c.req.param('id');
    const conversation = await runtime().conversations.get(id);
    return conversation ? json(c, conversation) : fail(c, 404, { type: 'not_found', message: `no conversation ${JSON.stringify(id)}` });
  });
  app.delete('/v1/conversations/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await runtime().conversations.delete(id))) return fail(c, 404, { type: 'not_found', message: `no conversation ${JSON.stringify(id)}` });
    return c.body(null, 204);
  });

  app.all('/v1/runs', (c) => fail(c, 405, { type: 'method_not_allowed', message: 'use POST' }, { allow: 'POST' }));
  app.all('/v1/conversations/:id', (c) => fail(c, 405, { type: 'method_not_allowed', message: 'use GET or DELETE' }, { allow: 'GET, DELETE' }));
  app.notFound((c) => fail(c, 404, { type: 'not_found', message: `no route ${c.req.method} ${c.req.path}` }));
  app.onError((error, c) => {
    if (error instanceof ServerBusyError) return fail(c, 429, { type: 'busy', message: error.message }, { 'retry-after': String(error.retryAfterSeconds) });
    // A store that failed, or a bug: the caller learns the type only.
    return fail(c, 500, { type: errorType(error), message: 'the server failed to answer: its logs and traces have the details' });
  });
  return app;
}
