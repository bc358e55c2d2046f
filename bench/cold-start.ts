/**
 * Wall time of `tracebound run` on the offline release-notes example, from a fresh process each time:
 * what a user waits for before the first span tree (module loading, tsx, SDK setup included).
 *
 * Run with `npm run bench:cold`. Prints a table, then a `BENCH_JSON` line followed by the figures
 * as one JSON line. A failing command is reported, not thrown: it never fails `npm run bench`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const RUNS = 5;
const TARGET_MS = 1_000;
const root = fileURLToPath(new URL('..', import.meta.url));
// Its own trace file, so the bench neither needs nor touches the project's .tracebound/.
const traceDir = mkdtempSync(join(tmpdir(), 'tracebound-cold-'));
const args = ['bin/tracebound.js', 'run', 'examples/release-notes/agent.ts', '--offline', '--trace-file', join(traceDir, 'traces.jsonl')];

interface Attempt {
  ms: number;
  code: number | null;
  stderr: string;
}

function once(): Promise<Attempt> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (error) => resolve({ ms: performance.now() - started, code: null, stderr: error.message }));
    child.on('close', (code) => resolve({ ms: performance.now() - started, code, stderr }));
  });
}

const attempts: Attempt[] = [];
for (let i = 0; i < RUNS; i++) attempts.push(await once());
rmSync(traceDir, { recursive: true, force: true });

const failed = attempts.filter((a) => a.code !== 0);
const times = attempts.map((a) => a.ms).sort((a, b) => a - b);
const minMs = times[0]!;
const medianMs = times[Math.floor(times.length / 2)]!;
const command = `node ${args.slice(0, 4).join(' ')}`;

console.log(`tracebound cold start: ${command} (${RUNS} fresh processes, ${process.version})`);
console.log(`times ms: ${times.map((t) => t.toFixed(0)).join(', ')}`);
if (failed.length) {
  console.log(`FAILED: ${failed.length} of ${RUNS} runs exited non-zero (first: exit ${String(failed[0]!.code)})`);
  console.log(failed[0]!.stderr.trim().split('\n').slice(0, 8).join('\n'));
} else {
  console.log(`min ${minMs.toFixed(0)} ms, median ${medianMs.toFixed(0)} ms   target < ${TARGET_MS} ms   ${medianMs < TARGET_MS ? 'ok' : 'MISSED'}`);
}
console.log('BENCH_JSON');
console.log(
  JSON.stringify({
    benchmark: 'cold-start',
    command,
    runs: RUNS,
    node: process.version,
    targetMs: TARGET_MS,
    timesMs: times,
    minMs,
    medianMs,
    ok: failed.length === 0 && medianMs < TARGET_MS,
    failures: failed.map((a) => ({ code: a.code, stderr: a.stderr.slice(0, 2_000) })),
  }),
);
