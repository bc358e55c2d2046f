/**
 * Replay: runs today's agent against a recorded run. A replay model serves the recorded model
 * responses in order and replayed tools return the recorded results, so the run is offline and
 * deterministic, with the recorded tokens and cost. Each request today's agent sends is compared
 * with the recorded one; strict mode stops at the first difference, lenient mode lists them all.
 *
 * A sub-agent (`agent.asTool()`, or one a tool starts with `context.runAgent`) is part of the
 * agent under test, not an outside tool: each of its recorded sub-runs runs today's sub-agent
 * again, its model fed from the recorded sub-run and compared the same way, its own tools answered
 * from that sub-run.
 */
import { agent as defineAgent, subAgentOf, type Agent } from '../agent.js';
import type { Message } from '../messages.js';
import { isModelErrorKind, ModelCallError } from '../providers/errors.js';
import { fallback, fallbackPlan } from '../providers/fallback.js';
import type { Model, ModelRequest, ModelResponse, ModelStreamChunk, ToolDefinition } from '../providers/model.js';
import type { RunResult } from '../runtime/events.js';
import { createRuntime } from '../create-runtime.js';
import type { Runtime } from '../runtime/runtime.js';
import { ToolError } from '../runtime/tools.js';
import { tool as defineTool, type SubAgent, type SubRunResult, type Tool, type ToolContext } from '../tool.js';
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
  /** A call of today's `fallback()` went to another model than the recorded call did. */
  | 'request.model'
  /** The recording went on with another model after a failed call; today's agent did not. */
  | 'fallback'
  | 'tool.missing'
  | 'tool.outcome'
  /** A tool call started other sub-runs (`context.runAgent`) than the recorded call: more, fewer, or of another agent. */
  | 'sub-runs'
  | 'steps';

/** A sub-run on the way to a difference: the calling run's step and tool call, and the sub-agent. */
export interface SubRunPlace {
  /** The 1-based step of the calling run whose tool call started the sub-run. */
  step: number;
  toolCallId: string;
  /** The sub-run's agent name, as recorded. */
  agent: string;
  /** The 1-based place of the sub-run among the call's, when the call started more than one. */
  index?: number;
}

