/**
 * What `tracebound run` and `tracebound serve` share: the `--exporter` option, the `--offline`
 * resolution of an agent module, and the runtime options both build from the module's `runtime`
 * export. One definition, so the two commands cannot drift apart.
 */
import { InvalidArgumentError, Option } from 'commander';
import { exporterNames, exportsLocallyOnly, type ExporterName } from '../telemetry/setup.js';
import type { TracedRuntimeOptions } from '../telemetry/traced-runtime.js';
import { UsageError, type AgentModule, type OfflineSetup } from './agent-module.js';
import type { CliContext } from './io.js';

/** The exporters when `--exporter` is not given. A constant, so the parser knows the default from a value. */
const DEFAULT_EXPORTERS: readonly ExporterName[] = ['file'];

/**
 * Parses one `--exporter` value (one name or a comma-separated list) and adds it to the ones
 * before it: the option repeats (`--exporter file --exporter otlp`) instead of taking every word
 * after it, so it never swallows the `input` argument.
 * @throws {InvalidArgumentError} on an unknown name; commander prints it and the CLI exits 2
 */
function collectExporters(value: string, previous: readonly ExporterName[]): ExporterName[] {
  let names: ExporterName[];
  try {
    names = exporterNames(value.split(',').map((name) => name.trim()) as ExporterName[]);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return [...(previous === DEFAULT_EXPORTERS ? [] : previous), ...names];
}

/** The `--exporter <names>` option of `run` and `serve`: repeatable, comma-separated, default `file`. */
export function exporterOption(): Option {
  return new Option(
    '--exporter <names>',
    'where spans go: file, otlp, otlp-proto, langfuse, console or none; repeat the flag or separate names with commas for several',
  )
    .argParser(collectExporters)
    .default(DEFAULT_EXPORTERS, 'file');
}

/**
 * Where the budget's spend windows live, for `--help`: the CLI takes the store from the module's
 * `runtime` export, else the runtime's default.
 */
export const STORE_HELP =
  'Budget spend windows (budget.spend) live in this process\'s memory unless the agent module exports ' +
  '`runtime` with a `budgetStore` (e.g. redisStore({ url }) to share them across processes). The module\'s ' +
  '`runtime` export also sets prices, retry, redact, hooks, timeoutMs, contextWindows and serviceName.';

/**
 * The agent to run: the module's own, or with `--offline` the one its `offline` setup starts
 * (a local server replaying recorded traffic), unless the variable the setup names (an API key)
 * is set.
 * @throws {UsageError} with `--offline` on a module that exports no `offline` setup
 */
export async function resolveAgent(module: AgentModule, offline: boolean | undefined, io: CliContext): Promise<OfflineSetup> {
  const live: OfflineSetup = { agent: module.agent, close: async () => {} };
  if (!offline) return live;
  if (!module.offline) {
    throw new UsageError(
      `${module.path} does not support --offline: it exports no \`offline\` setup (see README, "Your own --offline setup"); run it without --offline`,
    );
  }
  const envName = module.offline.liveWhen;
  if (envName && process.env[envName]) {
    io.stdout(`${envName} is set: running live (unset it to replay recorded traffic offline)\n`);
    return live;
  }
  io.stdout(`offline: the provider SDK talks to a local server replaying recorded traffic${envName ? ` (set ${envName} to run live)` : ''}\n`);
  return module.offline.start();
}

/**
 * The runtime options of a CLI run: the module's `runtime` export, with what the flags set on
 * top. `--capture-content` wins; without it the module's `captureContent`, else on only when
 * every exporter is local.
 */
export function runtimeOptions(
  module: AgentModule,
  exporters: readonly ExporterName[],
  captureContent: boolean | undefined,
): TracedRuntimeOptions {
  return {
    ...module.runtime,
    captureContent: captureContent ?? module.runtime?.captureContent ?? exportsLocallyOnly(exporters),
  };
}
