/**
 * `tracebound replay <trace-file> --agent <module> [--lenient] [--run <id>] [--live-tools [names...]]`:
 * replays recorded runs with today's agent.
 */
import type { Command } from 'commander';
import { subAgentOf, type Agent } from '../agent.js';
import { RunError } from '../errors.js';
import { readRecording, ReplayFileError } from '../replay/read.js';
import type { RecordedRun } from '../replay/recording.js';
import { replayRun, ReplayDivergenceError, selectRun, type ReplayOptions } from '../replay/replay.js';
import { TraceFileError } from '../traces/trace-file.js';
import { loadAgentModule, UsageError, type AgentModule } from './agent-module.js';
import type { CliContext, CliIo } from './io.js';

/** Flags of `replay`. */
export interface ReplayFlags {
  agent: string;
  lenient?: boolean;
  /** A trace id or run span id of the file. */
  run?: string;
  /** Tools to run live instead of returning their recorded results: `true` (the bare flag) for all. */
  liveTools?: true | string[];
}

/** The names of an agent's tools and of its sub-agents' (`asTool()`), at every depth. */
function toolNames(agent: Agent, seen = new Set<Agent>()): string[] {
  seen.add(agent);
  return agent.tools.flatMap((t) => {
    const sub = subAgentOf(t);
    return [t.name, ...(sub && !seen.has(sub) ? toolNames(sub, seen) : [])];
  });
}

/**
 * The tools called in the recorded sub-runs of `runs`, at every depth: those of the sub-agents a
 * tool of the agent starts with `context.runAgent`, which the agent's definition does not show.
 */
function subRunToolNames(runs: readonly RecordedRun[]): string[] {
  const subs = runs.flatMap((run) => run.steps.flatMap((s) => s.toolCalls.flatMap((c) => c.subRuns ?? [])));
  return [...subs.flatMap((sub) => sub.steps.flatMap((s) => s.toolCalls.map((c) => c.name))), ...(subs.length ? subRunToolNames(subs) : [])];
}

/**
 * The `liveTools` replay option from the flag, checked against the agent's tools and its
 * sub-agents' (replay runs those on their recorded chats, and live tools count there too; those
 * of a sub-agent a tool starts with `context.runAgent` are known from the recorded `runs`): a name
 * none has is most often the trace file taken as a tool name (`--live-tools` takes every word up
 * to the next option), so the message says where to put the file.
 * @throws {UsageError} naming the unknown tool and the agent's tools
 */
function liveToolsOption(flag: ReplayFlags['liveTools'], agent: Agent, runs: readonly RecordedRun[]): true | string[] | undefined {
  if (flag === undefined || flag === true) return flag;
  const known = [...new Set([...toolNames(agent), ...subRunToolNames(runs)])];
  const unknown = flag.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    throw new UsageError(
      `--live-tools: agent "${agent.name}" has no tool ${unknown.map((n) => `"${n}"`).join(', ')} (its tools: ${known.join(', ') || 'none'}); ` +
        'put the trace file before --live-tools: tracebound replay <trace-file> --agent <module> --live-tools [names...]',
    );
  }
  return flag;
}

/** The runs to replay: the one `--run` names, else every run of the agent's name. */
function runsToReplay(runs: readonly RecordedRun[], agentName: string, file: string, runId: string | undefined): RecordedRun[] {
  if (runId !== undefined) {
    try {
      return [selectRun(runs, agentName, runId)];
    } catch (error) {
      throw new UsageError(`${file}: ${(error as Error).message}`);
    }
  }
  const mine = runs.filter((r) => r.agentName === agentName);
  if (mine.length === 0) {
    const known = runs.map((r) => `${r.traceId} (${r.agentName})`).join(', ') || 'none';
    throw new UsageError(`${file} has no run of agent "${agentName}"; runs: ${known}. Pick one with --run <trace-id>`);
  }
  return mine;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** One line naming a recorded run, for the match line and the failure line. */
function runLabel(run: RecordedRun): string {
  return `run ${run.traceId} (agent ${run.agentName}, ${run.source.file}:${run.source.line})`;
}

/**
 * Replays one recorded run, printing `✓ matched ...` or the divergence report.
 * @returns whether it matched
 */
async function replayOne(run: RecordedRun, options: ReplayOptions, agent: Agent, io: CliIo): Promise<boolean> {
  try {
    const replay = await replayRun(run, agent, options);
    if (replay.matched) {
      const { steps, toolCalls } = replay.result;
      io.stdout(`✓ matched ${runLabel(run)}: ${plural(steps, 'step')}, ${plural(toolCalls, 'tool call')}\n`);
      return true;
    }
    io.stdout(`✗ ${replay.report}\n`);
  } catch (error) {
    if (error instanceof ReplayDivergenceError) io.stdout(`✗ ${error.report}\n`);
    else if (error instanceof RunError) io.stdout(`✗ ${runLabel(run)}: the replayed run failed (${error.stopReason}): ${error.message}\n`);
    else throw error;
  }
  return false;
}

/**
 * Replays the recorded runs of a trace file with a module's agent, offline.
 * @returns 0 when every run matched, 1 when one diverged or its replay failed, 2 on bad input
 *   (missing or malformed file, no such run, a module without an agent)
 */
export async function replayCommand(file: string, flags: ReplayFlags, io: CliIo): Promise<number> {
  let module: AgentModule;
  try {
    module = await loadAgentModule(flags.agent);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`tracebound replay: ${error.message}\n`);
    return 2;
  }
  try {
    return await replayWith(module.agent, file, flags, io);
  } finally {
    await module.close?.();
  }
}

/** {@link replayCommand} once the module is loaded. */
async function replayWith(agent: Agent, file: string, flags: ReplayFlags, io: CliIo): Promise<number> {
  let runs: RecordedRun[];
  let liveTools: ReplayOptions['liveTools'];
  try {
    runs = runsToReplay(await readRecording(file), agent.name, file, flags.run);
    liveTools = liveToolsOption(flags.liveTools, agent, runs);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ReplayFileError || error instanceof TraceFileError)) throw error;
    io.stderr(`tracebound replay: ${error.message}\n`);
    return 2;
  }
  const options: ReplayOptions = { mode: flags.lenient ? 'lenient' : 'strict', ...(liveTools ? { liveTools } : {}) };
  let matched = true;
  // One after the other: each replay is offline and fast, and the reports stay in file order.
  for (const run of runs) matched = (await replayOne(run, options, agent, io)) && matched;
  return matched ? 0 : 1;
}

/**
 * Adds `replay <trace-file> --agent <module>` to the program; its action sets `context.exitCode`.
 * `--live-tools` takes the words after it up to the next option, so the trace file goes first.
 */
export function registerReplay(program: Command, context: CliContext): void {
  program
    .command('replay')
    .description("replay recorded runs with today's agent, offline; exit 1 with a report where it diverges")
    .argument('<trace-file>', 'OTLP/JSON lines trace file holding the recorded runs')
    .requiredOption('--agent <agent-module>', 'a .ts or .js module whose default export is the agent to replay')
    .option('--lenient', 'go on past differences and list them all (default: stop at the first)')
    .option('--run <id>', 'replay only this run (trace id or run span id); default: every run of the agent')
    .option(
      '--live-tools [names...]',
      'run these tools (all when no name is given) instead of returning their recorded results, to check a tool change; put <trace-file> before this flag',
    )
    .action(async (file: string, flags: ReplayFlags) => {
      context.exitCode = await replayCommand(file, flags, context);
    });
}
