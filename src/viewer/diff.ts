/**
 * Comparing runs: two {@link RunSummary}s as a plain-data diff (per metric: baseline, candidate,
 * change, change in percent), the pairing of two files' runs, and the `--fail-on` rules that turn a
 * diff into a CI verdict. `tracebound diff` prints it; the viewer shows it for two selected runs.
 */
import type { RunSummary } from '../traces/run-summary.js';

/**
 * The numbers a diff compares and a rule may name, with their units:
 * `cost` USD; `tokens` input + output; `input_tokens` ... `reasoning_tokens` by kind (cache reads
 * and writes are part of input, reasoning part of output, as `gen_ai.usage.*` counts them);
 * `steps`, `tool_calls` counts; `latency` the run's wall time in ms.
 */
export const NUMERIC_METRICS = [
  'cost',
  'tokens',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'steps',
  'tool_calls',
  'latency',
] as const;

export type NumericMetric = (typeof NUMERIC_METRICS)[number];

/** One number of a baseline run (`a`) and a candidate run (`b`). */
export interface ValueDiff {
  /** Baseline's value; absent when not recorded (cost of a run with an unpriced call). */
  a?: number;
  /** Candidate's value; absent when not recorded. */
  b?: number;
  /** `b - a`, when both are known. */
  delta?: number;
  /**
   * `(b - a) / a * 100`, when both are known; `Infinity` (or `-Infinity`) when `a` is 0 and `b` is
   * not (JSON writes it as `null`), 0 when both are 0.
   */
  deltaPercent?: number;
}

/** Two runs compared. */
export interface RunDiff {
  a: RunSummary;
  b: RunSummary;
  metrics: Record<NumericMetric, ValueDiff>;
  /** Tool calls per `gen_ai.tool.name`, every tool either run called (0 where one did not). */
  toolCallsByName: Record<string, ValueDiff>;
  stopReason: { a?: string; b?: string; changed: boolean };
}

/**
 * Drops the binary floating-point noise of a subtraction (0.00011 - 0.0001 is 1.0000000000000003e-5),
 * so a change of exactly the allowed amount does not break a rule.
 */
function clean(value: number): number {
  return Number.isFinite(value) ? Number(value.toPrecision(12)) : value;
}

function valueDiff(a: number | undefined, b: number | undefined): ValueDiff {
  const diff: ValueDiff = {};
  if (a !== undefined) diff.a = a;
  if (b !== undefined) diff.b = b;
  if (a === undefined || b === undefined) return diff;
  diff.delta = clean(b - a);
  diff.deltaPercent = a === 0 ? (b === 0 ? 0 : Math.sign(b) * Infinity) : clean(((b - a) / Math.abs(a)) * 100);
  return diff;
}

/**
 * A metric's value as the diff table and rule reports print it: USD with six decimals, latency in
 * ms with one, counts as integers.
 */
export function formatMetric(metric: NumericMetric, value: number): string {
  if (metric === 'cost') return value.toFixed(6);
  if (metric === 'latency') return value.toFixed(1);
  return String(value);
}

/** A change with its sign (`+3`, `-0.000020`), `0` for none. */
export function formatChange(metric: NumericMetric, delta: number): string {
  return `${delta > 0 ? '+' : ''}${formatMetric(metric, delta)}`;
}

/** A change in percent with its sign and one decimal (`+22.0%`, `0.0%`); `+∞%` for growth from 0. */
export function formatPercent(percent: number): string {
  if (!Number.isFinite(percent)) return percent > 0 ? '+∞%' : '-∞%';
  return `${percent > 0 ? '+' : ''}${percent.toFixed(1)}%`;
}

function metricOf(run: RunSummary, metric: NumericMetric): number | undefined {
  switch (metric) {
    case 'cost':
      return run.costUsd;
    case 'tokens':
      return run.tokens.input + run.tokens.output;
    case 'input_tokens':
      return run.tokens.input;
    case 'output_tokens':
      return run.tokens.output;
    case 'cache_read_tokens':
      return run.tokens.cacheRead;
    case 'cache_write_tokens':
      return run.tokens.cacheWrite;
    case 'reasoning_tokens':
      return run.tokens.reasoning;
    case 'steps':
      return run.steps;
    case 'tool_calls':
      return run.toolCalls;
    case 'latency':
      return run.durationMs;
  }
}

/**
 * Compares a baseline run with a candidate run.
 *
 * @param a the baseline (e.g. main's run)
 * @param b the candidate (e.g. the branch's run of the same input)
 */
