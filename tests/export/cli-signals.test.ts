/**
 * `tracebound run` in a child process exporting to a slow OTLP receiver: SIGTERM while the spans
 * are still queued does not lose them (they all arrive before the process exits), and a second
 * signal exits at once instead of waiting for the backend.
 */
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { CHILD_PROCESS_TEST_MS } from '../support/timeouts.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'tracebound.js');
const example = join(root, 'examples', 'release-notes', 'agent.ts');

/**
 * Starts `tracebound run` on the demo, exporting to `endpoint` and the trace file; sends `signals`
 * (one every 200 ms) once the run's footer is printed, i.e. the run span has ended and its spans
 * wait in the export queue (its batch delay is 500 ms).
 */
function runAndSignal(endpoint: string, traceFile: string, signals: NodeJS.Signals[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint };
  for (const key of Object.keys(env)) if (key.startsWith('OTEL_') && key !== 'OTEL_EXPORTER_OTLP_ENDPOINT') delete env[key];
  delete env.OPENAI_API_KEY;
  const child = spawn(process.execPath, [bin, 'run', example, '--offline', '--exporter', 'otlp', '--exporter', 'file', '--trace-file', traceFile], {
    cwd: root,
    env,
  });
  let stdout = '';
  let stderr = '';
  let signalledAt = 0;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    if (!signalledAt && stdout.includes('└─ stop')) {
      signalledAt = Date.now();
      signals.forEach((signal, i) => setTimeout(() => child.kill(signal), i * 200));
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string; exitMs: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr, exitMs: Date.now() - signalledAt })),
  );
}

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startOtlpReceiver();
});
afterEach(async () => {
  await receiver.close();
});

describe('tracebound run: signals and the export queue', { timeout: CHILD_PROCESS_TEST_MS }, () => {
  it('SIGTERM with spans queued for a slow receiver: every span arrives before the process exits', async () => {
    receiver.fallback = { status: 200, delayMs: 1_500 };
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-signal-')), 'traces.jsonl');
    const result = await runAndSignal(receiver.url, traceFile, ['SIGTERM']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    // It waited for the slow receiver rather than dying on the signal.
    expect(result.exitMs).toBeGreaterThanOrEqual(1_400);
    const received = receiver.spans();
    expect(received).toHaveLength(8);
    const written = await readTraceFile(traceFile);
    expect(new Set(received.map((s) => s.spanId))).toEqual(new Set(written.map((s) => s.spanId)));
  });

  it('a second signal exits at once (128 + its number) instead of waiting for a receiver that never answers', async () => {
    receiver.fallback = { status: 200, hang: true };
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-signal-')), 'traces.jsonl');
    const result = await runAndSignal(receiver.url, traceFile, ['SIGTERM', 'SIGINT']);
    // SIGINT is the second signal: 128 + 2. The exporter's own timeout (10 s) was not waited for
    // (the bound leaves a loaded machine its margin).
    expect(result.code).toBe(130);
    expect(result.exitMs).toBeLessThan(8_000);
  });
});
