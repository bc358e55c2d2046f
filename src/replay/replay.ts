/**
 * Replay: runs today's agent against a recorded run. A replay model serves the recorded model
 * responses in order and replayed tools return the recorded results, so the run is offline and
 * deterministic, with the recorded tokens and cost. Each request today's agent sends is compared
 * with the recorded one; strict mode stops at the first difference, lenient mode lists them all.
 */
import { agent as defineAgent, type Agent } from '../agent.js';
import { RunError } from '../errors.js';
import type { Message } from '../messages.js';
import { ModelCallError } from '../providers/errors.js';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk, ToolDefinition } from '../providers/model.js';
import type { RunResult } from '../runtime/events.js';
import { createRuntime } from '../create-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { ToolError } from '../runtime/tools.js';
import { tool as defineTool, type Tool } from '../tool.js';
import { ATTR } from '../tracing/attributes.js';
import { semconvMessages } from '../tracing/instrumentation.js';
import { diffValues, show, type ValueDifference } from './diff.js';
import { readRecording } from './read.js';
import type { RecordedModelCall, RecordedRun, RecordedToolCall } from './recording.js';

/** What was compared when a difference was found. */
export type DifferenceKind =
  | 'request.system'
  | 'request.messages'
  | 'request.tools'
  | 'tool.missing'
  | 'tool.outcome'
  | 'steps';

/** One place where today's run differs from the recording. */
export interface Difference {
  kind: DifferenceKind;
  /** The 1-based step of the recorded run where it was found. */
  step: number;
  /** What differs, each with its path and the recorded and actual values. */
  values: ValueDifference[];
  /** A one-line summary. */
  summary: string;
}

/** How to replay. */
export interface ReplayOptions {
  /** `strict` (default) stops at the first difference; `lenient` goes on and lists them all. */
  mode?: 'strict' | 'lenient';
  /** Which run of the file: a trace id or run span id. Default: the first run of the agent's name. */
  runId?: string;
  /** Tools to run live instead of returning their recorded results; `true` for all. */
  liveTools?: boolean | readonly string[];
  /** The runtime to run with (e.g. a `tracedRuntime()` to trace the replay). Default: untraced. */
  runtime?: Runtime;
}

/** A replayed run. */
export interface ReplayResult {
  /** Today's run, on recorded responses. */
  result: RunResult;
  /** Every difference found (empty when it matched). */
  differences: Difference[];
  matched: boolean;
  recorded: RecordedRun;
  /** A readable report of the differences (or of the match). */
  report: string;
}

/** Today's agent departed from the recording (strict mode, or a run that outgrew it). */
export class ReplayDivergenceError extends Error {
  override readonly name = 'ReplayDivergenceError';

  constructor(
    readonly differences: Difference[],
    readonly recorded: RecordedRun,
    readonly report: string,
  ) {
    super(report);
  }
}

/** The recorded run's label for reports: `<file>:<line> run <trace id> (agent <name>)`. */
function label(run: RecordedRun): string {
  return `${run.source.file}:${run.source.line} run ${run.traceId} (agent ${run.agentName})`;
}

/** A readable report: where the run diverged and how, value by value. */
export function formatReport(run: RecordedRun, differences: readonly Difference[]): string {
  if (differences.length === 0) return `replay matched ${label(run)}: ${run.steps.length} steps`;
  const lines = [`replay diverged from ${label(run)}: ${differences.length} difference${differences.length === 1 ? '' : 's'}`];
  for (const d of differences) {
    lines.push(`  step ${d.step}: ${d.summary}`);
    for (const v of d.values) {
      lines.push(`    ${v.path}`, `      recorded: ${show(v.recorded)}`, `      actual:   ${show(v.actual)}`);
    }
  }
  return lines.join('\n');
}

/**
 * A message as compared: its semconv JSON, the shape the recording holds (no reasoning, no error
 * flags). Kept per message object: a run resends the same messages at every step, and comparing
 * whole conversations afresh each time made replay quadratic in steps (bench/replay.ts).
 */
const messageKeys = new WeakMap<Message, string>();

function messageKey(message: Message): string {
  let key = messageKeys.get(message);
  if (key === undefined) {
    key = JSON.stringify(semconvMessages([message])[0]);
    messageKeys.set(message, key);
  }
  return key;
}

/**
 * The differences between two conversations, message by message from index `from` (the messages
 * before it were compared at an earlier call); equal messages cost a string compare.
 */
function compareMessages(recorded: readonly Message[], actual: readonly Message[], from = 0): ValueDifference[] {
  const out: ValueDifference[] = [];
  for (let i = from; i < Math.max(recorded.length, actual.length); i++) {
    const r = recorded[i];
    const a = actual[i];
    const rk = r && messageKey(r);
    const ak = a && messageKey(a);
    if (rk === ak) continue;
    const parse = (key: string | undefined) => (key === undefined ? undefined : (JSON.parse(key) as unknown));
    out.push(...diffValues(parse(rk), parse(ak), `messages[${i}]`));
  }
  return out;
}

