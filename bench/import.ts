/**
 * What `import('tracebound')` costs a process, against importing the `openai` SDK alone (the
 * smallest thing an agent app loads anyway): each import in its own fresh process, paired and
 * alternated, so machine drift hits both alike. Measures the import's own wall time inside the
 * process (Node's boot excluded) and the heap in use after it (after a full GC).
 *
 * Run with `npm run bench:import` (builds nothing: it imports the built `dist/`, so run
 * `npm run build` first). Prints a table, then a `BENCH_JSON` line followed by the figures as
 * one JSON line. A failing import is reported, not thrown.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median } from './stats.js';

const ROUNDS = 7;
const TARGET = { importOverOpenai: 1.5, heapMB: 25 } as const;
const root = fileURLToPath(new URL('..', import.meta.url));
const entry = new URL('../dist/index.js', import.meta.url).href;

/** Imports `specifier` in a fresh node process; returns the import's ms and the heap after it. */
function measure(specifier: string): { ms: number; heapMB: number } | { error: string } {
  const script = [
    'const t0 = performance.now();',
    `await import(${JSON.stringify(specifier)});`,
    'const ms = performance.now() - t0;',
    'globalThis.gc(); globalThis.gc();',
    'process.stdout.write(JSON.stringify({ ms, heapMB: process.memoryUsage().heapUsed / 1e6 }));',
  ].join('\n');
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  if (child.status !== 0) return { error: child.stderr.trim().split('\n').slice(0, 6).join('\n') };
  return JSON.parse(child.stdout) as { ms: number; heapMB: number };
}

if (!existsSync(fileURLToPath(entry))) {
  console.log('dist/index.js is missing: run `npm run build` first');
  process.exit(1);
}

const subjects = { tracebound: entry, openai: 'openai', bareNode: 'node:fs' } as const;
type Subject = keyof typeof subjects;
const samples: Record<Subject, { ms: number[]; heapMB: number[] }> = {
  tracebound: { ms: [], heapMB: [] },
  openai: { ms: [], heapMB: [] },
  bareNode: { ms: [], heapMB: [] },
};
const ratios: number[] = [];
const failures: string[] = [];
// One warm-up round (disk cache), then paired rounds.
for (let round = -1; round < ROUNDS; round++) {
  const order: Subject[] = round % 2 ? ['tracebound', 'openai', 'bareNode'] : ['openai', 'tracebound', 'bareNode'];
  const got: Partial<Record<Subject, number>> = {};
  for (const subject of order) {
    const m = measure(subjects[subject]);
    if ('error' in m) {
      failures.push(`${subject}: ${m.error}`);
      continue;
    }
    if (round < 0) continue;
    samples[subject].ms.push(m.ms);
    samples[subject].heapMB.push(m.heapMB);
    got[subject] = m.ms;
  }
  if (got.tracebound !== undefined && got.openai !== undefined) ratios.push(got.tracebound / got.openai);
}

if (failures.length) {
  console.log(`FAILED imports:\n${failures.join('\n')}`);
  process.exit(1);
}
const row = (s: Subject) => ({
  importMsMedian: median(samples[s].ms),
  importMsMin: Math.min(...samples[s].ms),
  heapMBMedian: median(samples[s].heapMB),
});
const figures = { tracebound: row('tracebound'), openai: row('openai'), bareNode: row('bareNode') };
const ratio = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
const verdict = {
  importOverOpenai: ratio.median <= TARGET.importOverOpenai,
  heapMB: figures.tracebound.heapMBMedian <= TARGET.heapMB,
};
const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');

console.log(`import cost: ${ROUNDS} paired rounds in fresh processes (${process.version}); import wall time inside the process, heap after GC`);
console.log('subject            import ms median (min)   heap MB');
for (const s of Object.keys(figures) as Subject[]) {
  const f = figures[s];
  console.log(`${s.padEnd(18)} ${f.importMsMedian.toFixed(1).padStart(8)} (${f.importMsMin.toFixed(1).padStart(7)})   ${f.heapMBMedian.toFixed(1).padStart(8)}`);
}
console.log(
  `tracebound / openai import, paired: median ${ratio.median.toFixed(2)}x (min ${ratio.min.toFixed(2)}, max ${ratio.max.toFixed(2)})   target <= ${TARGET.importOverOpenai}x   ${mark(verdict.importOverOpenai)}`,
);
console.log(`heap after import('tracebound'): ${figures.tracebound.heapMBMedian.toFixed(1)} MB   target <= ${TARGET.heapMB} MB   ${mark(verdict.heapMB)}`);
console.log('BENCH_JSON');
console.log(JSON.stringify({ benchmark: 'import', rounds: ROUNDS, node: process.version, targets: TARGET, figures, ratio, verdict }));
