/**
 * `tracebound view` end to end in a real browser (Debian's Chromium through playwright-core): a
 * trace file recorded by the real runtime, the viewer's server following it, and the page read
 * and clicked as a person would. Runs sent over OTLP/HTTP by real exporters (the SDK's
 * `@opentelemetry/exporter-trace-otlp-http` for JSON, tracebound's `otlp-proto` exporter for
 * protobuf) and runs appended to the file appear without a reload.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agent, tracedRuntime, type RunResult } from '../../src/index.js';
import { recordRun, scriptedModel } from '../../src/testing/index.js';
import { tool } from '../../src/tool.js';
import { z } from 'zod';
import type { RunList } from '../../src/viewer/api-types.js';
import { formatChange, formatPercent } from '../../src/viewer/diff.js';
import { startViewer, type Viewer } from '../../src/viewer/server.js';
import { runCli, tempDir } from '../cli/fixture.js';
import { collectPageErrors, launchChromium, screenshotDir } from './browser.js';
import { recordDemoTrace, type DemoTrace } from './demo-trace.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `npm test` builds first (pretest); a lone `vitest run` of this file builds the UI bundle itself. */
async function ensureBundle(): Promise<void> {
  if (existsSync(join(ROOT, 'dist', 'viewer-ui', 'main.js'))) return;
  await promisify(execFile)('npm', ['run', 'build:ui'], { cwd: ROOT });
}

/** A one-step agent answering from a script, priced as gpt-4o-mini. */
function echo(name: string) {
  return agent({
    name,
    instructions: 'Repeat the input.',
    model: scriptedModel({
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      respond: (request) => ({ text: `echo: ${String(request.messages.at(-1)?.content)}`, usage: { inputTokens: 30, outputTokens: 7 } }),
    }),
  });
}

/** `$0.000124` -> 0.000124; `5,000` -> 5000. */
const number = (text: string): number => Number(text.replace(/[$,]/g, ''));

let browser: Browser;
let page: Page;
let viewer: Viewer;
let demo: DemoTrace;
let shots: string;
let pageErrors: string[];

/** Waits until the runs table shows `n` rows. */
async function rowCount(n: number): Promise<void> {
  await page.waitForFunction(`document.querySelectorAll('table.runs tbody tr').length === ${n}`);
}

async function cells(row: string): Promise<string[]> {
  return page.locator(`${row} td`).allInnerTexts();
}

async function rowOf(result: RunResult): Promise<string> {
  const list = (await (await fetch(`${viewer.url}api/runs?limit=500`)).json()) as RunList;
  // A resumed run has one run span per part, each with its own stop reason.
  const run = list.runs.find((r) => r.runId === result.runId && r.stopReason === result.stopReason);
  if (!run) throw new Error(`run ${result.runId} is not listed`);
  return `tr[data-run="${run.spanId}"]`;
}

beforeAll(async () => {
  await ensureBundle();
  const dir = await tempDir();
  demo = await recordDemoTrace(join(dir, 'traces.jsonl'));
  viewer = await startViewer({ file: demo.file, port: 0, pollMs: 50 });
  await viewer.ready;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  pageErrors = collectPageErrors(page);
  shots = await screenshotDir();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
});