/** Tool definitions as compared (name, description, parameters), as one JSON text per list. */
const toolKeys = new WeakMap<readonly ToolDefinition[], string>();

function toolsKey(tools: readonly ToolDefinition[]): string {
  let key = toolKeys.get(tools);
  if (key === undefined) {
    key = JSON.stringify(tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters })));
    toolKeys.set(tools, key);
  }
  return key;
}

/**
 * The differences between the request today's agent sent and the recorded one.
 * @param from the first message to compare: those before it were compared at an earlier call.
 */
export function compareRequest(step: number, recorded: RecordedModelCall['request'], actual: ModelRequest, from = 0): Difference[] {
  const out: Difference[] = [];
  const add = (kind: DifferenceKind, summary: string, values: ValueDifference[]) => {
    if (values.length) out.push({ kind, step, summary, values });
  };
  // An empty system prompt is not recorded (instrumentation skips it), so '' and absent are one.
  add('request.system', 'the system prompt differs', diffValues(recorded.system || undefined, actual.system || undefined, 'system'));
  add('request.messages', 'the messages sent to the model differ', compareMessages(recorded.messages, actual.messages, from));
  const recordedTools = toolsKey(recorded.tools);
  const actualTools = toolsKey(actual.tools);
  if (recordedTools !== actualTools) {
    add('request.tools', 'the tool definitions differ', diffValues(JSON.parse(recordedTools), JSON.parse(actualTools), 'tools'));
  }
  return out;
}

/** A model that serves a recorded run's responses in order, comparing each request. */
class ReplayModel implements Model {
  readonly provider: string;
  readonly modelId: string;
  readonly countTokens?: Model['countTokens'];
  readonly tokenUpperBound?: Model['tokenUpperBound'];
  /** As today's agent's model: whether a typed agent's schema goes in the system prompt is decided as it was live. */
  readonly structuredOutput?: boolean;
  private next = 0;
  private readonly calls: { step: number; call: RecordedModelCall; compressed: boolean }[];
  /** The messages of the previous request: a run resends them, so only new ones need comparing. */
  private previous: readonly Message[] = [];

  constructor(
    private readonly run: RecordedRun,
    private readonly strict: boolean,
    private readonly differences: Difference[],
    counting: Model,
  ) {
    this.provider = run.provider;
    this.modelId = run.model;
    // Prompts are counted as today's agent's model counts them, so its budget decides as it would live.
    this.countTokens = counting.countTokens?.bind(counting);
    this.tokenUpperBound = counting.tokenUpperBound?.bind(counting);
    if (counting.structuredOutput !== undefined) this.structuredOutput = counting.structuredOutput;
    this.calls = run.steps.flatMap((s) => s.modelCalls.map((call) => ({ step: s.index, call, compressed: s.compression !== undefined })));
  }

  /** Recorded model calls today's run did not make. */
  unused(): number {
    return this.calls.length - this.next;
  }

  private diverge(found: Difference[]): void {
    this.differences.push(...found);
    if (this.strict && found.length) throw new ReplayDivergenceError(this.differences, this.run, formatReport(this.run, this.differences));
  }

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const entry = this.calls[this.next++];
    if (!entry) {
      const step = (this.calls.at(-1)?.step ?? 0) + 1;
      const summary = `today's agent makes model call ${this.next}, the recording has ${this.calls.length}`;
      this.differences.push({ kind: 'steps', step, summary, values: [{ path: 'model calls', recorded: this.calls.length, actual: this.next }] });
      throw new ReplayDivergenceError(this.differences, this.run, formatReport(this.run, this.differences));
    }
    // Recorded conversations only change before their end through compression, and today's
    // through new message objects: past either, compare from the start again.
    let from = 0;
    if (!entry.compressed && entry.call.purpose === 'step') {
      while (from < this.previous.length && request.messages[from] === this.previous[from]) from++;
    }
    this.previous = entry.call.purpose === 'step' ? request.messages : this.previous;
    this.diverge(compareRequest(entry.step, entry.call.request, request, from));
    const recorded = entry.call.response;
    if (!recorded) {
      throw new ModelCallError(`recorded call failed (${entry.call.error ?? 'error'})`, { kind: 'invalid_request', provider: this.provider });
    }
    return { ...recorded, toolCalls: recorded.toolCalls.map((c) => ({ ...c })) };
  }

  async *stream(request: ModelRequest): AsyncIterable<ModelStreamChunk> {
    const response = await this.generate(request);
    if (response.text) yield { type: 'text-delta', text: response.text };
    yield { type: 'response', response };
  }
}

