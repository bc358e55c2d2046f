/**
 * The MCP client behind `mcpTools()`, loaded on its first call: one `Client` of the official MCP
 * SDK over stdio or Streamable HTTP, its tools wrapped as tracebound tools, each call traced as a
 * CLIENT span after the MCP semantic conventions (see `MCP_ATTR` in tracing/attributes.ts).
 */
import { context as otelContext, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, Tool as McpToolInfo } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { errorType } from '../errors.js';
import { registerSecret } from '../secrets.js';
import type { Tool } from '../tool.js';
import { injectTraceContext } from '../serve/trace-context.js';
import { ATTR, MCP_ATTR, MCP_ERROR_TYPE, MCP_METHOD, MCP_TRANSPORT, SPAN_NAME, TRACER_NAME } from '../tracing/attributes.js';
import { activeRuntimeTracer } from '../tracing/span.js';
import { McpServerError } from './errors.js';
import { modelToolNames } from './tool-names.js';
import type { McpTools, McpToolsOptions } from './types.js';

const CLIENT_INFO = { name: 'tracebound', version: '0.1.0' };

/** Connects, lists the tools and returns them; see `mcpTools()`. */
export async function connect(options: McpToolsOptions): Promise<McpTools> {
  const http = 'url' in options;
  const server = http ? String(options.url) : [options.command, ...(options.args ?? [])].join(' ');
  if (http) for (const value of Object.values(options.headers ?? {})) registerSecret(value);
  const transport: Transport = http
    ? new StreamableHTTPClientTransport(new URL(options.url), { requestInit: { headers: options.headers ?? {} } })
    : new StdioClientTransport({ command: options.command, args: options.args ?? [], env: options.env, stderr: 'ignore' });
  const session = new Session(server, transport, http, options.tracerProvider?.getTracer(TRACER_NAME));
  try {
    await session.start();
  } catch (error) {
    await session.close();
    throw error instanceof McpServerError ? error : new McpServerError(server, `could not connect: ${message(error)}`, { cause: error });
  }
  return session;
}

class Session implements McpTools {
  tools: readonly Tool[] = [];
  private readonly client: Client;
  private protocolVersion: string | undefined;
  /** Spans of calls sent but not yet written, by their `_meta` object (the SDK sends it as is). */
  private readonly sending = new WeakMap<object, Span>();
  private closed: string | undefined;

  constructor(
    private readonly server: string,
    private readonly transport: Transport,
    private readonly http: boolean,
    /** The explicit `tracerProvider`'s tracer; else each call takes the runtime's from its context. */
    private readonly tracer: Tracer | undefined,
  ) {
    this.client = new Client(CLIENT_INFO, {
      listChanged: {
        tools: {
          onChanged: (error, tools) => {
            if (error === null && tools !== null) this.tools = this.wrapAll(tools);
          },
        },
      },
    });
    // Set before connect: the SDK's Protocol chains a transport's existing handlers. The negotiated
    // protocol version is in the initialize result, which the stdio transport does not keep.
    transport.onmessage = (msg) => {
      if (this.protocolVersion === undefined && 'result' in msg && typeof msg.result.protocolVersion === 'string') {
        this.protocolVersion = msg.result.protocolVersion;
      }
    };
    transport.onclose = () => {
      this.closed ??= 'the connection closed (the server exited or hung up)';
    };
    // The JSON-RPC id of a call is only visible on the wire: read it as the request goes out.
    const send = transport.send.bind(transport);
    transport.send = (msg, sendOptions) => {
      if ('id' in msg && 'method' in msg && msg.method === MCP_METHOD.toolsCall) {
        const meta = msg.params?._meta;
        const span = meta === undefined ? undefined : this.sending.get(meta);
        span?.setAttribute(MCP_ATTR.jsonrpcRequestId, String(msg.id));
      }
      return send(msg, sendOptions);
    };
  }

