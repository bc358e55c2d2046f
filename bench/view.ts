/**
 * `tracebound view` on a large trace file: a ~50 MB file made of one 500-step run (recorded by
 * the real runtime with content captured, so each model call carries the whole conversation so
 * far) and copies of the shared 3-step scenario run (recorded once, then copied with fresh trace
 * and span ids) up to the size. Measured, each in alternating rounds (median):
 *
 * - list: from `startViewer()` to the answer of `GET /api/runs` (the first page): the file read,
 *   parsed, indexed and summarized;
 * - baseline: the bare minimum any reader does: read the file and `JSON.parse` every line;
 * - open: `GET /api/runs/{id}` of the 500-step run on a running viewer (its spans in waterfall
 *   order, long strings cut) and `GET /api/runs/{id}/spans/{spanId}` of its last model call (the
 *   longest content), against `JSON.parse` of the lines that hold that run.
 *
 * Run with `npm run bench:view`. Prints a table, then a `BENCH_JSON` line followed by the figures
 * as one JSON line. Target (issue 15): a 50 MB file lists its runs within 2 s.
 */
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { agent } from '../src/agent.js';
import { recordRun } from '../src/testing/record.js';
import { scriptedModel } from '../src/testing/scripted-model.js';
import type { RunDetail, RunList } from '../src/viewer/api-types.js';
import { startViewer } from '../src/viewer/server.js';
import { add, makeModel } from './scenario.js';
import { median } from './stats.js';

const TARGET_BYTES = 50 * 1024 * 1024;
const LONG_STEPS = 500;
const ROUNDS = 5;
const OPEN_ROUNDS = 20;
const TARGET_LIST_MS = 2_000;

const long = agent({
  name: 'counter',
  instructions: 'Count with the add tool.',
  model: scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: (request) => {
      const done = request.messages.filter((m) => m.role === 'tool').length;
      const usage = { inputTokens: 100 + 10 * done, outputTokens: 20 };
      return done < LONG_STEPS - 1
        ? { toolCalls: [{ id: `call_${done + 1}`, name: 'add', arguments: { a: done, b: 1 } }], usage }
        : { text: `Counted to ${done}.`, usage };
    },
  }),
  tools: [add],
  budget: { maxSteps: LONG_STEPS, maxToolCalls: LONG_STEPS },
});

const scenario = agent({ name: 'scenario', instructions: 'Add the numbers.', model: makeModel(), tools: [add] });

/** The lines of `text` with every trace and span id given the 8-hex-digit prefix of copy `n`. */
function copyOf(text: string, n: number): string {
  const prefix = n.toString(16).padStart(8, '0');
  return text.replace(/"(traceId|spanId|parentSpanId)":"([0-9a-f]{8})([0-9a-f]+)"/g, (_, field: string, _head: string, rest: string) => `"${field}":"${prefix}${rest}"`);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function getJson<T>(url: string): Promise<{ body: T; bytes: number }> {
  const text = await (await fetch(url)).text();
  return { body: JSON.parse(text) as T, bytes: Buffer.byteLength(text) };
}

function parseEveryLine(text: string): number {
  let spans = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const request = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] };
    for (const resource of request.resourceSpans) for (const scope of resource.scopeSpans) spans += scope.spans.length;
  }
  return spans;
}