/** The agent's tools, those not run live answering with their recorded results by call id. */
function replayedTools(agent: Agent, run: RecordedRun, live: ReplayOptions['liveTools']): Tool[] {
  const recorded = new Map<string, RecordedToolCall>(run.steps.flatMap((s) => s.toolCalls.map((c) => [c.id, c] as const)));
  return agent.tools.map((t) => {
    if (live === true || (Array.isArray(live) && live.includes(t.name))) return t;
    return defineTool({
      name: t.name,
      description: t.description,
      parameters: t.parameters,
      ...(t.timeoutMs !== undefined ? { timeoutMs: t.timeoutMs } : {}),
      execute: (_args, { toolCallId }) => {
        const call = recorded.get(toolCallId);
        if (!call) throw new ToolError(`replay: no recorded result for tool call ${toolCallId}`);
        if (call.isError) throw new ToolError(call.result);
        return call.result;
      },
    });
  });
}

/** Tools the recording called that today's agent no longer has. */
function missingTools(agent: Agent, run: RecordedRun): Difference[] {
  const names = new Set(agent.tools.map((t) => t.name));
  return run.steps.flatMap((s) =>
    s.toolCalls
      .filter((c) => !names.has(c.name))
      .map((c) => ({
        kind: 'tool.missing' as const,
        step: s.index,
        summary: `the recording calls tool "${c.name}", which today's agent does not have`,
        values: [{ path: `tools.${c.name}`, recorded: c.name, actual: undefined }],
      })),
  );
}

/**
 * Replays one recorded run with today's agent.
 * @throws {ReplayDivergenceError} in strict mode at the first difference (and in any mode when
 *   today's agent makes more model calls than were recorded).
 * @throws {RunError} when the replayed run fails for another reason.
 */
export async function replayRun(run: RecordedRun, agent: Agent, options: ReplayOptions = {}): Promise<ReplayResult> {
  const strict = (options.mode ?? 'strict') === 'strict';
  const differences: Difference[] = [...missingTools(agent, run)];
  if (strict && differences.length) throw new ReplayDivergenceError(differences, run, formatReport(run, differences));
  const model = new ReplayModel(run, strict, differences, agent.model);
  const replayed = defineAgent({ ...agent, model, tools: replayedTools(agent, run, options.liveTools) });
  const runtime = options.runtime ?? createRuntime();
  // A continued conversation's recorded turn saw the loaded history ahead of its input: it is fed
  // from the recording, so replay needs no store and no conversation id.
  const input = run.history?.length ? [...run.history, ...asMessages(run.input)] : run.input;
  let result: RunResult;
  try {
    result = await runtime.run(replayed, input, {
      attributes: { [ATTR.replaySource]: `${run.source.file}:${run.source.line}#${run.traceId}`, [ATTR.replayMode]: strict ? 'strict' : 'lenient' },
    });
  } catch (error) {
    if (error instanceof RunError && error.cause instanceof ReplayDivergenceError) throw error.cause;
    throw error;
  }
  if (model.unused() > 0) {
    const step = run.steps.at(-1)?.index ?? 0;
    differences.push({
      kind: 'steps',
      step,
      summary: `today's run stopped (${result.stopReason}) after ${result.steps} steps; the recording has ${run.steps.length}`,
      values: [{ path: 'steps', recorded: run.steps.length, actual: result.steps }],
    });
    if (strict) throw new ReplayDivergenceError(differences, run, formatReport(run, differences));
  }
  return { result, differences, matched: differences.length === 0, recorded: run, report: formatReport(run, differences) };
}

function asMessages(input: string | Message[]): Message[] {
  return typeof input === 'string' ? [{ role: 'user', content: input }] : input;
}

/** Picks the run to replay: by trace or span id, else the first run of the agent's name. */
export function selectRun(runs: readonly RecordedRun[], agentName: string, runId?: string): RecordedRun {
  const run = runId
    ? runs.find((r) => r.traceId === runId || r.spanId === runId)
    : runs.find((r) => r.agentName === agentName);
  if (!run) {
    const known = runs.map((r) => `${r.traceId} (${r.agentName})`).join(', ') || 'none';
    throw new RangeError(
      runId ? `no run ${runId} in the recording; runs: ${known}` : `no run of agent "${agentName}" in the recording; runs: ${known}`,
    );
  }
  return run;
}

/**
 * Reads a trace file and replays one of its runs (see {@link ReplayOptions.runId}) with today's
 * agent.
 * @throws {ReplayFileError} for a malformed or foreign file; {@link ReplayDivergenceError} as
 *   {@link replayRun}; {@link RangeError} when the file has no such run.
 */
export async function replayTrace(file: string, agent: Agent, options: ReplayOptions = {}): Promise<ReplayResult> {
  return replayRun(selectRun(await readRecording(file), agent.name, options.runId), agent, options);
}
