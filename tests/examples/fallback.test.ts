/**
 * examples/fallback.ts (the README's "Fallback" example), run as a user runs it: its own Node
 * process, `tracebound` as a package.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'fallback.ts');

describe('examples/fallback.ts', () => {
  it('answers with the second model after the first is overloaded through its retries', { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', EXAMPLE]);
    expect(stdout.trim().split('\n')).toEqual(['Paris. $0.000011', 'chat claude-sonnet-4-5: overloaded after 2 retries', 'chat gpt-4.1-mini: $0.000011']);
  });
});
