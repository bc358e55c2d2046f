/**
 * `tracebound diff <baseline> <candidate> [--run-a <id>] [--run-b <id>] [--fail-on <rule...>]`:
 * compares the runs of two trace files (or two chosen runs) and, with rules, gates CI on the change.
 */
import type { Command } from 'commander';
import { summarizeRuns, type RunSummary } from '../traces/run-summary.js';
import { readTraceFile, TraceFileError } from '../traces/trace-file.js';
import {
  checkRule,
  diffRuns,
  DiffRuleError,
  formatChange,
  formatMetric,
  formatPercent,
  pairRuns,
  parseRule,
  type DiffRule,
  type NumericMetric,
  type RuleCheck,
  type RunDiff,
  type RunPair,
  type ValueDiff,
} from '../viewer/diff.js';
import { UsageError } from './agent-module.js';
import type { CliContext, CliIo } from './io.js';

/** Flags of `diff`. */
export interface DiffFlags {
  /** A baseline run: its `tracebound.run.id`, trace id or run span id. */
  runA?: string;
  /** A candidate run, named the same way. */
  runB?: string;
  failOn?: string[];
}

/** A file's top-level runs; a file without any is bad input for a diff. */
async function runsOf(file: string): Promise<RunSummary[]> {
  const runs = summarizeRuns(await readTraceFile(file));
  if (runs.length === 0) throw new UsageError(`${file} holds no tracebound run (no invoke_agent span): record one with tracebound run or tracedRuntime()`);
  return runs;
}

/** How a run is named on the command line and in the output: its run id, else its span id. */
function idOf(run: RunSummary): string {
  return run.runId ?? run.spanId;
}

/**
 * The run `id` names: a run id, trace id or run span id.
 * @throws {UsageError} when none or several runs match, listing the file's runs
 */
function findRun(runs: readonly RunSummary[], id: string, file: string, flag: string): RunSummary {
  const bySpan = runs.filter((run) => run.spanId === id);
  const matches = bySpan.length > 0 ? bySpan : runs.filter((run) => run.runId === id || (run.traceId === id && run.parentRunId === undefined));
  if (matches.length === 1) return matches[0] as RunSummary;
  const listed = runs.map((run) => `${idOf(run)} (${run.agent})`).join(', ');
  if (matches.length === 0) throw new UsageError(`${flag} ${id}: ${file} has no such run (a run id, trace id or run span id); its runs: ${listed}`);
  throw new UsageError(`${flag} ${id}: ${file} has ${matches.length} run spans with that id (a resumed run); pass one span id: ${matches.map((run) => run.spanId).join(', ')}`);
}

/** The pairs to compare: the runs the flags name (a missing side is the named run's partner), else every pair. */
function choosePairs(a: readonly RunSummary[], b: readonly RunSummary[], files: [string, string], flags: DiffFlags): { pairs: RunPair[]; onlyA: RunSummary[]; onlyB: RunSummary[] } {
  if (flags.runA === undefined && flags.runB === undefined) {
    const pairing = pairRuns(a, b);
    if (pairing.pairs.length === 0) {
      const agents = (runs: readonly RunSummary[]) => [...new Set(runs.map((run) => run.agent))].join(', ');
      throw new UsageError(
        `no run of ${files[1]} pairs with a run of ${files[0]} (agents ${agents(a)} vs ${agents(b)}): pick two runs with --run-a and --run-b`,
      );
    }
    return pairing;
  }
  const runA = flags.runA === undefined ? undefined : findRun(a, flags.runA, files[0], '--run-a');
  const runB = flags.runB === undefined ? undefined : findRun(b, flags.runB, files[1], '--run-b');
  if (runA !== undefined && runB !== undefined) return { pairs: [{ a: runA, b: runB, by: 'order' }], onlyA: [], onlyB: [] };
  const { pairs } = pairRuns(a, b);
  const pair = pairs.find((p) => p.a === runA || p.b === runB);
  if (pair === undefined) {
    const [given, other, flag] = runA !== undefined ? [`--run-a ${flags.runA}`, files[1], '--run-b'] : [`--run-b ${flags.runB}`, files[0], '--run-a'];
    throw new UsageError(`${given}: no run of ${other} pairs with it (same agent, same input or order): name one with ${flag}`);
  }
  return { pairs: [pair], onlyA: [], onlyB: [] };
}

/** A run on one line: `weather run 6cfa… "Paris"  2026-12-04T19:45:25.123Z  openai gpt-4o-mini` (input and model when recorded). */
function describeRun(run: RunSummary): string {
  const input = run.input === undefined ? '' : `  ${JSON.stringify(run.input.length > 60 ? `${run.input.slice(0, 60)}…` : run.input)}`;
  const model = [run.provider, run.model].filter(Boolean).join(' ');
  return `${run.agent} run ${idOf(run)}${input}  ${new Date(run.start).toISOString()}${model ? `  ${model}` : ''}`;
}

const COLUMNS = ['', 'baseline', 'candidate', 'change', 'change %'] as const;

/**
 * Rows as aligned text: the label column left-aligned, the others right-aligned, each as wide as
 * its widest cell (at least as wide as a six-decimal USD amount), two spaces apart.
 */
function alignRows(rows: readonly (readonly string[])[]): string[] {
  const widths = COLUMNS.map((_, i) => Math.max(i === 0 ? 12 : 9, ...rows.map((cells) => cells[i]?.length ?? 0)));
  return rows.map((cells) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[0] as number) : cell.padStart(widths[i] as number)))
      .join('  ')
      .trimEnd(),
  );
}