export function diffRuns(a: RunSummary, b: RunSummary): RunDiff {
  const metrics = {} as Record<NumericMetric, ValueDiff>;
  for (const metric of NUMERIC_METRICS) metrics[metric] = valueDiff(metricOf(a, metric), metricOf(b, metric));
  const toolCallsByName: Record<string, ValueDiff> = {};
  const names = [...new Set([...Object.keys(a.toolCallsByName), ...Object.keys(b.toolCallsByName)])].sort();
  for (const name of names) toolCallsByName[name] = valueDiff(a.toolCallsByName[name] ?? 0, b.toolCallsByName[name] ?? 0);
  const stopReason: RunDiff['stopReason'] = { changed: a.stopReason !== b.stopReason };
  if (a.stopReason !== undefined) stopReason.a = a.stopReason;
  if (b.stopReason !== undefined) stopReason.b = b.stopReason;
  return { a, b, metrics, toolCallsByName, stopReason };
}

/** A baseline run and the candidate run it is compared with, and how they were matched. */
export interface RunPair {
  a: RunSummary;
  b: RunSummary;
  /** `input`: same agent and same recorded input; `order`: the n-th unmatched run of the agent in each file. */
  by: 'input' | 'order';
}

/** The runs of two files, paired; runs without a partner are listed, in start order. */
export interface Pairing {
  pairs: RunPair[];
  onlyA: RunSummary[];
  onlyB: RunSummary[];
}

/**
 * Pairs the top-level runs of two files (sub-runs are compared as part of their parent's totals):
 * first by agent and input (the first unmatched candidate run of the same agent with the same
 * recorded input), then the rest of each agent by start order.
 *
 * @param a the baseline file's runs, e.g. from `summarizeRuns`
 * @param b the candidate file's runs
 * @returns pairs in the baseline's start order
 */
export function pairRuns(a: readonly RunSummary[], b: readonly RunSummary[]): Pairing {
  const top = (runs: readonly RunSummary[]) => [...runs].filter((run) => run.parentRunId === undefined).sort((x, y) => x.start - y.start);
  const baseline = top(a);
  const candidate = top(b);
  const partner = new Map<RunSummary, RunPair>();
  const taken = new Set<RunSummary>();
  for (const run of baseline) {
    if (run.input === undefined) continue;
    const match = candidate.find((other) => !taken.has(other) && other.agent === run.agent && other.input === run.input);
    if (match === undefined) continue;
    taken.add(match);
    partner.set(run, { a: run, b: match, by: 'input' });
  }
  for (const run of baseline) {
    if (partner.has(run)) continue;
    const match = candidate.find((other) => !taken.has(other) && other.agent === run.agent);
    if (match === undefined) continue;
    taken.add(match);
    partner.set(run, { a: run, b: match, by: 'order' });
  }
  return {
    pairs: baseline.flatMap((run) => partner.get(run) ?? []),
    onlyA: baseline.filter((run) => !partner.has(run)),
    onlyB: candidate.filter((run) => !taken.has(run)),
  };
}

// ---- --fail-on rules ----

/**
 * The grammar of a rule, for error messages and the CLI's help. A rule says when the candidate is
 * worse than allowed; it is broken when its comparison holds.
 */
export const RULE_GRAMMAR = [
  '<metric><op><value>, e.g. cost>+10%, tokens>+20%, steps>+1, latency>5000, stop_reason!=final',
  `  metric: ${NUMERIC_METRICS.join(', ')} (cost in USD, latency in ms), or stop_reason`,
  '  op: > >= < <= for a number; == != for stop_reason',
  '  value: +N% or -N% (change from the baseline in percent), +N or -N (change in the metric\'s unit),',
  '         N (the candidate\'s own value); for stop_reason a stop reason such as final or max_steps',
].join('\n');

/** A parsed numeric `--fail-on` rule. */
export interface NumericRule {
  text: string;
  metric: NumericMetric;
  op: '>' | '>=' | '<' | '<=';
  /** `percent`: compare the change in percent; `change`: the change; `value`: the candidate's value. */
  compare: 'percent' | 'change' | 'value';
  value: number;
}

/** A parsed `stop_reason` rule: broken when the candidate's stop reason is (`==`) or is not (`!=`) `value`. */
export interface StopReasonRule {
  text: string;
  metric: 'stop_reason';
  op: '==' | '!=';
  value: string;
}

export type DiffRule = NumericRule | StopReasonRule;

/** A `--fail-on` rule that does not parse. `message` says what is wrong and gives the grammar. */
export class DiffRuleError extends Error {
  override readonly name = 'DiffRuleError';

