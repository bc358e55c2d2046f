/**
 * `tracebound serve <agent-module> --port N`: long-running mode over HTTP. SIGTERM/SIGINT drain
 * in-flight runs (up to `--drain-timeout`), flush spans and exit 0; a second signal exits at once.
 */
import type { Command } from 'commander';
import { httpInput } from '../serve/inputs/http.js';
import { serve } from '../serve/serve.js';
import type { Input } from '../serve/types.js';
import { TRACER_NAME } from '../tracing/attributes.js';
import { createTracerProvider, DEFAULT_TRACE_FILE, TracingConfigError, type ExporterName } from '../telemetry/setup.js';
import { tracedRuntime } from '../telemetry/traced-runtime.js';
import { loadAgentModule, UsageError, type AgentModule, type OfflineSetup } from './agent-module.js';
import { cliStore, exporterOption, resolveAgent, runtimeOptions, stateOption, STORE_HELP } from './agent-options.js';
import type { CliContext } from './io.js';
import { queueInputs, type QueueFlags } from './serve-queue.js';

/** Flags of `serve`. */
export interface ServeFlags extends QueueFlags {
  port: string;
  host: string;
  traceFile: string;
  /** Parsed and validated by {@link exporterOption}. */
  exporter: ExporterName[];
  offline?: boolean;
  /** Record message content even with a remote exporter (replay needs it). */
  captureContent?: boolean;
  concurrency: string;
  backlog: string;
  drainTimeout: string;
  /** The SQLite file of state when the module exports no store. */
  state: string;
  /** Bearer token every route but the probes needs; `TRACEBOUND_SERVE_TOKEN` when absent. */
  authToken?: string;
  /** Largest request body, in bytes. */
  maxBody: string;
}

/** The environment variable read for the bearer token when `--auth-token` is not given. */
const TOKEN_ENV = 'TRACEBOUND_SERVE_TOKEN';

/** Exit code when a second signal cuts the drain short. */
const EXIT_INTERRUPTED = 1;

