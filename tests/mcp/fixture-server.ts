/**
 * A tiny MCP server over stdio (the SDK's McpServer), for what server-everything does not show:
 * `meta` answers the `_meta` its request carried (the trace context) and its pid, `fail` answers `isError`,
 * `die` exits the process mid-call, `hang` never answers (the test kills the process), `grow` adds a tool (sending `notifications/tools/list_changed`),
 * and tools named as MCP allows but model providers do not (`admin.tools.list`, `weather.get`, and `weather/get`, which the SDK
 * only warns about, beside a plain `weather_get`), each answering the name it was called by.
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
for (const name of ['admin.tools.list', 'weather.get', 'weather/get', 'weather_get']) {
  server.registerTool(name, { description: `Answers "called ${name}"`, inputSchema: {} }, () => ({ content: [{ type: 'text', text: `called ${name}` }] }));
}
await server.connect(new StdioServerTransport());
