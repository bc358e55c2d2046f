/**
 * The `tracebound` command. Each subcommand lives in its own file and is added here by its
 * `register*` function, so `main` stays a list of commands and the exit-code policy.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerDiff } from './diff.js';
import { registerReplay } from './replay.js';
import { registerRun } from './run.js';
import { registerServe } from './serve.js';
import { maskSecrets } from '../secrets.js';
import { registerShow } from './show.js';
import { registerView } from './view.js';
import { colorEnabled, type CliContext, type CliIo } from './io.js';

function processIo(): CliIo {
  // A reader that goes away (`tracebound run ... | head`) must not crash the run before its
  // spans are flushed: output stops, the run and the trace file go on.
  let stdoutClosed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    stdoutClosed = true;
  });
  return {
    stdout: (text) => {
      if (!stdoutClosed) process.stdout.write(text);
    },
    stderr: (text) => process.stderr.write(text),
    color: colorEnabled(process.env, process.stdout.isTTY === true),
  };
}

/** The package version; package.json is two levels up from both src/cli and dist/cli. */
function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

/**
 * The commander program with every subcommand registered. Usage errors throw `CommanderError`
 * (`exitOverride`) instead of exiting the process, so {@link main} decides the exit code.
 */
export function createProgram(context: CliContext): Command {
  // Set before registering: subcommands made with `.command()` inherit these settings.
  const program = new Command('tracebound')
    .description('Observability-first runtime for LLM agents.')
    .version(packageVersion())
    .exitOverride()
    .configureOutput({ writeOut: (text) => context.stdout(text), writeErr: (text) => context.stderr(text) })
    .showHelpAfterError('(run `tracebound --help` for usage)');
  registerRun(program, context);
  registerShow(program, context);
  registerReplay(program, context);
  registerServe(program, context);
  registerView(program, context);
  registerDiff(program, context);
  return program;
}

/**
 * Runs the CLI.
 *
 * @param argv the arguments after the executable and script, e.g. `['show', 'traces.jsonl']`
 * @param io where to write; the process's stdout and stderr by default. Known API keys are masked
 *   in everything written (a provider may echo one in an error the CLI prints).
 * @returns the exit code: 0 ok (also `--help`, `--version`), 1 run failed, diverged, a `diff` rule broken, or an unexpected
 *   error, 2 bad usage (unknown command, missing argument) or bad input
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const context: CliContext = {
    stdout: (text) => io.stdout(maskSecrets(text)),
    stderr: (text) => io.stderr(maskSecrets(text)),
    color: io.color,
    exitCode: 0,
  };
  try {
    await createProgram(context).parseAsync(argv, { from: 'user' });
    return context.exitCode;
  } catch (error) {
    // Commander has already printed its message; it exits 1 on usage errors, the contract says 2.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    context.stderr(`tracebound: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

const entry = process.argv[1];
if (entry !== undefined && existsSync(entry) && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