/** A flag's value as an integer of at least `min`. @throws {UsageError} naming the flag. */
function integer(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got "${value}"`);
  return n;
}

/** Resolves on the first SIGTERM/SIGINT; a second one exits the process at once. */
function firstSignal(io: CliContext): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      process.once('SIGTERM', () => process.exit(EXIT_INTERRUPTED)).once('SIGINT', () => process.exit(EXIT_INTERRUPTED));
      io.stderr(`${signal}: draining in-flight runs (a second signal exits at once)\n`);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

/**
 * Serves the module's agent over HTTP until SIGTERM/SIGINT, then drains and flushes.
 * @returns 0 after a clean drain, 2 on bad usage, a bad module or an exporter's missing settings
 *   (the message says what to fix).
 */
export async function serveCommand(modulePath: string, flags: ServeFlags, io: CliContext): Promise<number> {
  let module: AgentModule;
  let numbers: { port: number; concurrency: number; backlog: number; drainTimeoutMs: number; maxBodyBytes: number };
  let setup: OfflineSetup;
  let inputs: Input[];
  try {
    inputs = queueInputs(flags);
    numbers = {
      port: integer('port', flags.port, 0),
      concurrency: integer('concurrency', flags.concurrency, 1),
      backlog: integer('backlog', flags.backlog, 0),
      drainTimeoutMs: integer('drain-timeout', flags.drainTimeout, 0),
      maxBodyBytes: integer('max-body', flags.maxBody, 1),
    };
    module = await loadAgentModule(modulePath);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`tracebound serve: ${error.message}\n`);
    return 2;
  }
  try {
    setup = await resolveAgent(module, flags.offline, io);
  } catch (error) {
    await module.close?.();
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`tracebound serve: ${error.message}\n`);
    return 2;
  }
  const store = cliStore(module, flags.state);
  const closeModule = () => Promise.all([setup.close(), store.close(), module.close?.()]);
  // The CLI owns the provider, so rejected-message spans and run spans go to the same exporters.
  let provider: ReturnType<typeof createTracerProvider>;
  try {
    provider = createTracerProvider({ exporter: flags.exporter, traceFile: flags.traceFile, serviceName: module.runtime?.serviceName });
  } catch (error) {
    await closeModule();
    if (!(error instanceof TracingConfigError)) throw error;
    io.stderr(`tracebound serve: --exporter ${error.exporter}: ${error.message}\n`);
    return 2;
  }
  const runtime = tracedRuntime({ ...runtimeOptions(module, flags.exporter, flags.captureContent, store), tracerProvider: provider });
  const authToken = flags.authToken ?? (process.env[TOKEN_ENV] || undefined);
  const http = httpInput({ port: numbers.port, host: flags.host, maxBodyBytes: numbers.maxBodyBytes, authToken });
  const { concurrency, backlog, drainTimeoutMs } = numbers;
  const server = serve({
    // --offline swaps the default agent for one talking to the local server; the others stay as exported.
    agent: setup.agent,
    agents: module.agents.filter((agent) => agent !== module.agent),
    runtime,
    tracer: provider.getTracer(TRACER_NAME),
    inputs: [http, ...inputs],
    concurrency,
    backlog,
    drainTimeoutMs,
    ...(module.inputSchema ? { inputSchema: module.inputSchema } : {}),
  });
  try {
    await server.start();
  } catch (error) {
    await Promise.all([provider.shutdown(), closeModule()]);
    io.stderr(`tracebound serve: cannot listen on ${flags.host}:${numbers.port}: ${(error as Error).message}\n`);
    return 2;
  }
  const signal = firstSignal(io);
  const others = module.agents.length > 1 ? ` and ${module.agents.length - 1} more agent(s) at POST /v1/agents/{name}/runs` : '';
  io.stdout(`serving ${setup.agent.name} on ${http.url} (POST /v1/runs${others}; /v1/runs/{runId}, /v1/conversations/{id}, GET /healthz, GET /readyz${authToken ? '; bearer token required' : ''})\n`);
  await signal;
  await server.stop();
  await provider.shutdown();
  await closeModule();
  io.stderr('drained: every run finished and its spans are flushed\n');
  return 0;
}

/** Adds `serve <agent-module>` to the program; its action sets `context.exitCode`. */
export function registerServe(program: Command, context: CliContext): void {
  program
    .command('serve')
    .description("serve an agent module's agents over HTTP (POST /v1/runs, POST /v1/agents/{name}/runs, JSON or SSE)")
    .argument('<agent-module>', 'a .ts or .js module whose default export is an agent, or that exports `agents` (an array)')
    .option('--port <n>', 'TCP port (0 picks a free one)', '8787')
    .option('--host <address>', 'interface to listen on', '127.0.0.1')
    .option('--trace-file <path>', 'trace file of the file exporter', DEFAULT_TRACE_FILE)
    .addOption(exporterOption())
    .option('--offline', 'replay recorded provider traffic from a local server (where the module supports it)')
    .option('--capture-content', 'record prompts, answers and tool results with remote exporters too (on by default for file/console)')
    .option('--concurrency <n>', 'most runs at once', '16')
    .option('--backlog <n>', 'most requests waiting for a slot before 429', '256')
    .option('--drain-timeout <ms>', 'on SIGTERM, how long in-flight runs may finish before they are aborted', '30000')
    .option('--auth-token <token>', `require \`Authorization: Bearer <token>\` on every route but /healthz and /readyz (default: $${TOKEN_ENV})`)
    .option('--max-body <bytes>', 'largest request body; a bigger one gets 413', '1048576')
    .addOption(stateOption())
    .option('--queue <name>', 'also take runs from this BullMQ queue: every process started with it is one worker of a fleet (job id = run id)')
    .option('--redis-url <url>', 'the Redis of --queue', 'redis://127.0.0.1:6379')
    .option('--schedule <cron>', 'run --schedule-input on this cron (e.g. "0 */15 * * * *"): once across the fleet with --queue, in this process without it')
    .option('--schedule-input <text>', 'the input of every scheduled run')
    .addHelpText('after', `\n${STORE_HELP}`)
    .action(async (modulePath: string, flags: ServeFlags) => {
      context.exitCode = await serveCommand(modulePath, flags, context);
    });
}
