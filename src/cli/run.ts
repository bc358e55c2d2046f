/** `tracebound run <agent-module> [input]`: runs an agent and prints its span tree as it goes. */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Command } from 'commander';
import type { Agent } from '../agent.js';
import { RunError } from '../errors.js';
import { ConversationBusyError, StoreError } from '../state/errors.js';
import { ATTR, OPERATION } from '../tracing/attributes.js';
import { flushOnExit } from './exit.js';
import { DEFAULT_TRACE_FILE, TracingConfigError, type ExporterName } from '../telemetry/setup.js';
import { spanRecordOf, type SpanRecord } from '../traces/span-record.js';
import { tracedRuntime } from '../telemetry/traced-runtime.js';
import { loadAgentModule, UsageError, type AgentModule, type OfflineSetup } from './agent-module.js';
import type { Store } from '../state/store.js';
import { agentsByName } from '../serve/serve.js';
import { cliStore, exporterOption, resolveAgent, runtimeOptions, stateOption, STORE_HELP } from './agent-options.js';
import type { CliContext } from './io.js';
import { renderRunFooter, renderRunHeader, renderStep } from '../tracing/tree.js';

/** Flags of `run`. */
export interface RunFlags {
  traceFile: string;
  /** Parsed and validated by {@link exporterOption}. */
  exporter: ExporterName[];
  offline?: boolean;
  /** Record message content even with a remote exporter (replay needs it). */
  captureContent?: boolean;
  /** Continue this conversation: the run sees its earlier turns and adds its own. */
  conversation?: string;
  /** Run the module's agent of this name (from its `agents` export) instead of the default one. */
  agent?: string;
  /** The SQLite file of state when the module exports no store. */
  state: string;
}

/**
 * Prints each step's subtree when its span ends (its model and tool spans have ended by then) and
 * the run's totals when the run span ends, so a long run shows progress. Only the run's own steps
 * print as they end: a sub-run (`agent.asTool()`) prints inside the step whose tool call made it.
 */
class ProgressPrinter implements SpanProcessor {
  private readonly ended = new Map<string, SpanRecord>();
  /** The parent span id of every span started (undefined for a root), known before it ends. */
  private readonly parents = new Map<string, string | undefined>();

  constructor(private readonly io: CliContext) {}

  onStart(span: Span, _parent: Context): void {
    this.parents.set(span.spanContext().spanId, span.parentSpanContext?.spanId);
  }

  onEnd(span: ReadableSpan): void {
    const record = spanRecordOf(span);
    this.ended.set(record.spanId, record);
    const operation = record.attributes[ATTR.operation] ?? record.attributes[ATTR.operationName];
    const options = { color: this.io.color };
    if (operation === OPERATION.step && record.parentSpanId !== undefined && this.isTop(record.parentSpanId)) {
      const under = [...this.ended.values()].filter((s) => this.isUnder(s, record.spanId));
      this.io.stdout(`${renderStep(record, under, options).join('\n')}\n`);
    } else if (operation === OPERATION.invokeAgent && this.isTop(record.spanId)) {
      this.io.stdout(`${renderRunFooter(record, options)}\n`);
      this.ended.clear();
      this.parents.clear();
    }
  }

  /** Whether a run span is the run's own, not a sub-run's (whose parent, a tool call span, started here). */
  private isTop(runId: string): boolean {
    const parent = this.parents.get(runId);
    return parent === undefined || !this.parents.has(parent);
  }

