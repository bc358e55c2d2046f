/** Loading the agent module a CLI command names (`.ts` or `.js`). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Agent } from '../agent.js';

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

/**
 * What an agent module exports: the agent (default export), optionally a default `input`, and
 * optionally an `offline` setup for `--offline`, skipped when the `liveWhen` variable (an API
 * key) is set.
 */
export interface AgentModule {
  path: string;
  agent: Agent;
  input?: string;
  offline?: { liveWhen?: string; start(): Promise<OfflineSetup> };
}

function isAgent(value: unknown): value is Agent {
  const v = value as Partial<Agent> | undefined;
  return !!v && typeof v.name === 'string' && typeof v.model?.generate === 'function' && Array.isArray(v.tools);
}

/**
 * Imports an agent module; `.ts` modules go through tsx.
 * @throws {UsageError} when the file is missing, fails to load, or has no default-exported agent.
 */
export async function loadAgentModule(path: string): Promise<AgentModule> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`agent module not found: ${path}`);
  let exports: Record<string, unknown>;
  try {
    if (/\.[mc]?ts$/.test(file)) {
      const { tsImport } = await import('tsx/esm/api');
      exports = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    } else {
      exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    }
  } catch (error) {
    throw new UsageError(`could not load ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!isAgent(exports.default)) {
    throw new UsageError(`${path} has no default-exported agent: add \`export default agent({ ... })\``);
  }
  const offline = exports.offline as AgentModule['offline'];
  if (offline !== undefined && typeof offline?.start !== 'function') {
    throw new UsageError(`${path} exports \`offline\` without a start() function`);
  }
  return {
    path,
    agent: exports.default,
    ...(typeof exports.input === 'string' ? { input: exports.input } : {}),
    ...(offline ? { offline } : {}),
  };
}
