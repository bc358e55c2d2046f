/**
 * examples/remember.ts, run as a user runs it (its own Node process, `tracebound` as a package):
 * the conversation goes on within one process and across two, through the SQLite file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'remember.ts');
const dir = mkdtempSync(join(tmpdir(), 'tracebound-remember-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function remember(stateFile: string): Promise<string> {
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', EXAMPLE, stateFile], { env });
  return stdout;
}

describe('examples/remember.ts', () => {
  it('remembers a name within a process, and in the next process', { timeout: 60_000 }, async () => {
    const state = join(dir, 'state.db');
    const first = await remember(state);
    expect(first.split('\n').slice(0, 6)).toEqual([
      '> What is my name?', 'I do not know your name yet.',
      '> My name is Ada.', 'Nice to meet you, Ada.',
      '> What is my name?', 'Your name is Ada.',
    ]);
    expect(first).toMatch(/conversation "demo": 6 messages since \d{4}-/);
    const second = await remember(state);
    expect(second.split('\n').slice(0, 2)).toEqual(['> What is my name?', 'Your name is Ada.']);
    expect(second).toMatch(/conversation "demo": 12 messages since /);
  });
});
