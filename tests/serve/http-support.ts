/** Shared parts of the serve tests: scripted agents, a server on a free port, SSE reading. */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { z } from 'zod';
import { agent, tool, type Agent } from '../../src/index.js';
import { httpInput, type HttpInput, type HttpInputOptions } from '../../src/serve/inputs/http.js';
import { serve, type Server, type ServeOptions } from '../../src/serve/serve.js';
import type { RunOutcome } from '../../src/serve/types.js';
import { collectSpans, type SpanCollector } from '../../src/testing/collect-spans.js';
import { scriptedModel, type ScriptedResponse } from '../../src/testing/scripted-model.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';

const usage = { inputTokens: 100, outputTokens: 20 };

/** One step, one answer: the fastest agent there is. */
export function echoAgent(name = 'echo'): Agent {
  return agent({
    name,
    instructions: 'Echo.',
    model: scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request): ScriptedResponse => {
        const last = request.messages[request.messages.length - 1];
        return { text: `echo: ${typeof last?.content === 'string' ? last.content : ''}`, usage };
      },
    }),
  });
}

/** Answers with every user message it was sent, so a reply shows what the agent remembers. */
export function memoAgent(): Agent {
  return agent({
    name: 'memo',
    instructions: '',
    model: scriptedModel({
      respond: (request) => ({ text: `heard: ${request.messages.filter((m) => m.role === 'user').map((m) => m.content).join(' | ')}` }),
    }),
  });
}

/** A gate runs wait on in a tool call until the test opens it. */
export class Gate {
  /** Runs parked at the gate so far. */
  parked = 0;
  private readonly waiters: { n: number; resolve: () => void }[] = [];
  private release!: () => void;
  private readonly opened = new Promise<void>((resolve) => (this.release = resolve));

  /** Resolves once `n` runs are parked. */
  until(n: number): Promise<void> {
    return this.parked >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  open(): void {
    this.release();
  }

  async park(): Promise<void> {
    this.parked++;
    for (const w of this.waiters) if (this.parked >= w.n) w.resolve();
    await this.opened;
  }
}

/** An agent whose one tool call waits at the gate (or its abort), then answers. */
export function gatedAgent(g: Gate): Agent {
  const wait = tool({
    name: 'wait',
    description: 'Waits.',
    parameters: z.object({}),
    execute: async (_args, { signal }) => {
      await Promise.race([g.park(), new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))]);
      return 'ok';
    },
  });
  return agent({
    name: 'gated',
    instructions: 'Wait, then answer.',
    tools: [wait],
    model: scriptedModel({
      respond: (request) =>
        request.messages.some((m) => m.role === 'tool')
          ? { text: 'waited', usage }
          : { toolCalls: [{ id: 'call_1', name: 'wait', arguments: {} }], usage },
    }),
  });
}

/** A served agent on a free port, its spans collected in memory, its outcomes recorded. */
export interface Served {
  server: Server;
  http: HttpInput;
  spans: SpanCollector;
  outcomes: RunOutcome[];
  url: string;
}

export async function startServed(options: Omit<ServeOptions, 'inputs'>, httpOptions: HttpInputOptions = {}): Promise<Served> {
  const spans = collectSpans();
  const http = httpInput({ port: 0, ...httpOptions });
  const outcomes: RunOutcome[] = [];
  const server = serve({
    runtime: tracedRuntime({ tracerProvider: spans.tracerProvider }),
    tracer: spans.tracerProvider.getTracer('test'),
    ...options,
    inputs: [http],
    outputs: [{ name: 'record', deliver: async (o) => void outcomes.push(o) }, ...(options.outputs ?? [])],
  });
  await server.start();
  return { server, http, spans, outcomes, url: http.url };
}

export function postRun(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads a whole SSE response with eventsource-parser. */
export async function readSse(response: Response): Promise<EventSourceMessage[]> {
  const events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(chunk, { stream: true }));
  return events;
}