/** One place where today's run differs from the recording. */
export interface Difference {
  kind: DifferenceKind;
  /** The 1-based step where it was found: of the replayed run, or of the sub-run `within` ends at. */
  step: number;
  /**
   * For a difference inside a sub-run (`agent.asTool()`, `context.runAgent`): the tool calls
   * leading to it from the replayed run, outermost first. Absent for a difference of the replayed
   * run itself.
   */
  within?: SubRunPlace[];
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
  /**
   * Tools to run live instead of returning their recorded results; `true` for all. Names count
   * in sub-runs too. A sub-agent's tool (`agent.asTool()`) is never served nor run on its live
   * model: it always runs today's sub-agent on its recorded sub-run, whether named or not. A tool
   * whose recorded call started sub-runs (`context.runAgent`) runs its code either way, each
   * `runAgent` replaying a recorded sub-run; named here, the calling model gets what it returns
   * today instead of its recorded result. A live tool's `runAgent` never reaches a sub-agent's
   * live model: a sub-run the recorded call did not start stops the replay.
   */
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

/** Where a difference is: `step 2`, or inside a sub-run `step 1 > researcher (call_1) step 2`. */
function placeOf(d: Difference): string {
  const path = (d.within ?? []).map((w) => `step ${w.step} > ${w.agent}${w.index === undefined ? '' : `#${w.index}`} (${w.toolCallId}) `).join('');
  return `${path}step ${d.step}`;
}

/** A readable report: where the run diverged and how, value by value. */
export function formatReport(run: RecordedRun, differences: readonly Difference[]): string {
  if (differences.length === 0) return `replay matched ${label(run)}: ${run.steps.length} steps`;
  const lines = [`replay diverged from ${label(run)}: ${differences.length} difference${differences.length === 1 ? '' : 's'}`];
  for (const d of differences) {
    lines.push(`  ${placeOf(d)}: ${d.summary}`);
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

/**
 * One replay: its mode, the differences found so far (in the replayed run and its sub-runs), and
 * the signal that stops the whole replayed run at a divergence, wherever it is found. A divergence
 * inside a sub-run cannot stop the run by throwing: the sub-agent's tool call would turn the error
 * into a result for the calling model.
 */
class ReplayState {
  readonly differences: Difference[] = [];
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  /** The divergence that stopped the replay, once one has. */
  error: ReplayDivergenceError | undefined;

  constructor(
    readonly top: RecordedRun,
    readonly strict: boolean,
    readonly live: ReplayOptions['liveTools'],
  ) {}

  isLive(tool: string): boolean {
    return this.live === true || (Array.isArray(this.live) && this.live.includes(tool));
  }

  /** Records differences; in strict mode, stops the replay when there are any. */
  add(found: readonly Difference[]): void {
    this.differences.push(...found);
    if (found.length && this.strict) throw this.stop();
  }

  /**
   * Records differences after which today's run cannot go on (nothing recorded to answer with, or
   * it failed where the recording did not), and stops the replay in any mode.
   * @returns the error to throw
   */
  stopWith(found: readonly Difference[]): ReplayDivergenceError {
    this.differences.push(...found);
    return this.stop();
  }

  /** Stops the replayed run with the differences so far; returns the error to throw. */
  stop(): ReplayDivergenceError {
    this.error ??= new ReplayDivergenceError(this.differences, this.top, formatReport(this.top, this.differences));
    this.controller.abort(this.error);
    return this.error;
  }
}

/** A recorded model call and its step. */
interface RecordedEntry {
  step: number;
  call: RecordedModelCall;
  /** Whether the step compressed its context (its conversation changed before its end). */
  compressed: boolean;
}

/** A served recorded failure: the call, the request it failed on and the model it went to. */
interface ServedFailure {
  entry: RecordedEntry;
  request: ModelRequest;
  tried: Model | undefined;
}

/** A model's `provider:modelId`, as reports name it. */
const modelName = (provider: string, modelId: string) => `${provider}:${modelId}`;

/**
 * The error a recorded failed call is replayed with, so today's retries and `fallback()` decide on
 * it as they did live: a {@link ModelCallError} of the recorded kind, else an error of the recorded
 * name (a replayed span's `error.type` is the recorded one). It asks for no delay: a retry of it
 * fails at once, as the recording says it did.
 */
function recordedFailure(call: RecordedModelCall, provider: string): Error {
  const type = call.error ?? '_OTHER';
  const message = `recorded call failed (${type})`;
  if (isModelErrorKind(type)) return new ModelCallError(message, { kind: type, provider, retryAfterMs: 0 });
  return Object.assign(new Error(message), { name: type });
}

/**
 * Serves a recorded run's model calls in order, comparing each request. Today's agent gets it as
 * its model, or, when its model is a `fallback()`, a fallback of the same error kinds over one
 * stand-in per model ({@link modelFor}). A recorded failed call is replayed as that failure, again
 * for each retry, so today's retries and fallback run as they did live and the next model is
 * served the call the recording went on with.
 */
class ReplayModel implements Model {
  readonly provider: string;
  readonly modelId: string;
  readonly countTokens?: Model['countTokens'];
  readonly tokenUpperBound?: Model['tokenUpperBound'];
  /** As today's agent's model: whether a typed agent's schema goes in the system prompt is decided as it was live. */
  readonly structuredOutput?: boolean;
  private next = 0;
  private readonly calls: RecordedEntry[];
  /** The messages of the previous request: a run resends them, so only new ones need comparing. */
  private previous: readonly Message[] = [];
  /** The last call served, when it was a recorded failure: a retry of it fails again. */
  private failed: ServedFailure | undefined;

  /**
   * @param run the recorded run (or sub-run) whose model calls it serves
   * @param within where that run is: empty for the replayed run, the path to it for a sub-run
   * @param counting today's model, whose token counting the budget uses
   */
  constructor(
    private readonly run: RecordedRun,
    private readonly within: readonly SubRunPlace[],
    private readonly replay: ReplayState,
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

  /**
   * The model to give today's agent, whose model is `today`: this one, or for a `fallback()` a
   * fallback of the same kinds over a stand-in of each of its models (see {@link standIn}).
   */
  modelFor(today: Model): Model {
    const plan = fallbackPlan(today);
    return plan ? fallback(plan.models.map((m) => this.standIn(m)), { on: [...plan.on] }) : this;
  }

  /**
   * A stand-in for one model of today's fallback: named and counting as that model, served from
   * this recording; each call is also compared with the model the recorded call went to.
   */
  private standIn(today: Model): Model {
    const generate = (request: ModelRequest) => this.serve(request, today);
    return {
      provider: today.provider,
      modelId: today.modelId,
      ...(today.structuredOutput !== undefined ? { structuredOutput: today.structuredOutput } : {}),
      ...(today.countTokens ? { countTokens: today.countTokens.bind(today) } : {}),
      ...(today.tokenUpperBound ? { tokenUpperBound: today.tokenUpperBound.bind(today) } : {}),
      generate,
      stream: (request) => streamOf(() => generate(request)),
    };
  }

  /** Recorded model calls today's run did not make. */
  unused(): number {
    return this.calls.length - this.next;
  }

  /** Recorded model calls today's run made. */
  used(): number {
    return Math.min(this.next, this.calls.length);
  }

  /**
   * When today's run failed on a recorded failure that the recording went on from with another
   * model (a `fallback()`), the difference: today's agent did not fall back there.
   */
  missedFallback(): Difference[] {
    const failed = this.failed?.entry;
    const then = this.calls[this.next];
    if (!failed || !then || then.step !== failed.step || then.call.purpose !== failed.call.purpose) return [];
    const from = modelName(failed.call.provider, failed.call.model);
    const to = modelName(then.call.provider, then.call.model);
    const summary = `the call to ${from} failed (${failed.call.error ?? 'error'}) and the recording went on with ${to}; today's agent does not fall back`;
    return placed(this.within, [{ kind: 'fallback', step: failed.step, summary, values: [{ path: 'fallback', recorded: to, actual: undefined }] }]);
  }

  generate(request: ModelRequest): Promise<ModelResponse> {
    return this.serve(request, undefined);
  }

  stream(request: ModelRequest): AsyncIterable<ModelStreamChunk> {
    return streamOf(() => this.generate(request));
  }

  /**
   * The recorded answer to today's next call, sent to `tried` (a stand-in's model) or to this
   * model.
   */
  private async serve(request: ModelRequest, tried: Model | undefined): Promise<ModelResponse> {
    const failed = this.failed;
    // The retry middleware resends the very request to the same model: the recorded call failed
    // through all its retries, so each fails as it did.
    if (failed && failed.request === request && failed.tried === tried) throw recordedFailure(failed.entry.call, tried?.provider ?? this.provider);
    this.failed = undefined;
    const entry = this.calls[this.next++];
    if (!entry) {
      const step = (this.calls.at(-1)?.step ?? 0) + 1;
      const summary = `today's agent makes model call ${this.next}, the recording has ${this.calls.length}`;
      throw this.replay.stopWith(placed(this.within, [{ kind: 'steps', step, summary, values: [{ path: 'model calls', recorded: this.calls.length, actual: this.next }] }]));
    }
    // Recorded conversations only change before their end through compression, and today's
    // through new message objects: past either, compare from the start again.
    let from = 0;
    if (!entry.compressed && entry.call.purpose === 'step') {
      while (from < this.previous.length && request.messages[from] === this.previous[from]) from++;
    }
    this.previous = entry.call.purpose === 'step' ? request.messages : this.previous;
    const found = compareRequest(entry.step, entry.call.request, request, from);
    if (tried) found.unshift(...compareModel(entry, tried));
    this.replay.add(placed(this.within, found));
    const recorded = entry.call.response;
    if (!recorded) {
      this.failed = { entry, request, tried };
      throw recordedFailure(entry.call, tried?.provider ?? this.provider);
    }
    return { ...recorded, toolCalls: recorded.toolCalls.map((c) => ({ ...c })) };
  }
}

/** A served call as a stream, served when read: its text in one delta, then the response. */
async function* streamOf(serve: () => Promise<ModelResponse>): AsyncIterable<ModelStreamChunk> {
  const response = await serve();
  if (response.text) yield { type: 'text-delta', text: response.text };
  yield { type: 'response', response };
}

/** The difference when a call of today's fallback goes to another model than the recorded call did. */
function compareModel({ step, call }: RecordedEntry, tried: Model): Difference[] {
  const recorded = modelName(call.provider, call.model);
  const actual = modelName(tried.provider, tried.modelId);
  if (recorded === actual) return [];
  return [{ kind: 'request.model', step, summary: `the call goes to ${actual}, the recorded one went to ${recorded}`, values: [{ path: 'model', recorded, actual }] }];
}

/** Differences found in the run at `within` (nothing to add for the replayed run itself). */
function placed(within: readonly SubRunPlace[], found: Difference[]): Difference[] {
  return within.length ? found.map((d) => ({ ...d, within: [...within] })) : found;
}

/** A recorded tool call and the step that made it. */
interface RecordedCallAt {
  call: RecordedToolCall;
  step: number;
}

/** The recorded call `toolCallId` names. */
function recordedCall(recorded: ReadonlyMap<string, RecordedCallAt>, toolCallId: string): RecordedCallAt {
  const at = recorded.get(toolCallId);
  if (!at) throw new ToolError(`replay: no recorded result for tool call ${toolCallId} (no execute_tool span of that call in the recording)`);
  return at;
}

/** The recorded result of a call: its text, or its error text thrown as the tool's error. */
function servedResult({ call }: RecordedCallAt): string {
  if (call.isError) throw new ToolError(call.result);
  return call.result;
}

/**
 * The tools of `agent` replaying `run`: a sub-agent's tool runs today's sub-agent on the recorded
 * sub-run, a live tool or one whose recorded calls started sub-runs (`context.runAgent`) runs its
 * code with those sub-runs replayed, any other answers with its recorded result by call id, at
 * today's price (`costUsd`).
 */
function replayedTools(agent: Agent, run: RecordedRun, within: readonly SubRunPlace[], replay: ReplayState): Tool[] {
  const recorded = new Map<string, RecordedCallAt>(run.steps.flatMap((s) => s.toolCalls.map((call) => [call.id, { call, step: s.index }] as const)));
  const startsSubRuns = new Set(run.steps.flatMap((s) => s.toolCalls.filter((c) => c.subRuns?.length).map((c) => c.name)));
  return agent.tools.map((t) => {
    if (subAgentOf(t)) return subAgentTool(t, recorded, within, replay);
    if (startsSubRuns.has(t.name) || replay.isLive(t.name)) return runAgentTool(t, recorded, within, replay);
    return withExecute(t, (_args, { toolCallId }) => servedResult(recordedCall(recorded, toolCallId)));
  });
}

/**
 * `t` running `execute` instead: its definition kept as is (an MCP tool's is the server's schema,
 * which a definition made again from its zod `parameters` would not equal), its timeout and its
 * price (a served call costs what today's tool charges, so cost and budgets are as live); without
 * its approval rule, since the recording holds the decisions' outcome.
 */
function withExecute(t: Tool, execute: Tool['execute']): Tool {
  const made = defineTool({
    name: t.name,
    description: t.description,
    parameters: t.parameters,
    ...(t.timeoutMs !== undefined ? { timeoutMs: t.timeoutMs } : {}),
    ...(t.costUsd !== undefined ? { costUsd: t.costUsd } : {}),
    execute,
  });
  return Object.freeze({ ...made, definition: t.definition });
}

/** The difference when a tool call starts other sub-runs than the recorded call did. */
function subRunsDifference(at: RecordedCallAt, summary: string, path: string, recorded: unknown, actual: unknown): Difference {
  return { kind: 'sub-runs', step: at.step, summary, values: [{ path: `${at.call.name}(${at.call.id}).${path}`, recorded, actual }] };
}

/**
 * Runs one recorded tool call's sub-runs again: the n-th `runAgent` call of today's tool runs the
 * agent it is given (today's sub-agent) on the call's n-th recorded sub-run, its model fed from
 * that sub-run's recorded chats and compared like the replayed run's, its tools replaying that
 * sub-run's tool calls.
 */
class SubRunReplayer {
  private next = 0;
  private readonly subs: readonly RecordedRun[];

  constructor(
    private readonly at: RecordedCallAt,
    private readonly within: readonly SubRunPlace[],
    private readonly replay: ReplayState,
    private readonly runAgent: NonNullable<ToolContext['runAgent']>,
  ) {
    this.subs = at.call.subRuns ?? [];
  }

  /** The `runAgent` to give today's tool. */
  readonly run = async (child: SubAgent, input: string): Promise<SubRunResult> => {
    const n = this.next++;
    const sub = this.subs[n];
    const { at, replay } = this;
    if (!sub) {
      const summary = `today's tool "${at.call.name}" starts sub-run ${n + 1} (agent ${child.name}), the recorded call started ${this.subs.length}`;
      throw replay.stopWith(placed(this.within, [subRunsDifference(at, summary, 'subRuns', this.subs.length, n + 1)]));
    }
    const place: SubRunPlace[] = [...this.within, { step: at.step, toolCallId: at.call.id, agent: sub.agentName, ...(this.subs.length > 1 ? { index: n + 1 } : {}) }];
    if (child.name !== sub.agentName) {
      const summary = `today's tool "${at.call.name}" runs agent "${child.name}" where the recording ran "${sub.agentName}"`;
      replay.add(placed(this.within, [subRunsDifference(at, summary, `subRuns[${n}].agent`, sub.agentName, child.name)]));
    }
    // ToolContext types the agent structurally (tools sit below agents); it is one made by agent().
    const today = child as Agent;
    replay.add(placed(place, missingTools(today, sub)));
    const model = new ReplayModel(sub, place, replay, today.model);
    let result: SubRunResult;
    try {
      result = await this.runAgent(defineAgent({ ...today, model: model.modelFor(today.model), tools: replayedTools(today, sub, place, replay) }), input);
    } catch (error) {
      // The sub-run failed where the recorded one fell back.
      const missed = model.missedFallback();
      throw missed.length ? replay.stopWith(missed) : error;
    }
    if (model.unused() > 0) {
      const summary = `today's sub-run stopped (${result.stopReason}) after ${model.used()} model calls; the recording has ${model.used() + model.unused()}`;
      const values = [{ path: 'model calls', recorded: model.used() + model.unused(), actual: model.used() }];
      replay.add(placed(place, [{ kind: 'steps', step: sub.steps.at(-1)?.index ?? 0, summary, values }]));
    }
    return result;
  };

  /**
   * The difference when today's tool started fewer sub-runs than the recorded call (`failure`:
   * what it threw, if it did), else none.
   */
  unused(failure?: unknown): Difference[] {
    if (this.next >= this.subs.length) return [];
    const failed = failure === undefined ? '' : ` (then failed: ${failure instanceof Error ? failure.message : String(failure)})`;
    const summary = `today's tool "${this.at.call.name}" started ${this.next} sub-runs${failed}, the recorded call started ${this.subs.length}`;
    return placed(this.within, [subRunsDifference(this.at, summary, 'subRuns', this.subs.length, this.next)]);
  }
}

/**
 * A sub-agent's tool whose calls run today's sub-agent on the call's recorded sub-run (see
 * {@link SubRunReplayer}), so its requests are compared like the replayed run's; its result is
 * today's sub-run's. A call recorded without its sub-run's spans answers with its recorded result.
 */
function subAgentTool(t: Tool, recorded: ReadonlyMap<string, RecordedCallAt>, within: readonly SubRunPlace[], replay: ReplayState): Tool {
  return withExecute(t, (args, context) => {
    const at = recordedCall(recorded, context.toolCallId);
    if (!at.call.subRuns?.length || !context.runAgent) return servedResult(at);
    return t.execute(args, { ...context, runAgent: new SubRunReplayer(at, within, replay, context.runAgent).run });
  });
}

/**
 * A live tool, or a tool of the user's whose recorded calls started sub-runs (`context.runAgent`).
 * A sub-agent is part of the agent under test, and only the tool's code knows which agent it runs
 * on what input: so a call recorded with sub-runs runs today's code, each `runAgent` replaying the
 * next recorded sub-run (see {@link SubRunReplayer}). Its result is still the recorded one, as for
 * any served tool, unless the tool is live (`liveTools`): then it is what today's code returns,
 * and its `runAgent` replays the call's recorded sub-runs too (never reaching a sub-agent's live
 * model). A call recorded without sub-runs of a tool that is not live is served.
 */
function runAgentTool(t: Tool, recorded: ReadonlyMap<string, RecordedCallAt>, within: readonly SubRunPlace[], replay: ReplayState): Tool {
  const live = replay.isLive(t.name);
  const execute: Tool['execute'] = async (args, context) => {
    const at = recorded.get(context.toolCallId);
    if (!live && !at?.call.subRuns?.length) return servedResult(recordedCall(recorded, context.toolCallId));
    // A live call the recording does not hold has nothing to compare its sub-runs with.
    if (!at || !context.runAgent) return t.execute(args, context);
    const subRuns = new SubRunReplayer(at, within, replay, context.runAgent);
    let result: unknown;
    try {
      result = await t.execute(args, { ...context, runAgent: subRuns.run });
    } catch (error) {
      if (replay.error) throw replay.error;
      replay.add(subRuns.unused(error));
      if (live) throw error;
      return servedResult(at);
    }
    replay.add(subRuns.unused());
    return live ? result : servedResult(at);
  };
  // A live tool keeps the rest of its definition as it was (its approval rule too).
  return live ? Object.freeze({ ...t, execute }) : withExecute(t, execute);
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
 * Replays one recorded run with today's agent. Its sub-agents (`agent.asTool()`, and those its
 * tools start with `context.runAgent`) run again on their recorded sub-runs, compared like the run
 * itself (differences there carry `within`).
 * @throws {ReplayDivergenceError} in strict mode at the first difference, in the run or a sub-run
 *   (and in any mode when today's agent, or a sub-agent, makes more model calls than were
 *   recorded).
 * @throws {RunError} when the replayed run fails for another reason.
 */
export async function replayRun(run: RecordedRun, agent: Agent, options: ReplayOptions = {}): Promise<ReplayResult> {
  const replay = new ReplayState(run, (options.mode ?? 'strict') === 'strict', options.liveTools);
  replay.add(missingTools(agent, run));
  const model = new ReplayModel(run, [], replay, agent.model);
  const replayed = defineAgent({ ...agent, model: model.modelFor(agent.model), tools: replayedTools(agent, run, [], replay) });
  const runtime = options.runtime ?? createRuntime();
  // A continued conversation's recorded turn saw the loaded history ahead of its input: it is fed
  // from the recording, so replay needs no store and no conversation id.
  const input = run.history?.length ? [...run.history, ...asMessages(run.input)] : run.input;
  let result: RunResult;
  try {
    result = await runtime.run(replayed, input, {
      signal: replay.signal,
      attributes: { [ATTR.replaySource]: `${run.source.file}:${run.source.line}#${run.traceId}`, [ATTR.replayMode]: replay.strict ? 'strict' : 'lenient' },
    });
  } catch (error) {
    // Failing where the recording fell back to another model leaves no run to compare further.
    const missed = replay.error ? [] : model.missedFallback();
    if (missed.length) throw replay.stopWith(missed);
    throw replay.error ?? error;
  }
  // A divergence in a sub-run is a result for its calling model; the run may still have ended.
  if (replay.error) throw replay.error;
  if (model.unused() > 0) {
    replay.add([
      {
        kind: 'steps',
        step: run.steps.at(-1)?.index ?? 0,
        summary: `today's run stopped (${result.stopReason}) after ${result.steps} steps; the recording has ${run.steps.length}`,
        values: [{ path: 'steps', recorded: run.steps.length, actual: result.steps }],
      },
    ]);
  }
  const { differences } = replay;
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