describe('tracebound view in Chromium', () => {
  it('lists the runs newest first with their agent, stop reason, steps, tool calls, tokens and cost', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('table.runs tbody tr');
    const agents = await page.locator('table.runs tbody tr td:nth-child(2)').allInnerTexts();
    expect(agents).toEqual(['support', 'support', 'frugal', 'planner', 'weather', 'weather']);
    for (const result of Object.values(demo.results)) {
      const [, , , , stop, steps, toolCalls, tokens, cost] = await cells(await rowOf(result));
      expect(stop).toBe(result.stopReason);
      expect(Number(steps)).toBe(result.steps);
      expect(Number(toolCalls)).toBe(result.toolCalls);
      expect(number(tokens!)).toBe(result.usage.inputTokens + result.usage.outputTokens);
      expect(number(cost!)).toBeCloseTo(result.costUsd, 6);
    }
    const totalCost = Object.values(demo.results).reduce((sum, r) => sum + r.costUsd, 0);
    const totals = await page.getByTestId('totals').innerText();
    expect(totals).toMatch(/^6 runs/);
    expect(number(/\$[\d.]+/.exec(totals)![0])).toBeCloseTo(totalCost, 6);
    await page.screenshot({ path: join(shots, 'viewer-runs.png') });
  });

  it('filters by agent, conversation and stop reason, and totals only what is shown', async () => {
    await page.selectOption('select[name=agent]', 'weather');
    await rowCount(2);
    const weatherTokens = [demo.results.weather1, demo.results.weather2].reduce((sum, r) => sum + r.usage.inputTokens + r.usage.outputTokens, 0);
    expect(await page.getByTestId('totals').innerText()).toContain(`2 runs · ${weatherTokens.toLocaleString('en-US')} tokens`);

    await page.selectOption('select[name=agent]', '');
    await page.selectOption('select[name=conversation]', 'trip-42');
    await rowCount(2);
    expect(await page.locator('table.runs tbody tr td:nth-child(10)').allInnerTexts()).toEqual(['trip-42', 'trip-42']);

    await page.selectOption('select[name=conversation]', '');
    await rowCount(6);
    expect(await page.locator('select[name=stop] option').allInnerTexts()).toEqual(['all', 'budget_exceeded', 'final', 'interrupted']);
    await page.selectOption('select[name=stop]', 'budget_exceeded');
    await rowCount(1);
    expect(await page.locator('table.runs tbody tr td:nth-child(2)').allInnerTexts()).toEqual(['frugal']);
    expect(number(/\$[\d.]+/.exec(await page.getByTestId('totals').innerText())![0])).toBeCloseTo(demo.results.frugal.costUsd!, 6);
    await page.selectOption('select[name=stop]', '');
    await rowCount(6);
  });

  it("opens a run: every span on the waterfall, the sub-agent nested, the error and the retry marked", async () => {
    await page.click(`${await rowOf(demo.results.planner)} td:nth-child(2) a`);
    await page.waitForSelector('[data-testid=waterfall] .row');
    const header = await page.getByTestId('run-header').innerText();
    expect(header).toContain('planner');
    expect(header).toContain(demo.results.planner.runId);

    const rows = page.locator('[data-testid=waterfall] .row');
    const names = await rows.locator('.label-col').allInnerTexts();
    expect(names.map((name) => name.replace(/^⚠\s*/, '').trim())).toEqual([
      'invoke_agent planner',
      'step 1',
      'chat gpt-4o-mini',
      'execute_tool lookup_flights',
      'execute_tool researcher',
      'invoke_agent researcher',
      'step 1',
      'chat gpt-4o-mini',
      'step 2',
      'chat gpt-4o-mini',
    ]);
    const kinds = await rows.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-kind')));
    expect(kinds).toEqual(['run', 'step', 'chat', 'tool', 'tool', 'run', 'step', 'chat', 'step', 'chat']);
    // The sub-agent's run sits under the tool span that called it.
    const indent = async (i: number) => parseFloat(/padding-left:\s*([\d.]+)px/.exec((await rows.nth(i).locator('.label-col').getAttribute('style')) ?? '')![1]!);
    expect(await indent(5)).toBeGreaterThan(await indent(4));
    // The failed tool stands out; nothing else does.
    const failed = page.locator('[data-testid=waterfall] .row.failed');
    expect(await failed.count()).toBe(1);
    expect(await failed.innerText()).toContain('execute_tool lookup_flights');
    // The rate-limited call's retry is a marker on its chat span.
    expect(await rows.nth(2).locator('.mark-retry').count()).toBe(1);
    // Bars are to scale: the sub-run lies within its tool span (read off the bars' percentages,
    // since a bar is drawn at least 2 px wide so a sub-millisecond span stays visible).
    const place = async (i: number) => {
      const style = (await rows.nth(i).locator('.bar').getAttribute('style')) ?? '';
      const left = Number(/left:\s*([\d.e-]+)%/.exec(style)![1]);
      const width = Number(/width:\s*max\(2px,\s*([\d.e-]+)%\)/.exec(style)![1]);
      return { left, right: left + width };
    };
    const [tool, subRun, run] = [await place(4), await place(5), await place(0)];
    // Within 0.01 % of the run: nested spans ending together may differ by a clock reading's rounding.
    expect(subRun.left).toBeGreaterThanOrEqual(tool.left - 0.01);
    expect(subRun.right).toBeLessThanOrEqual(tool.right + 0.01);
    expect(run.left).toBe(0);
    expect(tool.right).toBeLessThanOrEqual(100);
  });

  it("shows a span's attributes, events and content when clicked: a failed tool's arguments and error", async () => {
    await page.locator('[data-testid=waterfall] .row.failed').click();
    const details = page.getByTestId('span-details');
    await details.getByText('Tool arguments').waitFor();
    expect(await page.getByTestId('span-status').innerText()).toBe('status ERROR: flight search is down');
    expect(JSON.parse(await details.locator('pre.json').first().innerText())).toEqual({ from: 'Paris', to: 'Lyon' });
    expect(await page.getByTestId('span-attributes').innerText()).toContain('gen_ai.tool.call.id\tcall_flights');
    expect(await details.locator('.events').innerText()).toContain('exception');
  });

  it('renders a model call as a conversation: system, user, assistant tool calls, tool results', async () => {
    // The second model call of the planner: it saw both tool results.
    await page.locator('[data-testid=waterfall] .row').nth(9).click();
    const details = page.getByTestId('span-details');
    await details.getByText('Input messages').waitFor();
    const roles = await details.locator('ol.conversation .role').allInnerTexts();
    expect(roles.map((role) => role.toLowerCase())).toEqual(['system', 'user', 'assistant', 'tool', 'tool', 'assistant']);
    const assistant = details.locator('ol.conversation .role-assistant').first();
    expect(await assistant.locator('.tool-call strong').allInnerTexts()).toEqual(['lookup_flights', 'researcher']);
    expect(JSON.parse(await assistant.locator('.tool-call pre').nth(1).innerText())).toEqual({ input: 'How tall is the Eiffel Tower?' });
    expect(await details.locator('.role-tool').nth(1).innerText()).toContain('The Eiffel Tower is 330 m tall.');
    expect(await details.locator('.role-assistant').last().innerText()).toContain('Fly on Friday; the tower is 330 m tall.');
    expect(await page.getByTestId('span-attributes').innerText()).toContain('gen_ai.usage.input_tokens\t300');
    await page.screenshot({ path: join(shots, 'viewer-planner.png') });
  });

  it('marks budget decisions on the spans they were made on', async () => {
    await page.goto(viewer.url);
    await page.click(`${await rowOf(demo.results.frugal)} td:nth-child(2) a`);
    const rows = page.locator('[data-testid=waterfall] .row');
    await rows.first().waitFor();
    const marked = await rows.evaluateAll((elements) =>
      elements.filter((e) => e.querySelector('.mark-budget')).map((e) => e.querySelector('.label-col')!.textContent),
    );
    expect(marked).toEqual(['step 2', 'step 3']);
    await rows.filter({ hasText: 'step 3' }).click();
    const events = page.getByTestId('span-details').locator('.events');
    await events.waitFor();
    expect(await events.innerText()).toContain('tracebound.budget.check');
    expect(await events.innerText()).toMatch(/decision\s+refuse/);
  });

  it('marks an approval on the tool it allowed and on the resumed run', async () => {
    await page.goto(viewer.url);
    await page.click(`${await rowOf(demo.results.supportInterrupted)} td:nth-child(2) a`);
    const rows = page.locator('[data-testid=waterfall] .row');
    await rows.first().waitFor();
    const names = (await rows.locator('.label-col').allInnerTexts()).map((name) => name.trim());
    // The resumed part nests under the run span it continues.
    expect(names.filter((name) => name === 'invoke_agent support')).toHaveLength(2);
    const resumed = rows.nth(names.lastIndexOf('invoke_agent support'));
    expect(await resumed.locator('.mark-approval').count()).toBe(1);
    const tool = rows.filter({ hasText: 'execute_tool refund' });
    expect(await tool.locator('.badge').allInnerTexts()).toEqual(['approved']);
    await tool.click();
    await page.getByTestId('span-attributes').getByText('tracebound.approval').waitFor();
    expect(await page.getByTestId('span-attributes').innerText()).toContain('tracebound.approval\tapproved');
  });

  it("shows a conversation's runs in order, with each turn's input and answer", async () => {
    await page.goto(`${viewer.url}#/conversation/trip-42`);
    const turns = page.getByTestId('conversation').locator('li.turn');
    await turns.nth(1).waitFor();
    expect(await turns.count()).toBe(2);
    expect(await turns.nth(0).innerText()).toContain('What is the weather in Paris?');
    expect(await turns.nth(0).innerText()).toContain(demo.results.weather1.output as string);
    expect(await turns.nth(1).innerText()).toContain('And in Lyon?');
    expect(await turns.nth(1).innerText()).toContain(demo.results.weather2.output as string);
  });

  it("shows an agent's spend against the limit its runs recorded", async () => {
    await page.goto(`${viewer.url}#/budget/frugal`);
    const budget = page.getByTestId('budget');
    await budget.waitFor();
    expect(await budget.innerText()).toContain('spend limit $0.010000 per 1h');
    expect(await budget.locator('circle.point').count()).toBe(1);
    expect(await budget.locator('.limit line').count()).toBe(1);
  });

  it('compares two ticked runs', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('table.runs tbody tr');
    await page.check(`${await rowOf(demo.results.weather1)} input[type=checkbox]`);
    await page.check(`${await rowOf(demo.results.weather2)} input[type=checkbox]`);
    await page.getByTestId('compare').click();
    const diff = page.getByTestId('diff');
    await diff.waitFor();
    const [, a, b, change] = await diff.locator('tr[data-metric=tokens] td, tr[data-metric=tokens] th').allInnerTexts();
    const tokens = (r: RunResult) => r.usage.inputTokens + r.usage.outputTokens;
    expect(Number(a)).toBe(tokens(demo.results.weather1));
    expect(Number(b)).toBe(tokens(demo.results.weather2));
    expect(change).toBe(`+${tokens(demo.results.weather2) - tokens(demo.results.weather1)}`);
    // Each run called get_weather once: no change, spelled as `tracebound diff` spells it.
    expect(await diff.locator('tr[data-metric="calls of get_weather"] td').allInnerTexts()).toEqual(['1', '1', formatChange('tool_calls', 0), formatPercent(0)]);
    await page.screenshot({ path: join(shots, 'viewer-diff.png') });
  });

  it('shows runs sent over OTLP/HTTP, JSON and protobuf, as they arrive', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('table.runs tbody tr');

    // JSON: the OpenTelemetry SDK's own OTLP/HTTP exporter, as any OpenTelemetry app would send.
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${viewer.url}v1/traces` }))] });
    const jsonRuntime = tracedRuntime({ tracerProvider: provider, captureContent: true });
    const viaJson = await jsonRuntime.run(echo('echo-json'), 'sent as JSON');
    await provider.forceFlush();
    await jsonRuntime.shutdown();
    await provider.shutdown();
    await page.locator('table.runs tbody tr', { hasText: 'echo-json' }).waitFor();

    // Protobuf: `tracebound run --exporter otlp-proto`'s exporter, pointed at the viewer.
    const saved = process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
    process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = `${viewer.url}v1/traces`;
    let viaProtobuf: RunResult;
    try {
      const protoRuntime = tracedRuntime({ exporter: 'otlp-proto', captureContent: true });
      viaProtobuf = await protoRuntime.run(echo('echo-protobuf'), 'sent as protobuf');
      await protoRuntime.shutdown();
    } finally {
      if (saved === undefined) delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
      else process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = saved;
    }
    await page.locator('table.runs tbody tr', { hasText: 'echo-protobuf' }).waitFor();

    for (const result of [viaJson, viaProtobuf]) {
      const [, , , , stop, steps, , tokens, cost] = await cells(await rowOf(result));
      expect(stop).toBe('final');
      expect(Number(steps)).toBe(1);
      expect(number(tokens!)).toBe(37);
      expect(number(cost!)).toBeCloseTo(result.costUsd!, 6);
    }
    // The protobuf run's content was decoded too: its answer shows in the model call's details.
    await page.click(`${await rowOf(viaProtobuf)} td:nth-child(2) a`);
    await page.locator('[data-testid=waterfall] .row[data-kind=chat]').click();
    await page.getByTestId('span-details').getByText('echo: sent as protobuf').waitFor();
    expect(pageErrors).toEqual([]);
  });

  it('shows a run appended to the file without a reload', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('table.runs tbody tr');
    const before = await page.locator('table.runs tbody tr').count();
    const runtime = tracedRuntime({ exporter: 'file', traceFile: demo.file });
    const appended = await runtime.run(echo('echo-file'), 'appended');
    await runtime.shutdown();
    const row = page.locator('table.runs tbody tr', { hasText: 'echo-file' });
    await row.waitFor();
    expect(await page.locator('table.runs tbody tr').count()).toBe(before + 1);
    // Newest first: the appended run heads the list.
    expect(await page.locator('table.runs tbody tr').first().getAttribute('data-run')).toBe(
      (await rowOf(appended)).replace(/^tr\[data-run="|"\]$/g, ''),
    );
    expect(pageErrors).toEqual([]);
  });
  it('renders only the visible rows of a long run, and scrolls to the end of it', async () => {
    const steps = 100;
    const add = tool({ name: 'add', description: 'Adds.', parameters: z.object({ a: z.number(), b: z.number() }), execute: async ({ a, b }) => a + b });
    const counter = agent({
      name: 'counter',
      instructions: 'Count with the add tool.',
      model: scriptedModel({
        provider: 'openai',
        modelId: 'gpt-4o-mini',
        respond: (request) => {
          const done = request.messages.filter((m) => m.role === 'tool').length;
          return done < steps - 1
            ? { toolCalls: [{ id: `call_${done + 1}`, name: 'add', arguments: { a: done, b: 1 } }], usage: { inputTokens: 100, outputTokens: 20 } }
            : { text: `Counted to ${done}.`, usage: { inputTokens: 100, outputTokens: 20 } };
        },
      }),
      tools: [add],
      budget: { maxSteps: steps, maxToolCalls: steps },
    });
    const file = join(await tempDir(), 'long.jsonl');
    await recordRun(counter, 'Count.', { traceFile: file });
    const longViewer = await startViewer({ file, port: 0 });
    try {
      await longViewer.ready;
      const [run] = ((await (await fetch(`${longViewer.url}api/runs`)).json()) as RunList).runs;
      await page.goto(`${longViewer.url}#/run/${run!.spanId}`);
      const waterfall = page.getByTestId('waterfall');
      await waterfall.locator('.row').first().waitFor();
      const spans = 3 * steps;
      expect(await waterfall.locator('.axis .label-col').innerText()).toBe(`${spans} spans`);
      const rendered = await waterfall.locator('.row').count();
      expect(rendered).toBeLessThan(spans / 3);
      // Scrolled to the end, the last model call is drawn and can be opened.
      await waterfall.locator('.rows').evaluate((element) => element.scrollTo(0, element.scrollHeight));
      const last = waterfall.locator('.row').last();
      await expect.poll(() => last.innerText()).toContain('chat gpt-4o-mini');
      await last.click();
      await page.getByTestId('span-details').getByText(`Counted to ${steps - 1}.`).waitFor();
      expect(await waterfall.locator('.row').count()).toBeLessThan(spans / 3);
      expect(pageErrors).toEqual([]);
    } finally {
      await longViewer.close();
    }
  });
  it("shows the demo run (npm start): its waterfall, and a model call's details (the README's pictures)", async () => {
    const file = join(await tempDir(), 'traces.jsonl');
    const run = await runCli(['run', join(ROOT, 'examples', 'release-notes', 'agent.ts'), '--offline', '--trace-file', file]);
    expect(run.code, run.stderr).toBe(0);
    const demoViewer = await startViewer({ file, port: 0 });
    try {
      await demoViewer.ready;
      await page.setViewportSize({ width: 1280, height: 720 });
      await page.goto(demoViewer.url);
      await page.locator('table.runs tbody tr a').first().click();
      const rows = page.locator('[data-testid=waterfall] .row');
      await rows.first().waitFor();
      expect(await rows.locator('.label-col').allInnerTexts()).toEqual([
        'invoke_agent release-notes',
        'step 1',
        'chat gpt-4o-mini',
        'execute_tool parallel_local_search_one',
        'execute_tool parallel_local_search_two',
        'execute_tool parallel_local_search_three',
        'step 2',
        'chat gpt-4o-mini',
      ]);
      // The guard lowered the second call: its decisions are marked on step 2.
      expect(await rows.nth(6).locator('.mark-budget').count()).toBeGreaterThan(0);
      await rows.nth(2).click();
      const details = page.getByTestId('span-details');
      await details.getByText('Output messages').waitFor();
      expect(await details.locator('.role-assistant .tool-call strong').allInnerTexts()).toEqual([
        'parallel_local_search_one',
        'parallel_local_search_two',
        'parallel_local_search_three',
      ]);
      await page.screenshot({ path: join(shots, 'viewer-waterfall.png') });
      await rows.nth(7).click();
      await details.getByText('The latest release notes for OpenAI').waitFor();
      // The answer, at the top of the details pane.
      await page.evaluate(
        "(() => { const pane = document.querySelector('.details-pane'); const heading = [...pane.querySelectorAll('h4')].find((h) => h.textContent === 'Output messages'); pane.scrollTop = heading.offsetTop - pane.offsetTop - 8; })()",
      );
      await page.screenshot({ path: join(shots, 'viewer-span.png') });
    } finally {
      await page.setViewportSize({ width: 1400, height: 900 });
      await demoViewer.close();
    }
  });
});
