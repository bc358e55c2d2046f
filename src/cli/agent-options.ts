/**
 * What `tracebound run` and `tracebound serve` share: the `--exporter` option, the `--offline`
 * resolution of an agent module, and the runtime options both build from the module's `runtime`
 * export. One definition, so the two commands cannot drift apart.
 */
import { InvalidArgumentError, Option } from 'commander';
import { sqliteStore } from '../state/sqlite.js';
import type { Store } from '../state/store.js';
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

/** Where the CLI keeps state when the module brings no store: the `--state` default. */
export const DEFAULT_STATE_FILE = '.tracebound/state.db';

/** The `--state <path>` option of `run` and `serve`. */
export function stateOption(): Option {
  return new Option('--state <path>', 'SQLite file of conversations and budget spend windows (unless the module exports a store)').default(DEFAULT_STATE_FILE);
}

/**
 * Where state lives, for `--help`: the module's `runtime` store, else the `--state` SQLite file.
 */
export const STORE_HELP =
  'Conversations (--conversation, or conversationId in serve) and budget spend windows (budget.spend) live in ' +
  'the --state SQLite file, shared by every tracebound process on this machine, unless the agent module exports ' +
  '`runtime` with a `store` (e.g. redisStore({ url }) to share them across machines). The module\'s ' +
  '`runtime` export also sets prices, retry, redact, hooks, timeoutMs, contextWindows and serviceName.';

/**
 * The store of a CLI command: the module's (`runtime.store`, or its older name `budgetStore`),
 * else a SQLite store at `stateFile`, created on first use. The CLI owns the process, so it
 * closes the store either way (a Redis connection would otherwise keep the process alive).
 */
export function cliStore(module: AgentModule, stateFile: string): Store {
  return module.runtime?.store ?? module.runtime?.budgetStore ?? sqliteStore({ path: stateFile });
}

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
  const what = module.offline.describe ?? 'the provider SDK talks to a local server replaying recorded traffic';
  io.stdout(`offline: ${what}${envName ? ` (set ${envName} to run live)` : ''}\n`);
  return module.offline.start();
}

/**
 * The runtime options of a CLI run: the module's `runtime` export, with what the flags set on
 * top. `--capture-content` wins; without it the module's `captureContent`, else on only when
 * every exporter is local. `store` is the command's (see {@link cliStore}).
 */
export function runtimeOptions(
  module: AgentModule,
  exporters: readonly ExporterName[],
  captureContent: boolean | undefined,
  store: Store,
): TracedRuntimeOptions {
  return {
    ...module.runtime,
    store,
    captureContent: captureContent ?? module.runtime?.captureContent ?? exportsLocallyOnly(exporters),
  };
}
