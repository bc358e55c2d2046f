/** Loading the agent module a CLI command names (`.ts` or `.js`). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ZodType } from 'zod';
import type { Agent } from '../agent.js';
import { nameClash, type ServeInput } from '../serve/serve.js';
import { notZod4 } from '../tool.js';
import type { TracedRuntimeOptions } from '../telemetry/traced-runtime.js';

/** Bad usage or input: the CLI prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** An offline setup: the agent pointed at a local server that replays recorded traffic. */
export interface OfflineSetup {
  agent: Agent;
  /** Stops the local server. */
  close(): Promise<void>;
}

/** What the CLI's flags set (`--exporter`, `--trace-file`) or owns; a module's `runtime` export may not set them. */
const FLAG_OWNED = ['exporter', 'traceFile', 'tracerProvider', 'spanProcessors'] as const;

/**
 * Runtime options an agent module exports as `runtime` for `tracebound run` and `serve`: those of
 * `tracedRuntime()` (prices, budgetStore, retry, redact, hooks, timeoutMs, contextWindows,
 * captureContent, serviceName) minus where spans go, which the flags set.
 */
export type ModuleRuntimeOptions = Omit<TracedRuntimeOptions, (typeof FLAG_OWNED)[number]>;

/**
 * What an agent module exports: the agent (default export) or several (`agents`, an array; the
 * default export, else the first of them, is the default agent), optionally a default `input`, an
 * `offline` setup for `--offline` (skipped when the `liveWhen` variable, an API key, is set), an
 * `inputSchema` for `tracebound serve`, and `runtime` options for both commands.
 */
export interface AgentModule {
  path: string;
  /** The default agent. */
  agent: Agent;
  /** Every agent the module exports, the default one included, each under its own name. */
  agents: Agent[];
  input?: string;
  /**
   * `--offline`'s setup. `describe` says what it runs on, for the line `--offline` prints
   * (default: a local server replaying recorded provider traffic).
   */
  offline?: { liveWhen?: string; describe?: string; start(): Promise<OfflineSetup> };
  /**
   * A zod schema of the messages `tracebound serve` accepts (default `{ input, conversationId? }`);
   * it must parse to `{ input, conversationId? }`.
   */
  inputSchema?: ZodType<ServeInput>;
  runtime?: ModuleRuntimeOptions;
  /**
   * Releases what the module holds, e.g. an MCP server it started with `mcpTools()` (whose child
   * process would keep the CLI's process alive): `run` and `replay` call it when done, `serve`
   * when it shuts down.
   */
  close?(): Promise<void>;
}

/**
 * The module's `runtime` export, checked: an object without the options the flags own.
 * @throws {UsageError} saying what is wrong
 */
function moduleRuntime(path: string, value: unknown): ModuleRuntimeOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UsageError(`${path} exports \`runtime\` that is not an object of tracedRuntime() options`);
  }
  const owned = FLAG_OWNED.filter((key) => key in value);
  if (owned.length > 0) {
    throw new UsageError(
      `${path} exports \`runtime\` with ${owned.join(', ')}: the CLI sets where spans go (--exporter, --trace-file); remove ${owned.length === 1 ? 'it' : 'them'}`,
    );
  }
  return value as ModuleRuntimeOptions;
}

/**
 * Two agents of one name cannot both be reached: `--agent` and `serve` pick an agent by name.
 * @throws {UsageError} naming the name, where both agents come from, and what to do
 */
function checkNames(path: string, agents: readonly Agent[], where: (agent: Agent) => string): void {
  const clash = nameClash(agents);
  if (!clash) return;
  const [first, second] = clash.map((i) => agents[i] as Agent) as [Agent, Agent];
  throw new UsageError(
    `${path} exports two agents named "${first.name}" (${where(first)} and ${where(second)}): --agent and serve pick an agent by name, so give each its own name in agent({ name })`,
  );
}

function isAgent(value: unknown): value is Agent {
  const v = value as Partial<Agent> | undefined;
  return !!v && typeof v.name === 'string' && typeof v.model?.generate === 'function' && Array.isArray(v.tools);
}

/**
 * Imports a TypeScript module through tsx's loader hooks. tracebound's own API is imported natively
 * first, so the module's `import ... from 'tracebound'` is a cache hit instead of a second,
 * hooked load of every dependency (seconds of cold start).
 */
async function importTypeScript(file: string): Promise<Record<string, unknown>> {
  await import('tracebound').catch(() => undefined);
  const esm = await import('tsx/esm/api');
  const cjs = await import('tsx/cjs/api');
  // Both hooks: a .ts file outside a `"type": "module"` package loads as CommonJS.
  const unregisterEsm = esm.register();
  const unregisterCjs = cjs.register();
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } finally {
    unregisterCjs();
    await unregisterEsm();
  }
}

/**
 * Imports an agent module; `.ts` modules go through tsx.
 * @throws {UsageError} when the file is missing, fails to load, has neither a default-exported
 *   agent nor an `agents` array of agents, exports two agents of one name, or exports an
 *   `offline`, `inputSchema` or `runtime` of the wrong shape.
 */
export async function loadAgentModule(path: string): Promise<AgentModule> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`agent module not found: ${path}`);
  let exports: Record<string, unknown>;
  try {
    exports = /\.[mc]?ts$/.test(file) ? await importTypeScript(file) : ((await import(pathToFileURL(file).href)) as Record<string, unknown>);
  } catch (error) {
    throw new UsageError(`could not load ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const listed = exports.agents;
  if (listed !== undefined && (!Array.isArray(listed) || !listed.every(isAgent))) {
    throw new UsageError(`${path} exports \`agents\` that is not an array of agents`);
  }
  const fallback = isAgent(exports.default) ? exports.default : listed?.[0];
  if (!fallback) {
    throw new UsageError(`${path} has no default-exported agent: add \`export default agent({ ... })\` (or \`export const agents = [...]\`)`);
  }
  const offline = exports.offline as AgentModule['offline'];
  if (offline !== undefined && typeof offline?.start !== 'function') {
    throw new UsageError(`${path} exports \`offline\` without a start() function`);
  }
  const close = exports.close;
  if (close !== undefined && typeof close !== 'function') {
    throw new UsageError(`${path} exports \`close\` that is not a function (it should release what the module holds)`);
  }
  const inputSchema = exports.inputSchema;
  const notSchema = inputSchema === undefined ? undefined : notZod4(inputSchema);
  if (notSchema !== undefined) throw new UsageError(`${path} exports \`inputSchema\` that ${notSchema}`);
  const runtime = moduleRuntime(path, exports.runtime);
  const agents = [...new Set([fallback, ...(listed ?? [])])];
  checkNames(path, agents, (agent) => (agent === exports.default ? 'the default export' : `agents[${(listed ?? []).indexOf(agent)}]`));
  return {
    path,
    agent: fallback,
    agents,
    ...(runtime ? { runtime } : {}),
    ...(inputSchema ? { inputSchema: inputSchema as ZodType<ServeInput> } : {}),
    ...(typeof exports.input === 'string' ? { input: exports.input } : {}),
    ...(offline ? { offline } : {}),
    ...(close ? { close: async () => void (await (close as () => unknown)()) } : {}),
  };
}
