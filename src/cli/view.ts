/**
 * `tracebound view [trace-file] [--port 4040] [--host 127.0.0.1]`: the local trace viewer. Serves
 * the web UI until SIGINT/SIGTERM, following the trace file as it grows and taking OTLP/HTTP on
 * `/v1/traces`.
 */
import type { Command } from 'commander';
import { DEFAULT_TRACE_FILE } from '../telemetry/setup.js';
import { startViewer, type Viewer } from '../viewer/server.js';
import type { CliContext } from './io.js';

/** Flags of `view`. */
export interface ViewFlags {
  port: string;
  host: string;
}

/** Resolves on the first SIGINT/SIGTERM. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  });
}

/**
 * Starts the viewer on `file` and serves until `until` resolves (the first SIGINT/SIGTERM by
 * default).
 *
 * @returns 0 after a clean stop; 2 for a bad `--port` or a port that cannot be had (in use, or
 *   not allowed), with the reason on stderr
 */
export async function viewCommand(
  file: string,
  flags: ViewFlags,
  io: CliContext,
  until: (viewer: Viewer) => Promise<unknown> = stopSignal,
): Promise<number> {
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    io.stderr(`tracebound view: --port must be an integer from 0 to 65535, got "${flags.port}"\n`);
    return 2;
  }
  let viewer: Viewer;
  try {
    viewer = await startViewer({ file, port, host: flags.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw error;
    const advice = code === 'EADDRINUSE' ? 'is in use: pick another with --port (0 picks a free one)' : `cannot be used (${code}): check --host and --port`;
    io.stderr(`tracebound view: ${flags.host}:${port} ${advice}\n`);
    return 2;
  }
  await viewer.ready;
  io.stdout(`tracebound view: ${viewer.url} (following ${file}; OTLP/HTTP on ${viewer.url}v1/traces); Ctrl+C stops\n`);
  await until(viewer);
  await viewer.close();
  return 0;
}

/** Adds `view [trace-file]` to the program; its action sets `context.exitCode`. */
export function registerView(program: Command, context: CliContext): void {
  program
    .command('view')
    .description('open a local web UI on a trace file: runs, waterfalls, span details, conversations, budgets, diffs; live')
    .argument('[trace-file]', 'OTLP/JSON lines trace file to follow (it may not exist yet)', DEFAULT_TRACE_FILE)
    .option('--port <port>', 'TCP port (0 picks a free one)', '4040')
    .option('--host <host>', 'interface to listen on; traces hold prompts and outputs, so keep it local', '127.0.0.1')
    .action(async (file: string, flags: ViewFlags) => {
      context.exitCode = await viewCommand(file, flags, context);
    });
}
