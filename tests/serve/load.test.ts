import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { httpInput } from '../../src/serve/inputs/http.js';
import { serve } from '../../src/serve/serve.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { echoAgent } from './http-support.js';

const TOTAL = 2_000;
const CONCURRENCY = 50;

describe('serve under load', () => {
  it(`answers ${TOTAL} requests at concurrency ${CONCURRENCY} from another process: 0 errors, 0 lost spans`, async () => {
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-serve-load-')), 'traces.jsonl');
    const runtime = tracedRuntime({ traceFile });
    const http = httpInput({ port: 0 });
    const server = serve({ agent: echoAgent(), runtime, inputs: [http], concurrency: 32, backlog: 256 });
    await server.start();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'load-client.ts'), http.url, String(TOTAL), String(CONCURRENCY)],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    await server.stop();
    await runtime.shutdown();

    const report = JSON.parse(stdout) as { ok: number; errors: string[]; traceIds: string[] };
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(TOTAL);
    const spans = await readTraceFile(traceFile);
    const runs = spans.filter((s) => s.name === 'invoke_agent echo');
    expect(runs).toHaveLength(TOTAL);
    expect(new Set(runs.map((s) => s.traceId))).toEqual(new Set(report.traceIds));
    expect(new Set(runs.map((s) => s.attributes[ATTR.serveMessageId])).size).toBe(TOTAL);
    // run, step, chat per run.
    expect(spans).toHaveLength(TOTAL * 3);
  }, 60_000);
});
