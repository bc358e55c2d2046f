/**
 * examples/mcp.ts (the README's "MCP tools" example), run as a user runs it: its own Node process,
 * `tracebound` as a package, server-everything started by `npx` over stdio.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'mcp.ts');

describe('examples/mcp.ts', () => {
  it("lists server-everything's tools, runs get-sum through the agent and nests tools/call under execute_tool", { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', EXAMPLE]);
    const [tools, answer, span] = stdout.trim().split('\n');
    expect(tools!.split(' ')).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    expect(answer).toBe('The tool said: The sum of 2 and 40 is 42.');
    expect(span).toBe('tools/call get-sum (pipe) under execute_tool get-sum');
  });
});
