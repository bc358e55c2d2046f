/** `tracebound show <trace-file>`: the span tree of each run in a recorded trace file. */
import type { Command } from 'commander';
import { readTraceFile, TraceFileError } from '../traces/trace-file.js';
import type { CliContext, CliIo } from './io.js';
import { renderTraces } from '../tracing/tree.js';

/**
 * Prints the span tree of every trace in a file to stdout.
 *
 * @param file path of an OTLP/JSON lines trace file
 * @returns 0 when printed (an empty file prints a note), 2 when the file is missing, unreadable
 *   or malformed (the reason, with line and field, goes to stderr)
 */
export async function showCommand(file: string, io: CliIo): Promise<number> {
  let spans;
  try {
    spans = await readTraceFile(file);
  } catch (error) {
    if (!(error instanceof TraceFileError)) throw error;
    io.stderr(`tracebound show: ${error.message}\n`);
    return 2;
  }
  if (spans.length === 0) {
    io.stdout(`no spans in ${file}\n`);
    return 0;
  }
  io.stdout(`${renderTraces(spans, { color: io.color }).join('\n')}\n`);
  return 0;
}

/** Adds `show <trace-file>` to the program; its action sets `context.exitCode`. */
export function registerShow(program: Command, context: CliContext): void {
  program
    .command('show')
    .description('print the span tree of each run in a trace file, with tokens, cost and budget events')
    .argument('<trace-file>', 'OTLP/JSON lines trace file, e.g. .tracebound/traces.jsonl')
    .action(async (file: string) => {
      context.exitCode = await showCommand(file, context);
    });
}
