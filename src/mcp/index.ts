/**
 * MCP tools: the tools of a Model Context Protocol server as tracebound tools. This module holds
 * the public shapes only; the MCP SDK (`@modelcontextprotocol/sdk`) and the W3C propagator load
 * with the first `mcpTools()` call (session.ts), not with `import('tracebound')`.
 */
import type { McpTools, McpToolsOptions } from './types.js';

export { McpServerError } from './errors.js';
export type { McpHttpServer, McpStdioServer, McpTools, McpToolsOptions } from './types.js';

/**
 * Connects to an MCP server (starting it, for `{ command }`), lists its tools and returns them as
 * tracebound tools. A tool whose name providers reject as a function name (MCP allows e.g. dots)
 * gets a model-facing name, unique in the set (`modelToolNames` in tool-names.ts: `a.b` -> `a_b`);
 * the call still sends the server's name. Each tool's definition for the model is the server's
 * `inputSchema`; arguments are validated against it (zod's `z.fromJSONSchema`) before the call.
 * Each call runs under the runtime's `execute_tool {tool}` span as a CLIENT span
 * `tools/call {tool}` (the server's name) with the MCP semantic conventions' attributes, and
 * carries the trace context to the server in `params._meta` (`traceparent`, `tracestate`). A
 * result with `isError`, or a server error, goes back to the model as the call's error result.
 * @throws {McpServerError} when the server cannot be started or reached, or fails to initialize or
 *   list its tools.
 */
export async function mcpTools(options: McpToolsOptions): Promise<McpTools> {
  const { connect } = await import('./session.js');
  return connect(options);
}