  async start(): Promise<void> {
    await this.client.connect(this.transport);
    const listed: McpToolInfo[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.client.listTools(cursor === undefined ? {} : { cursor });
      listed.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    this.tools = this.wrapAll(listed);
  }

  async close(): Promise<void> {
    this.closed ??= 'the session was closed';
    if (this.http) {
      // Ends the server's session (HTTP DELETE); a server without sessions answers 405, which is fine.
      await (this.transport as StreamableHTTPClientTransport).terminateSession().catch(() => undefined);
    }
    await this.client.close();
  }

  /** The listed tools as tracebound tools, each named for the model by `modelToolNames`. */
  private wrapAll(listed: readonly McpToolInfo[]): Tool[] {
    const names = modelToolNames(listed.map((t) => t.name));
    return listed.map((t, i) => this.wrap(t, names[i]!));
  }

  /** A tracebound tool named `name` for the model, calling the MCP tool `info.name`. */
  private wrap(info: McpToolInfo, name: string): Tool {
    const definition = { name, description: info.description ?? info.title ?? info.name, parameters: { ...info.inputSchema } as Record<string, unknown> };
    delete definition.parameters.$schema;
    const parameters = z.fromJSONSchema(info.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
    return Object.freeze({
      name,
      description: definition.description,
      parameters,
      definition,
      execute: (args: unknown, { signal }: { signal: AbortSignal }) => this.call(info.name, args as Record<string, unknown>, signal),
    });
  }

  /** Calls a tool under a `tools/call {tool}` CLIENT span; returns its text, throws its error text. */
  private async call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<string> {
    const tracer = this.tracer ?? activeRuntimeTracer() ?? trace.getTracer(TRACER_NAME);
    const span = tracer.startSpan(SPAN_NAME.mcpCall(MCP_METHOD.toolsCall, name), {
      kind: SpanKind.CLIENT,
      attributes: {
        [MCP_ATTR.methodName]: MCP_METHOD.toolsCall,
        [ATTR.toolName]: name,
        [MCP_ATTR.networkTransport]: this.http ? MCP_TRANSPORT.tcp : MCP_TRANSPORT.pipe,
        ...(this.protocolVersion === undefined ? {} : { [MCP_ATTR.protocolVersion]: this.protocolVersion }),
        ...(this.transport.sessionId === undefined ? {} : { [MCP_ATTR.sessionId]: this.transport.sessionId }),
      },
    });
    const meta: Record<string, string> = injectTraceContext(trace.setSpan(otelContext.active(), span));
    this.sending.set(meta, span);
    try {
      if (this.closed !== undefined) throw new McpServerError(this.server, this.closed);
      let result: CallToolResult;
      // The SDK adds an abort listener to the signal it gets and never removes it: a signal of its
      // own per call keeps a long-lived tool signal (the runtime's, for tools without a timeout)
      // from collecting one listener per call.
      const own = new AbortController();
      const abort = () => own.abort(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      try {
        result = (await this.client.callTool({ name, arguments: args, _meta: meta }, undefined, { signal: own.signal })) as CallToolResult;
      } catch (error) {
        if (signal.aborted) throw error;
        const why = this.closed ?? message(error);
        throw new McpServerError(this.server, `tools/call ${name} failed: ${why}`, { cause: error });
      } finally {
        signal.removeEventListener('abort', abort);
      }
      const text = resultText(result);
      if (result.isError === true) {
        span.setAttribute(ATTR.errorType, MCP_ERROR_TYPE.toolError);
        span.setStatus({ code: SpanStatusCode.ERROR, message: text });
        throw new McpToolError(text);
      }
      return text;
    } catch (error) {
      if (!(error instanceof McpToolError)) {
        span.setAttribute(ATTR.errorType, errorType(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: message(error) });
      }
      throw error;
    } finally {
      span.end();
    }
  }
}

/** A result with `isError`: its text goes back to the model as the call's error result. */
class McpToolError extends Error {
  override readonly name = 'McpToolError';
}

/** A result's content as the model reads it: text parts as is, other parts as JSON, a line each. */
function resultText(result: CallToolResult): string {
  const parts = result.content.map((part) => (part.type === 'text' ? part.text : JSON.stringify(part)));
  if (parts.length === 0 && result.structuredContent !== undefined) return JSON.stringify(result.structuredContent);
  return parts.join('\n');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
