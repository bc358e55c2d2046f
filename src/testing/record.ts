/** `recordRun()`: runs an agent once and writes the run to a trace file, the fixture replay reads. */
import type { Agent } from '../agent.js';
import type { Message } from '../messages.js';
import type { RunResult } from '../runtime/events.js';
import type { RunOptions } from '../runtime/runtime.js';
import { tracedRuntime, type TracedRuntimeOptions } from '../telemetry/traced-runtime.js';

/** What `recordRun()` takes: where to write, and the runtime's other options (prices, retry, hooks...). */
export interface RecordRunOptions
  extends Omit<TracedRuntimeOptions, 'exporter' | 'traceFile' | 'tracerProvider' | 'captureContent'> {
  /** The trace file the run is appended to (created with its directory when missing). */
  traceFile: string;
  /** Options of the run itself (signal, timeout, conversation id). */
  runOptions?: RunOptions;
}

/** A recorded run. */
export interface RecordedRunResult {
  result: RunResult;
  /** The trace file the run was appended to, complete on return. */
  traceFile: string;
}

/**
 * Runs `agent` once, against whatever model it has (live, or a local or scripted one), and
 * appends the run to `traceFile` with message content captured, since replay needs the prompts,
 * answers and tool results. The runtime is shut down before returning, so the file is complete.
 *
 * @throws {RunError} when the run fails (aborted, timed out, error); what ran is still written.
 */
export async function recordRun(agent: Agent, input: string | Message[], options: RecordRunOptions): Promise<RecordedRunResult> {
  const { traceFile, runOptions, ...runtimeOptions } = options;
  const runtime = tracedRuntime({ ...runtimeOptions, exporter: 'file', traceFile, captureContent: true });
  try {
    return { result: await runtime.run(agent, input, runOptions), traceFile };
  } finally {
    await runtime.shutdown();
  }
}
