/**
 * A tiny MCP server over stdio (the SDK's McpServer), for what server-everything does not show:
 * `meta` answers the `_meta` its request carried (the trace context) and its pid, `fail` answers `isError`,
 * `die` exits the process mid-call, `hang` never answers (the test kills the process), `grow` adds a tool (sending `notifications/tools/list_changed`).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'fixture', version: '1.0.0' });
server.registerTool('meta', { description: 'Returns the request _meta', inputSchema: {} }, (_args, extra) => ({
  content: [{ type: 'text', text: JSON.stringify({ meta: extra._meta ?? {}, pid: process.pid }) }],
}));
server.registerTool('fail', { description: 'Always fails', inputSchema: { why: z.string() } }, ({ why }) => ({
  isError: true,
  content: [{ type: 'text', text: `refused: ${why}` }],
}));
server.registerTool('hang', { description: 'Never answers', inputSchema: {} }, () => new Promise<never>(() => undefined));
server.registerTool('die', { description: 'Exits mid-call', inputSchema: {} }, () => process.exit(3));
server.registerTool('grow', { description: 'Adds the tool "later"', inputSchema: {} }, () => {
  server.registerTool('later', { description: 'Added later', inputSchema: {} }, () => ({ content: [{ type: 'text', text: 'late' }] }));
  return { content: [{ type: 'text', text: 'grown' }] };
});
await server.connect(new StdioServerTransport());