  /**
   * @param rule the rule as given
   * @param problem what is wrong with it
   */
  constructor(
    readonly rule: string,
    problem: string,
  ) {
    super(`bad rule "${rule}": ${problem}; a rule is ${RULE_GRAMMAR}`);
  }
}

const RULE = /^\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*(.*?)\s*$/;
const NUMBER = /^([+-])?(\d+(?:\.\d+)?|\.\d+)(%)?$/;

/**
 * Parses a `--fail-on` rule (see {@link RULE_GRAMMAR}).
 *
 * @throws DiffRuleError for an unknown metric, an operator that does not fit the metric, or a
 *   value that is not a number (or a word, for stop_reason)
 */
export function parseRule(text: string): DiffRule {
  const match = RULE.exec(text);
  if (match === null) throw new DiffRuleError(text, 'expected a metric, an operator and a value');
  const [, metric = '', op = '', value = ''] = match;
  if (metric === 'stop_reason') {
    if (op !== '==' && op !== '!=') throw new DiffRuleError(text, `stop_reason takes == or !=, not ${op}`);
    if (!/^[a-z_]+$/.test(value)) throw new DiffRuleError(text, `"${value}" is not a stop reason (a word such as final, max_steps)`);
    return { text, metric, op, value };
  }
  if (!(NUMERIC_METRICS as readonly string[]).includes(metric)) throw new DiffRuleError(text, `unknown metric "${metric}"`);
  if (op === '==' || op === '!=') throw new DiffRuleError(text, `${metric} takes > >= < <=, not ${op}`);
  const number = NUMBER.exec(value);
  if (number === null) throw new DiffRuleError(text, `"${value}" is not a number, a signed change (+N) or a percentage (+N%)`);
  const [, sign, digits = '', percent] = number;
  if (percent !== undefined && sign === undefined) throw new DiffRuleError(text, `a percentage is a change: write +${digits}% or -${digits}%`);
  const magnitude = Number(digits);
  return {
    text,
    metric: metric as NumericMetric,
    op: op as NumericRule['op'],
    compare: percent !== undefined ? 'percent' : sign !== undefined ? 'change' : 'value',
    value: sign === '-' ? -magnitude : magnitude,
  };
}

/** A rule checked against one pair of runs. */
export interface RuleCheck {
  rule: DiffRule;
  broken: boolean;
  /**
   * What was compared, for the report: `cost +22.0% (0.000123 → 0.000150)`, `stop_reason max_steps`,
   * or why the rule could not be checked (then it counts as broken: a gate must not pass blind).
   */
  observed: string;
}

function holds(left: number, op: NumericRule['op'], right: number): boolean {
  switch (op) {
    case '>':
      return left > right;
    case '>=':
      return left >= right;
    case '<':
      return left < right;
    case '<=':
      return left <= right;
  }
}

/**
 * Checks a rule against a diff.
 *
 * @returns broken when the rule's comparison holds for the candidate, or when it cannot be checked
 *   because a value is not recorded (e.g. the cost of a run with an unpriced model call)
 */
export function checkRule(rule: DiffRule, diff: RunDiff): RuleCheck {
  if (rule.metric === 'stop_reason') {
    const reason = diff.stopReason.b;
    const observed = `stop_reason ${reason ?? '(not recorded)'}`;
    return { rule, broken: rule.op === '==' ? reason === rule.value : reason !== rule.value, observed };
  }
  const { a, b, delta, deltaPercent } = diff.metrics[rule.metric];
  if (a === undefined || b === undefined || delta === undefined || deltaPercent === undefined) {
    const missing = [a === undefined ? 'baseline' : '', b === undefined ? 'candidate' : ''].filter(Boolean).join(' and ');
    return { rule, broken: true, observed: `${rule.metric} not recorded in the ${missing}, so the rule cannot be checked` };
  }
  const { metric } = rule;
  const range = `(${formatMetric(metric, a)} → ${formatMetric(metric, b)})`;
  switch (rule.compare) {
    case 'percent':
      return { rule, broken: holds(deltaPercent, rule.op, rule.value), observed: `${metric} ${formatPercent(deltaPercent)} ${range}` };
    case 'change':
      return { rule, broken: holds(delta, rule.op, rule.value), observed: `${metric} ${formatChange(metric, delta)} ${range}` };
    case 'value':
      return { rule, broken: holds(b, rule.op, rule.value), observed: `${metric} ${formatMetric(metric, b)}` };
  }
}
