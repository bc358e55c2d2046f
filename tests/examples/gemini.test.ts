/**
 * examples/gemini.ts, run as a user runs it: `tracebound run --offline` in its own Node process,
 * the official `@google/genai` SDK against the example's local server of recorded traffic.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { ATTR } from '../../src/tracing/attributes.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'tracebound-gemini-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/gemini.ts', () => {
  it('runs offline through the SDK: a signed tool call, then the recorded answer, traced and priced', { timeout: 60_000 }, async () => {
    const env = { ...process.env };
    delete env['GEMINI_API_KEY'];
    delete env['GOOGLE_API_KEY'];
    const traceFile = join(dir, 'trace.jsonl');
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/tracebound.js', 'run', 'examples/gemini.ts', '--offline', '--trace-file', traceFile], { cwd: ROOT, env });
    const answer = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/google/tool-signature-2.json'), 'utf8')).body.candidates[0].content.parts[0].text as string;
    expect(stdout).toContain(answer);
    expect(stdout).toContain('execute_tool get_user_country');
    const chats = (await readTraceFile(traceFile)).filter((s) => s.attributes[ATTR.operationName] === 'chat');
    expect(chats.map((s) => s.attributes[ATTR.providerName])).toEqual(['gcp.gemini', 'gcp.gemini']);
    for (const chat of chats) expect(chat.attributes[ATTR.costAmount]).toBeGreaterThan(0);
  });
});