const dir = await mkdtemp(join(os.tmpdir(), 'tracebound-bench-view-'));
try {
  const longFile = join(dir, 'long.jsonl');
  const recorded = await recordRun(long, 'Count to 499.', { traceFile: longFile });
  if (recorded.result.steps !== LONG_STEPS) throw new Error(`the long run took ${recorded.result.steps} steps, expected ${LONG_STEPS}`);
  const shortFile = join(dir, 'short.jsonl');
  await recordRun(scenario, 'Add 1+2, 3+4, then the sums.', { traceFile: shortFile });

  const file = join(dir, 'traces.jsonl');
  const longText = await readFile(longFile, 'utf8');
  const shortText = await readFile(shortFile, 'utf8');
  await writeFile(file, longText);
  let copies = 0;
  let size = Buffer.byteLength(longText);
  const batch: string[] = [];
  while (size < TARGET_BYTES) {
    const copy = copyOf(shortText, ++copies);
    batch.push(copy);
    size += Buffer.byteLength(copy);
    if (batch.length === 1_000) await appendFile(file, batch.splice(0).join(''));
  }
  await appendFile(file, batch.join(''));
  const bytes = (await stat(file)).size;

  const listSamples: number[] = [];
  const baselineSamples: number[] = [];
  let listed: RunList | undefined;
  let spansParsed = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const viewerFirst = round % 2 === 0;
    const list = async () => {
      const { ms, value } = await timed(async () => {
        const viewer = await startViewer({ file, port: 0 });
        await viewer.ready;
        const answer = await getJson<RunList>(`${viewer.url}api/runs`);
        return { viewer, answer };
      });
      listSamples.push(ms);
      listed = value.answer.body;
      await value.viewer.close();
    };
    const baseline = async () => {
      const { ms, value } = await timed(async () => parseEveryLine(await readFile(file, 'utf8')));
      baselineSamples.push(ms);
      spansParsed = value;
    };
    if (viewerFirst) {
      await list();
      await baseline();
    } else {
      await baseline();
      await list();
    }
  }
  if (listed?.total !== copies + 1) throw new Error(`the viewer listed ${listed?.total} runs, expected ${copies + 1}`);

  const viewer = await startViewer({ file, port: 0 });
  await viewer.ready;
  const longRun = (await getJson<RunList>(`${viewer.url}api/runs?agent=counter`)).body.runs[0]!;
  const openSamples: number[] = [];
  const spanSamples: number[] = [];
  const longBaselineSamples: number[] = [];
  let detailBytes = 0;
  let spanBytes = 0;
  let rows = 0;
  let lastChat = '';
  for (let round = 0; round < OPEN_ROUNDS; round++) {
    const open = await timed(() => getJson<RunDetail>(`${viewer.url}api/runs/${longRun.spanId}`));
    openSamples.push(open.ms);
    detailBytes = open.value.bytes;
    rows = open.value.body.spans.length;
    lastChat = open.value.body.spans.filter((s) => s.name.startsWith('chat')).at(-1)!.spanId;
    const span = await timed(() => getJson(`${viewer.url}api/runs/${longRun.spanId}/spans/${lastChat}`));
    spanSamples.push(span.ms);
    spanBytes = span.value.bytes;
    longBaselineSamples.push((await timed(async () => parseEveryLine(longText))).ms);
  }
  await viewer.close();

  const ms = {
    list: median(listSamples),
    baseline: median(baselineSamples),
    open: median(openSamples),
    span: median(spanSamples),
    longBaseline: median(longBaselineSamples),
  };
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(
    `tracebound view on ${mb(bytes)} MB: ${copies + 1} runs, ${spansParsed} spans; the ${LONG_STEPS}-step run is ${mb(Buffer.byteLength(longText))} MB, ${rows} spans; ` +
      `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}`,
  );
  console.log('measure                                              ms   ratio');
  const row = (label: string, value: number, base: number) =>
    console.log(`${label.padEnd(48)} ${value.toFixed(1).padStart(8)}  ${(value / base).toFixed(2).padStart(6)}x`);
  row('baseline: read + JSON.parse every line', ms.baseline, ms.baseline);
  row('list: start, index, GET /api/runs', ms.list, ms.baseline);
  row(`baseline: JSON.parse the ${LONG_STEPS}-step run's lines`, ms.longBaseline, ms.longBaseline);
  row(`open: GET /api/runs/{id} (${mb(detailBytes)} MB)`, ms.open, ms.longBaseline);
  row(`span: GET its last chat span (${mb(spanBytes)} MB)`, ms.span, ms.longBaseline);
  console.log(`target: list a 50 MB file within ${TARGET_LIST_MS} ms: ${ms.list <= TARGET_LIST_MS ? 'met' : 'NOT met'}`);
  console.log('BENCH_JSON');
  console.log(
    JSON.stringify({
      bench: 'view',
      fileBytes: bytes,
      runs: copies + 1,
      spans: spansParsed,
      longRunSpans: rows,
      ms: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Number(v.toFixed(1))])),
      listRatio: Number((ms.list / ms.baseline).toFixed(2)),
      openRatio: Number((ms.open / ms.longBaseline).toFixed(2)),
      detailBytes,
      spanBytes,
      targetListMs: TARGET_LIST_MS,
      met: ms.list <= TARGET_LIST_MS,
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
