/**
 * examples/ai-sdk.ts (the README's "AI SDK providers" example), run as a user runs it: its own
 * Node process, `tracebound` as a package.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'ai-sdk.ts');

describe('examples/ai-sdk.ts', () => {
  it('prices the Mistral-like call locally and takes the gateway-reported cost', { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', EXAMPLE]);
    expect(stdout.trim().split('\n')).toEqual([
      'Hello from Mistral. mistral_ai $0.0000144 (local)',
      'Hello through the gateway. gateway $0.000160 (provider)',
    ]);
  });
});
