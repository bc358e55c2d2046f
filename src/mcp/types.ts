/** The public shapes of `mcpTools()` (index.ts). */
import type { TracerProvider } from '@opentelemetry/api';
import type { Tool } from '../tool.js';

/** A server tracebound starts as a child process and talks to over stdio (newline-delimited JSON-RPC). */
export interface McpStdioServer {
  /** The program to run, e.g. `npx` or `node`. */
  command: string;
  args?: string[];
  /** The child's environment; the MCP SDK's default (a safe subset of this process's) when absent. */
  env?: Record<string, string>;
}

/** A server reached over MCP's Streamable HTTP transport. */
export interface McpHttpServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:3001/mcp`. */
  url: string | URL;
  /** Headers sent with every request (e.g. `authorization`); their values never reach a span. */
  headers?: Record<string, string>;
}

/** What `mcpTools()` takes: a server, and where its client spans go. */
export type McpToolsOptions = (McpStdioServer | McpHttpServer) & {
  /**
   * The provider of the `tools/call` client spans. Default: the tracer of the runtime that
   * runs the tool (a `tracedRuntime()` hands it to the tool call's context, so the spans go
   * where its `execute_tool` spans go, whatever provider it has), else outside a traced run the
   * global provider of `@opentelemetry/api`.
   */
  tracerProvider?: TracerProvider;
};

/** A connected MCP server's tools. */
export interface McpTools {
  /**
   * The server's tools as tracebound tools, for `agent({ tools })`, each `name` the one the model
   * calls it by: the server's own, or for a name providers reject (MCP allows dots and 128
   * characters, and servers list other names with only a warning) a valid one made from it
   * (`admin.tools.list` -> `admin_tools_list`; see `mcpTools()`). Listed once at connect, and
   * listed again when the server sends `notifications/tools/list_changed`: read the property when
   * defining an agent to get the current list.
   */
  readonly tools: readonly Tool[];
  /** Ends the session: a stdio server's process is ended, an HTTP session is closed. */
  close(): Promise<void>;
}
