/** `tracebound run <agent-module> [input]`: runs an agent and prints its span tree as it goes. */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Command } from 'commander';
import { RunError } from '../errors.js';
import { ATTR, OPERATION } from '../tracing/attributes.js';
import { flushOnExit } from './exit.js';
import { exporterNames, DEFAULT_TRACE_FILE, TracingConfigError, type ExporterName } from '../telemetry/setup.js';
import { spanRecordOf, type SpanRecord } from '../traces/span-record.js';
import { tracedRuntime } from '../telemetry/traced-runtime.js';
import { loadAgentModule, UsageError, type AgentModule } from './agent-module.js';
import type { CliContext } from './io.js';
import { renderRunFooter, renderRunHeader, renderStep } from './tree.js';

/** Flags of `run`. */
export interface RunFlags {
  traceFile: string;
  exporter: string[];
  offline?: boolean;
  /** Record message content even with a remote exporter (replay needs it). */
  captureContent?: boolean;
}

/**
 * Prints each step's subtree when its span ends (its model and tool spans have ended by then) and
 * the run's totals when the run span ends, so a long run shows progress.
 */
class ProgressPrinter implements SpanProcessor {
  private readonly ended = new Map<string, SpanRecord>();

  constructor(private readonly io: CliContext) {}

  onStart(_span: Span, _parent: Context): void {}

  onEnd(span: ReadableSpan): void {
    const record = spanRecordOf(span);
    this.ended.set(record.spanId, record);
    const operation = record.attributes[ATTR.operation] ?? record.attributes[ATTR.operationName];
    const options = { color: this.io.color };
    if (operation === OPERATION.step) {
      const under = [...this.ended.values()].filter((s) => this.isUnder(s, record.spanId));
      this.io.stdout(`${renderStep(record, under, options).join('\n')}\n`);
    } else if (operation === OPERATION.invokeAgent) {
      this.io.stdout(`${renderRunFooter(record, options)}\n`);
      this.ended.clear();
    }
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

function parseExporters(values: string[]): ExporterName[] {
  try {
    return exporterNames(values.flatMap((v) => v.split(',')) as ExporterName[]);
  } catch (error) {
    throw new UsageError(`--exporter: ${(error as Error).message}`);
  }
}

async function resolveAgent(module: AgentModule, flags: RunFlags, io: CliContext) {
  if (!flags.offline) return { agent: module.agent, close: async () => {} };
  if (!module.offline) {
    throw new UsageError(`${module.path} does not support --offline: it exports no \`offline\` setup; run it without --offline`);
  }
  const envName = module.offline.liveWhen;
  if (envName && process.env[envName]) {
    io.stdout(`${envName} is set: running live (unset it to replay recorded traffic offline)\n`);
    return { agent: module.agent, close: async () => {} };
  }
  io.stdout(`offline: the provider SDK talks to a local server replaying recorded traffic${envName ? ` (set ${envName} to run live)` : ''}\n`);
  return module.offline.start();
}

/**
 * Runs the module's agent once, printing the span tree as steps end and writing the trace.
 * @returns 0 when the run ended with a result, 1 when it failed (aborted, timed out, error),
 *   2 on bad usage or a bad module (the message says what to fix).
 */
export async function runCommand(modulePath: string, input: string | undefined, flags: RunFlags, io: CliContext): Promise<number> {
  let module: AgentModule;
  let exporters: ExporterName[];
  try {
    exporters = parseExporters(flags.exporter);
    module = await loadAgentModule(modulePath);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`tracebound run: ${error.message}\n`);
    return 2;
  }
  const text = input ?? module.input;
  if (text === undefined) {
    io.stderr(`tracebound run: no input: pass one (tracebound run ${modulePath} "your question") or export \`input\` from the module\n`);
    return 2;
  }
  let runtime: ReturnType<typeof tracedRuntime>;
  try {
    runtime = tracedRuntime({
      exporter: exporters,
      traceFile: flags.traceFile,
      spanProcessors: [new ProgressPrinter(io)],
      ...(flags.captureContent ? { captureContent: true } : {}),
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
    const setup = await resolveAgent(module, flags, io);
    try {
      const a = setup.agent;
      io.stdout(`${renderRunHeader({ agentName: a.name, model: a.model.modelId, provider: a.model.provider }, { color: io.color })}\n`);
      const result = await runtime.run(a, text, { signal: controller.signal });
      io.stdout(`\n${result.output}\n`);
      return 0;
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      io.stderr(`\nrun ${error.stopReason}: ${error.message}\n`);
      return 1;
    } finally {
      await setup.close();
    }
  } finally {
    await runtime.shutdown();
    removeExitHandlers();
    if (exporters.includes('file')) io.stdout(`\ntrace written to ${flags.traceFile} (tracebound show ${flags.traceFile})\n`);
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
    .option('--exporter <name...>', 'file, otlp, otlp-proto, langfuse, console or none (several allowed)', ['file'])
    .option('--offline', 'replay recorded provider traffic from a local server (where the module supports it)')
    .option('--capture-content', 'record prompts, answers and tool results with remote exporters too (on by default for file/console)')
    .action(async (modulePath: string, input: string | undefined, flags: RunFlags) => {
      context.exitCode = await runCommand(modulePath, input, flags, context);
    });
}
