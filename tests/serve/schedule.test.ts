import { afterEach, describe, expect, it, vi } from 'vitest';
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

/**
 * The cron's timers and clock are faked and moved by the test: croner skips the ticks it wakes up
 * too late for, and a loaded machine wakes it hundreds of ms late, so on real time the count of
 * ticks and their spacing would depend on the machine. Promises still run between the timers.
 */
function fakeClock(): void {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.UTC(2026, 0, 1, 12, 0, 0, 400) });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('schedule input', () => {
  it('runs a per-second cron on time, each tick one traced run, results as JSON lines', async () => {
    fakeClock();
    const lines: Line[] = [];
    const stream = { write: (text: string) => lines.push({ ...(JSON.parse(text) as Line), at: Date.now() }) };
    const spans = collectSpans();
    const server = serve({
      agent: echoAgent(),
      runtime: tracedRuntime({ tracerProvider: spans.tracerProvider }),
      inputs: [scheduleInput({ cron: '* * * * * *', message: (tick: Date) => ({ input: `tick ${tick.getUTCSeconds()}` }) })],
      outputs: [stdoutOutput({ stream })],
    });
    await vi.advanceTimersByTimeAsync(1_200);
    expect(lines).toHaveLength(0); // creating it starts nothing
    await server.start();
    await vi.advanceTimersByTimeAsync(3_000);
    await server.stop();

    // Started at 12:00:01.600: the ticks of :02, :03 and :04.
    expect(lines.map((l) => l.id)).toEqual(['02', '03', '04'].map((s) => `schedule:2026-01-01T12:00:${s}.000Z`));
    for (const line of lines) {
      const tick = Date.parse(line.id.slice('schedule:'.length));
      // Each result belongs to its tick: out after it, and before the next one fires.
      expect(line.at - tick).toBeGreaterThanOrEqual(0);
      expect(line.at - tick).toBeLessThan(1_000);
      expect(line).toMatchObject({ source: 'schedule', ok: true, result: { output: `echo: tick ${new Date(tick).getUTCSeconds()}`, stopReason: 'final' } });
    }
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
    fakeClock();
    await server.start();
    await vi.advanceTimersByTimeAsync(1_000);
    await server.stop();
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ ok: true, result: { output: 'echo: fixed' } });
    expect(() => scheduleInput({ cron: 'every second', message: {} })).toThrow();
  });
});
