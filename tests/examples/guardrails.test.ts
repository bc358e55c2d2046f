/**
 * examples/pii-guardrail.ts, examples/topic-guardrail.ts and examples/typed-output.ts, run as a
 * user runs them (their own Node process, `tracebound` as a package, offline), and the trace
 * files the guardrail examples write, read back.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readTraceFile } from '../../src/traces/trace-file.js';
import { ATTR } from '../../src/tracing/attributes.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const dir = mkdtempSync(join(tmpdir(), 'tracebound-guardrail-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function example(name: string, ...args: string[]): Promise<string> {
  const env = { ...process.env };
  delete env.OPENAI_API_KEY;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(EXAMPLES, name), ...args], { env });
  return stdout;
}

describe('guardrail examples', () => {
  it('pii-guardrail.ts: answers a clean question, stops a card number on input and an email address on output', { timeout: 60_000 }, async () => {
    const trace = join(dir, 'pii.jsonl');
    expect((await example('pii-guardrail.ts', trace)).split('\n')).toEqual([
      '> Where is order 4711?',
      'Order 4711 ships tomorrow.',
      '> Refund my card 4111 1111 1111 1111 please.',
      '[guardrail: no_pii_in (input) contains a card number]',
      '> Whom do I contact about billing?',
      '[guardrail: no_pii_out (output) contains an email address]',
      '',
    ]);
    const spans = await readTraceFile(trace);
    const stops = spans.filter((s) => s.name === 'invoke_agent support').map((s) => [s.attributes[ATTR.stopReason], s.attributes[ATTR.guardrailName]]);
    expect(stops).toEqual([
      ['final', undefined],
      ['guardrail', 'no_pii_in'],
      ['guardrail', 'no_pii_out'],
    ]);
  });

  it("topic-guardrail.ts: a small model's verdict lets a cooking question through and stops another, its call priced in the run", { timeout: 60_000 }, async () => {
    const trace = join(dir, 'topic.jsonl');
    const lines = (await example('topic-guardrail.ts', trace)).split('\n');
    expect(lines.slice(0, 2)).toEqual(['> How long should bread dough rest?', 'Rest the dough for an hour before you shape it.']);
    expect(lines.slice(3, 5)).toEqual(['> Which stocks should I buy?', '[guardrail: on_topic not about cooking]']);
    // gpt-4.1-nano: $0.10/$0.40 per MTok (genai-prices data): 40 input, 1 output token.
    expect(lines[5]).toBe(`  40 input tokens, $${((40 * 0.1 + 1 * 0.4) / 1e6).toFixed(6)} (classifier included)`);
    const spans = await readTraceFile(trace);
    const checks = spans.filter((s) => s.name === 'guardrail on_topic');
    expect(checks.map((s) => s.attributes[ATTR.guardrailResult])).toEqual(['pass', 'fail']);
    for (const check of checks) expect(spans.filter((s) => s.parentSpanId === check.spanId).map((s) => s.name)).toEqual(['chat gpt-4.1-nano']);
  });

  it('typed-output.ts: streams partial objects, then the typed recipe', { timeout: 60_000 }, async () => {
    const lines = (await example('typed-output.ts')).trim().split('\n');
    expect(lines[0]).toBe('partial {}');
    expect(lines.at(-2)).toBe('partial {"title":"Pancakes","minutes":20,"ingredients":[{"name":"flour","grams":125},{"name":"milk","grams":250},{"name":"egg","grams":null}]}');
    expect(lines.at(-1)).toBe('Pancakes, 20 min: flour, milk, egg');
  });
});
