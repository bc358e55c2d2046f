/**
 * examples/approvals.ts, run as a user runs it (separate Node processes, `tracebound` as a
 * package): a refund waits for approval in one process and is approved or denied in another,
 * through the SQLite file.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'examples', 'approvals.ts');
const dir = mkdtempSync(join(tmpdir(), 'tracebound-approvals-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function example(...args: string[]): Promise<string[]> {
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', EXAMPLE, ...args], { env });
  return stdout.trim().split('\n');
}

describe('examples/approvals.ts', () => {
  it('interrupts for the refund, and another process approves it (a second approve returns the result)', { timeout: 60_000 }, async () => {
    const state = join(dir, 'approve.db');
    const [started, waiting] = await example('start', state);
    const runId = /^run (\S+): interrupted$/.exec(started ?? '')?.[1];
    expect(runId).toBeDefined();
    expect(waiting).toBe('waiting: refund {"order":"4711","usd":120} (call_1)');
    expect(await example('approve', runId!, state)).toEqual([`run ${runId}: final`, 'Done: refunded 120 USD on order 4711']);
    expect(await example('approve', runId!, state)).toEqual([`run ${runId}: final`, 'Done: refunded 120 USD on order 4711']);
  });

  it('denied: the model hears why, and the refund never runs', { timeout: 60_000 }, async () => {
    const state = join(dir, 'deny.db');
    const runId = /^run (\S+):/.exec((await example('start', state))[0] ?? '')?.[1];
    expect(await example('deny', runId!, state)).toEqual([
      `run ${runId}: final`,
      'Done: Tool call "refund" was denied by the approver: over the limit. It did not run.',
    ]);
  });
});