function metricRow(label: string, metric: NumericMetric, diff: ValueDiff): string[] {
  const value = (v: number | undefined) => (v === undefined ? '?' : formatMetric(metric, v));
  return [
    label,
    value(diff.a),
    value(diff.b),
    diff.delta === undefined ? '' : formatChange(metric, diff.delta),
    diff.deltaPercent === undefined ? '' : formatPercent(diff.deltaPercent),
  ];
}

/**
 * The table of one pair: cost, tokens (by kind: input and output always, cache and reasoning when
 * either run has some), steps, tool calls (by name), latency, stop reason.
 */
export function renderRunDiff(diff: RunDiff): string[] {
  const { metrics } = diff;
  const some = (metric: NumericMetric) => (metrics[metric].a ?? 0) > 0 || (metrics[metric].b ?? 0) > 0;
  const kinds: [string, NumericMetric][] = [
    ['  input', 'input_tokens'],
    ['  output', 'output_tokens'],
    ['  cache read', 'cache_read_tokens'],
    ['  cache write', 'cache_write_tokens'],
    ['  reasoning', 'reasoning_tokens'],
  ];
  const stop = diff.stopReason;
  return alignRows([
    COLUMNS,
    metricRow('cost (USD)', 'cost', metrics.cost),
    metricRow('tokens', 'tokens', metrics.tokens),
    ...kinds.filter(([, metric], i) => i < 2 || some(metric)).map(([label, metric]) => metricRow(label, metric, metrics[metric])),
    metricRow('steps', 'steps', metrics.steps),
    metricRow('tool calls', 'tool_calls', metrics.tool_calls),
    ...Object.entries(diff.toolCallsByName).map(([name, counts]) => metricRow(`  ${name}`, 'tool_calls', counts)),
    metricRow('latency (ms)', 'latency', metrics.latency),
    ['stop reason', stop.a ?? '?', stop.b ?? '?', stop.changed ? 'changed' : ''],
  ]);
}

/** A pair's heading, table and rule checks. */
function renderPair(pair: RunPair, diff: RunDiff, checks: readonly RuleCheck[]): string[] {
  return [
    `baseline   ${describeRun(pair.a)}`,
    `candidate  ${describeRun(pair.b)}${pair.by === 'input' ? '' : '  (paired by order)'}`,
    ...renderRunDiff(diff),
    ...checks.map((check) => `${check.broken ? '✗ broken' : '✓ kept'}  ${check.rule.text}: ${check.observed}`),
  ];
}

/**
 * Compares two trace files' runs and checks the rules on each pair.
 *
 * @param files the baseline's and the candidate's OTLP/JSON lines trace files
 * @returns 0 when every rule holds on every pair, 1 when one is broken (named on stderr), 2 on bad
 *   usage or input: an unreadable or malformed file, a file without runs, an unknown run id, a bad
 *   rule, no pair to compare
 */
export async function diffCommand(files: [string, string], flags: DiffFlags, io: CliIo): Promise<number> {
  let rules: DiffRule[];
  let chosen: ReturnType<typeof choosePairs>;
  try {
    rules = (flags.failOn ?? []).map(parseRule);
    chosen = choosePairs(await runsOf(files[0]), await runsOf(files[1]), files, flags);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof TraceFileError || error instanceof DiffRuleError)) throw error;
    io.stderr(`tracebound diff: ${error.message}\n`);
    return 2;
  }
  const broken: string[] = [];
  const blocks = chosen.pairs.map((pair) => {
    const diff = diffRuns(pair.a, pair.b);
    const checks = rules.map((rule) => checkRule(rule, diff));
    for (const check of checks.filter((c) => c.broken)) broken.push(`${check.rule.text} (${pair.b.agent} run ${idOf(pair.b)}: ${check.observed})`);
    return renderPair(pair, diff, checks).join('\n');
  });
  const unpaired = [
    ...chosen.onlyA.map((run) => `only in baseline:  ${describeRun(run)}`),
    ...chosen.onlyB.map((run) => `only in candidate: ${describeRun(run)}`),
  ];
  io.stdout(`${[...blocks, ...(unpaired.length > 0 ? [unpaired.join('\n')] : [])].join('\n\n')}\n`);
  if (broken.length === 0) return 0;
  io.stderr(`tracebound diff: ${broken.length === 1 ? 'a rule is' : `${broken.length} rules are`} broken:\n${broken.map((b) => `  ${b}\n`).join('')}`);
  return 1;
}

/**
 * Adds `diff <baseline> <candidate>` to the program; its action sets `context.exitCode`.
 * `--fail-on` takes the words after it up to the next option, so the files go first (or repeat
 * `--fail-on` once per rule).
 */
export function registerDiff(program: Command, context: CliContext): void {
  program
    .command('diff')
    .description('compare the runs of two trace files (cost, tokens, steps, tool calls, latency, stop reason); exit 1 when a --fail-on rule is broken')
    .argument('<baseline>', 'trace file of the baseline (e.g. main)')
    .argument('<candidate>', 'trace file of the candidate (e.g. your branch)')
    .option('--run-a <id>', 'compare only this baseline run (run id, trace id or run span id)')
    .option('--run-b <id>', 'compare only this candidate run (run id, trace id or run span id)')
    .option(
      '--fail-on <rule...>',
      'exit 1 when a rule holds for a pair of runs, e.g. cost>+10% tokens>+20% steps>+1 latency>5000 stop_reason!=final; put the files before this flag',
    )
    .action(async (baseline: string, candidate: string, flags: DiffFlags) => {
      context.exitCode = await diffCommand([baseline, candidate], flags, context);
    });
}
