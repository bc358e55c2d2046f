import { describe, expect, it } from 'vitest';
import { scheduleInput } from '../../src/serve/inputs/schedule.js';
import { stdoutOutput } from '../../src/serve/outputs/stdout.js';
import { serve } from '../../src/serve/serve.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { echoAgent } from './http-support.js';

interface Line {
  id: string;
  source: string;
  ok: boolean;
  result?: { output: string; stopReason: string };
  at: number;
}

describe('schedule input', () => {
  it('runs a per-second cron on time, each tick one traced run, results as JSON lines', async () => {
    const lines: Line[] = [];
    const stream = { write: (text: string) => lines.push({ ...(JSON.parse(text) as Line), at: Date.now() }) };
    const spans = collectSpans();
    const server = serve({
      agent: echoAgent(),
      runtime: tracedRuntime({ tracerProvider: spans.tracerProvider }),
      inputs: [scheduleInput({ cron: '* * * * * *', message: (tick: Date) => ({ input: `tick ${tick.getUTCSeconds()}` }) })],
      outputs: [stdoutOutput({ stream })],
    });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(lines).toHaveLength(0); // creating it starts nothing
    await server.start();
    await new Promise((resolve) => setTimeout(resolve, 2_600));
    await server.stop();

    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(3);
    for (const line of lines) {
      const tick = Date.parse(line.id.slice('schedule:'.length));
      expect(tick % 1_000).toBe(0);
      // Each result belongs to its tick: out after it, and before the next one fires.
      expect(line.at - tick).toBeGreaterThanOrEqual(0);
      expect(line.at - tick).toBeLessThan(1_000);
      expect(line).toMatchObject({ source: 'schedule', ok: true, result: { output: `echo: tick ${new Date(tick).getUTCSeconds()}`, stopReason: 'final' } });
    }
    const ticks = lines.map((l) => Date.parse(l.id.slice('schedule:'.length)));
    for (let i = 1; i < ticks.length; i++) expect(ticks[i]! - ticks[i - 1]!).toBe(1_000);
    const runs = spans.spans().filter((s) => s.name === 'invoke_agent echo');
    expect(runs.map((s) => s.attributes[ATTR.serveSource])).toEqual(lines.map(() => 'schedule'));
  });

  it('runs a fixed message, and rejects a bad cron expression when defined', async () => {
    const lines: string[] = [];
    const spans = collectSpans();
    const server = serve({
      agent: echoAgent(),
      runtime: tracedRuntime({ tracerProvider: spans.tracerProvider }),
      inputs: [scheduleInput({ cron: '* * * * * *', message: { input: 'fixed' } })],
      outputs: [stdoutOutput({ stream: { write: (t: string) => lines.push(t) } })],
    });
    await server.start();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await server.stop();
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ ok: true, result: { output: 'echo: fixed' } });
    expect(() => scheduleInput({ cron: 'every second', message: {} })).toThrow();
  });
});
