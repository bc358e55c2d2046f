/**
 * Test matchers for tracebound runs, written against the matcher protocol vitest and Jest share
 * (`this.isNot`, `this.equals`; return `{ pass, message }`), with no runtime import of either: the
 * library never depends on a test runner. Register them with `expect.extend(traceboundMatchers)`,
 * or import `tracebound/testing/vitest`, which does that and declares their types for vitest.
 */
import type { Agent } from '../agent.js';
import type { ToolCall } from '../messages.js';
import { ReplayDivergenceError, replayTrace, type ReplayOptions } from '../replay/replay.js';
import type { RunResult } from '../runtime/events.js';
import type { SpanCollector } from './collect-spans.js';

/** What a matcher is called with: the part of vitest's (and Jest's) `MatcherState` it uses. */
export interface MatcherContext {
  isNot: boolean;
  /** Deep equality that understands asymmetric matchers (`expect.any(String)`, ...). */
  equals(a: unknown, b: unknown): boolean;
}

/** A matcher's verdict. */
export interface MatcherResult {
  pass: boolean;
  message: () => string;
  actual?: unknown;
  expected?: unknown;
}

/** Options of `toMatchRecording`: how to replay (strict by default), minus the runtime. */
export type MatchRecordingOptions = Omit<ReplayOptions, 'runtime'>;

/**
 * The matchers' signatures, for a test runner's type declarations (`R` is what an assertion
 * returns; see `tracebound/testing/vitest`).
 */
export interface TraceboundMatchers<R = unknown> {
  /**
   * On an {@link Agent}: replays the recorded run of `file` (the first run of the agent's name, or
   * `options.runId`) with this agent, offline; passes when it matches. The failure message is the
   * divergence report. Await it: `await expect(agent).toMatchRecording(file)`.
   */
  toMatchRecording(file: string, options?: MatchRecordingOptions): Promise<R>;
  /** On a {@link RunResult}: passes when the run has a known cost below `usd`. */
  toCostLessThan(usd: number): R;
  /**
   * On a {@link RunResult}: passes when the model asked for tool `name` (with arguments equal to
   * `args`, asymmetric matchers allowed, when given) in the run's messages.
   */
  toHaveCalledTool(name: string, args?: unknown): R;
  /** On a {@link SpanCollector}: passes when every span it saw start has ended. */
  toHaveNoOpenSpans(): R;
}

function isAgent(value: unknown): value is Agent {
  const v = value as Partial<Agent> | null | undefined;
  return typeof v?.name === 'string' && typeof v.model?.generate === 'function' && Array.isArray(v.tools);
}

function isRunResult(value: unknown): value is RunResult {
  const v = value as Partial<RunResult> | null | undefined;
  return Array.isArray(v?.messages) && typeof v.usage === 'object' && 'costUsd' in v;
}

function isCollector(value: unknown): value is SpanCollector {
  return typeof (value as Partial<SpanCollector> | null | undefined)?.open === 'function';
}

/** The matcher was given the wrong kind of value: a usage error, thrown whatever `.not` says. */
function received(matcher: string, what: string, value: unknown): TypeError {
  return new TypeError(`${matcher}: expected ${what}, received ${value === null ? 'null' : typeof value}`);
}

function toolCalls(result: RunResult): ToolCall[] {
  return result.messages.flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []) : []));
}

function listCalls(calls: readonly ToolCall[]): string {
  if (calls.length === 0) return 'no tool calls';
  return calls.map((c) => `  ${c.name}(${JSON.stringify(c.arguments)})`).join('\n');
}

/**
 * The matchers, for `expect.extend(traceboundMatchers)` (vitest or Jest). With vitest, importing
 * `tracebound/testing/vitest` registers them and their types in one line.
 */
export const traceboundMatchers = {
  async toMatchRecording(this: MatcherContext, agent: unknown, file: string, options: MatchRecordingOptions = {}): Promise<MatcherResult> {
    if (!isAgent(agent)) throw received('toMatchRecording', 'an agent (from agent({ ... }))', agent);
    // A divergence in strict mode surfaces as the error; lenient mode returns every difference.
    const replay = await replayTrace(file, agent, options).catch((error: unknown) => {
      if (error instanceof ReplayDivergenceError) return { matched: false, report: error.message };
      throw error;
    });
    return {
      pass: replay.matched,
      message: () => (replay.matched ? `expected agent "${agent.name}" to diverge from ${file}, but ${replay.report}` : replay.report),
    };
  },

  toCostLessThan(this: MatcherContext, result: unknown, usd: number): MatcherResult {
    if (!isRunResult(result)) throw received('toCostLessThan', 'a run result', result);
    const cost = result.costUsd;
    if (cost === undefined) {
      return { pass: false, message: () => 'the run has no cost: one of its models has no known price (pass `prices` to the runtime)' };
    }
    return {
      pass: cost < usd,
      message: () => `expected the run's cost $${cost} ${this.isNot ? 'not ' : ''}to be less than $${usd}`,
      actual: cost,
      expected: usd,
    };
  },

  toHaveCalledTool(this: MatcherContext, result: unknown, name: string, ...rest: [args?: unknown]): MatcherResult {
    if (!isRunResult(result)) throw received('toHaveCalledTool', 'a run result', result);
    const calls = toolCalls(result);
    // `toHaveCalledTool(name)` checks the name only; `toHaveCalledTool(name, undefined)` checks for no arguments.
    const checkArgs = rest.length > 0;
    const pass = calls.some((c) => c.name === name && (!checkArgs || this.equals(c.arguments, rest[0])));
    const what = checkArgs ? `${name}(${JSON.stringify(rest[0])})` : name;
    return {
      pass,
      message: () => `expected the run ${this.isNot ? 'not ' : ''}to have called tool ${what}; it called:\n${listCalls(calls)}`,
    };
  },

  toHaveNoOpenSpans(this: MatcherContext, collector: unknown): MatcherResult {
    if (!isCollector(collector)) throw received('toHaveNoOpenSpans', 'a span collector (from collectSpans())', collector);
    const open = collector.open();
    return {
      pass: open.length === 0,
      message: () =>
        open.length === 0
          ? 'expected open spans, but every span has ended'
          : `expected every span to have ended; still open: ${open.map((s) => s.name).join(', ')}`,
    };
  },
};