  private isUnder(span: SpanRecord, ancestorId: string): boolean {
    for (let parent = span.parentSpanId; parent !== undefined; parent = this.ended.get(parent)?.parentSpanId) {
      if (parent === ancestorId) return true;
    }
    return false;
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * Runs the module's agent once, printing the span tree as steps end and writing the trace.
 * @returns 0 when the run ended with a result, 1 when it failed (aborted, timed out, error),
 *   2 on bad usage or a bad module (the message says what to fix).
 */
export async function runCommand(modulePath: string, input: string | undefined, flags: RunFlags, io: CliContext): Promise<number> {
  let module: AgentModule;
  try {
    module = await loadAgentModule(modulePath);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`tracebound run: ${error.message}\n`);
    return 2;
  }
  try {
    return await runModule(module, modulePath, input, flags, io);
  } finally {
    await module.close?.();
  }
}

/** {@link runCommand} once the module is loaded. */
async function runModule(module: AgentModule, modulePath: string, input: string | undefined, flags: RunFlags, io: CliContext): Promise<number> {
  const text = input ?? module.input;
  if (text === undefined) {
    io.stderr(`tracebound run: no input: pass one (tracebound run ${modulePath} "your question") or export \`input\` from the module\n`);
    return 2;
  }
  let chosen = module.agent;
  if (flags.agent !== undefined) {
    const { byName } = agentsByName(module);
    const named = byName.get(flags.agent);
    if (!named) {
      io.stderr(`tracebound run: ${modulePath} has no agent named "${flags.agent}"; its agents: ${[...byName.keys()].join(', ')}\n`);
      return 2;
    }
    chosen = named;
  }
  let setup: OfflineSetup;
  try {
    setup = await resolveAgent({ ...module, agent: chosen }, flags.offline, io);
    // An offline setup starts one agent of its own: it must be the one asked for.
    if (setup.agent.name !== chosen.name) {
      await setup.close();
      throw new UsageError(`${modulePath}'s offline setup runs "${setup.agent.name}", not "${chosen.name}": run "${chosen.name}" without --offline`);
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`tracebound run: ${error.message}\n`);
    return 2;
  }
  const store = cliStore(module, flags.state);
  try {
    return await runAgent(setup.agent, text, module, store, flags, io);
  } finally {
    await setup.close();
    await store.close();
  }
}

/** Runs `agent` once with a traced runtime, printing the tree; the trace file is written once the runtime exists. */
async function runAgent(agent: Agent, text: string, module: AgentModule, store: Store, flags: RunFlags, io: CliContext): Promise<number> {
  let runtime: ReturnType<typeof tracedRuntime>;
  try {
    runtime = tracedRuntime({
      ...runtimeOptions(module, flags.exporter, flags.captureContent, store),
      exporter: flags.exporter,
      traceFile: flags.traceFile,
      spanProcessors: [new ProgressPrinter(io)],
    });
  } catch (error) {
    if (!(error instanceof TracingConfigError)) throw error;
    io.stderr(`tracebound run: --exporter ${error.exporter}: ${error.message}\n`);
    return 2;
  }
  const controller = new AbortController();
  // Installed until the runtime has shut down: a signal during the final flush must not kill
  // the process before the spans are out (a second signal exits at once).
  const removeExitHandlers = flushOnExit({
    shutdown: () => runtime.shutdown(),
    onSignal: (signal) => controller.abort(new Error(`interrupted (${signal})`)),
  });
  try {
    io.stdout(`${renderRunHeader({ agentName: agent.name, model: agent.model.modelId, provider: agent.model.provider }, { color: io.color })}\n`);
    const result = await runtime.run(agent, text, { signal: controller.signal, conversationId: flags.conversation });
    io.stdout(`\n${result.output}\n`);
    if (flags.conversation !== undefined) {
      const where = store.name === 'sqlite' && !module.runtime?.store && !module.runtime?.budgetStore ? flags.state : `the module's ${store.name} store`;
      io.stdout(`\nconversation ${flags.conversation}: ${result.messages.length} messages, kept in ${where}\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof StoreError || error instanceof ConversationBusyError) {
      io.stderr(`\nrun failed: ${error.message}\n`);
      return 1;
    }
    if (!(error instanceof RunError)) throw error;
    io.stderr(`\nrun ${error.stopReason}: ${error.message}\n`);
    return 1;
  } finally {
    await runtime.shutdown();
    removeExitHandlers();
    if (flags.exporter.includes('file')) {
      io.stdout(
        `\ntrace written to ${flags.traceFile}\n` +
          `  print its span tree:    npx tracebound show ${flags.traceFile}\n` +
          `  open it in the viewer:  npx tracebound view ${flags.traceFile}   (then http://127.0.0.1:4040)\n`,
      );
    }
  }
}

/** Adds `run <agent-module> [input]` to the program; its action sets `context.exitCode`. */
export function registerRun(program: Command, context: CliContext): void {
  program
    .command('run')
    .description("run an agent module's default-exported agent; print its span tree and write the trace")
    .argument('<agent-module>', 'a .ts or .js module whose default export is an agent')
    .argument('[input]', "the user's message (default: the module's exported `input`)")
    .option('--trace-file <path>', 'trace file of the file exporter', DEFAULT_TRACE_FILE)
    .addOption(exporterOption())
    .option('--offline', 'replay recorded provider traffic from a local server (where the module supports it)')
    .option('--capture-content', 'record prompts, answers and tool results with remote exporters too (on by default for file/console)')
    .option('--agent <name>', 'run the agent of this name from the module\'s `agents` export (default: the default export)')
    .option('--conversation <id>', 'continue this conversation: the agent sees its earlier turns, and this one is saved')
    .addOption(stateOption())
    .addHelpText('after', `\n${STORE_HELP}`)
    .action(async (modulePath: string, input: string | undefined, flags: RunFlags) => {
      context.exitCode = await runCommand(modulePath, input, flags, context);
    });
}
