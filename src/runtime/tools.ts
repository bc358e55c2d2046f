import { abortable, NEVER_ABORTED } from '../abort.js';
import { errorType } from '../errors.js';
import type { ToolCall } from '../messages.js';
import type { SubAgent, SubRunResult, Tool, ToolContext } from '../tool.js';

/** What a tool call gave: the text sent back to the model, and whether it failed. */
export interface ToolOutcome {
  /** The result (strings as is, other values as JSON) or, on failure, what went wrong. */
  content: string;
  isError: boolean;
  /** On failure: `invalid_arguments`, `unknown_tool`, `timeout`, `aborted` or the error's type. */
  errorType?: string;
  /** The thrown error, when there was one. */
  error?: unknown;
  /** What the call cost in USD (the tool's `costUsd`); absent for a tool without a price or a call that never ran. */
  costUsd?: number;
}

/**
 * Throw from a tool's `execute` to send exactly `content` back to the model as the error result
 * (other errors are sent as `Error: <message>`).
 */
export class ToolError extends Error {
  override readonly name = 'ToolError';
  constructor(readonly content: string) {
    super(content);
  }
}

class ToolTimeoutError extends Error {
  override readonly name = 'ToolTimeoutError';
  readonly kind = 'timeout';
}

function stringify(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return JSON.stringify(value);
}

/** A succeeded call's price: the fixed one, or the function's answer when it is a finite number >= 0 (else 0). */
function priceOf(tool: Tool, args: unknown, result: unknown): number {
  const cost = tool.costUsd;
  if (typeof cost === 'number') return cost;
  if (cost === undefined) return 0;
  let usd: unknown;
  try {
    usd = cost(args, result);
  } catch {
    usd = 0;
  }
  return typeof usd === 'number' && Number.isFinite(usd) && usd >= 0 ? usd : 0;
}

/** A failed call's outcome: `content` goes back to the model as the error result. */
export function toolFailure(type: string, content: string, error?: unknown): ToolOutcome {
  return { content, isError: true, errorType: type, error };
}

/** Starts a sub-run for a tool call (see `ToolContext.runAgent`), stopped by `signal`. */
export type SubRunner = (agent: SubAgent, input: string, signal: AbortSignal, toolCallId: string) => Promise<SubRunResult>;

/**
 * Runs one tool call: validates the arguments with the tool's zod schema, enforces its
 * `timeoutMs` (the tool's signal fires, and the call fails), and never throws: every failure
 * becomes an error result for the model.
 */
export async function executeTool(
  tool: Tool | undefined,
  call: ToolCall,
  signal: AbortSignal | undefined,
  available: readonly string[],
  subRun?: SubRunner,
): Promise<ToolOutcome> {
  if (!tool) {
    return toolFailure('unknown_tool', `Unknown tool "${call.name}". Available tools: ${available.join(', ') || 'none'}.`);
  }
  const parsed = tool.parameters.safeParse(call.arguments);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ');
    return toolFailure('invalid_arguments', `Invalid arguments for tool "${call.name}": ${problems}. Call it again with valid arguments.`);
  }
  const timeout = tool.timeoutMs === undefined ? undefined : new AbortController();
  // Without a run signal or a timeout there is nothing to race: no listener is added.
  const toolSignal = timeout ? (signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal) : signal;
  let ran = false;
  const timer = timeout
    ? setTimeout(() => timeout.abort(new ToolTimeoutError(`tool "${call.name}" timed out after ${tool.timeoutMs} ms`)), tool.timeoutMs)
    : undefined;
  try {
    // Raced against the signal, not trusted to honour it: a tool that ignores its signal must not
    // hold the run past its deadline, and what it returns after the race is dropped. The race
    // rejects inside the abort itself, so a tool that settles on abort never wins it.
    ran = true;
    const context: ToolContext = { signal: toolSignal ?? NEVER_ABORTED, toolCallId: call.id };
    if (subRun) context.runAgent = (agent, input) => subRun(agent, input, context.signal, call.id);
    const execution = tool.execute(parsed.data, context);
    const result = await abortable(Promise.resolve(execution), toolSignal);
    const outcome: ToolOutcome = { content: stringify(result), isError: false };
    if (tool.costUsd !== undefined) outcome.costUsd = priceOf(tool, parsed.data, result);
    return outcome;
  } catch (error) {
    // The run's own stop (`timeout` or `aborted`, see loop.ts) wins over what the tool threw.
    const type = errorType(signal?.aborted ? signal.reason : error);
    const content = error instanceof ToolError ? error.content : `Error: ${error instanceof Error ? error.message : String(error)}`;
    const outcome = toolFailure(type, content, error);
    // A fixed price is owed once the tool ran (the fee is paid whether or not it threw).
    if (ran && typeof tool.costUsd === 'number') outcome.costUsd = tool.costUsd;
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
