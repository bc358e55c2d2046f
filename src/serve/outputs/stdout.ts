/** The stdout output: one JSON line per outcome, for log shippers and pipes. */
import { outcomeJson } from '../serve.js';
import type { Output } from '../types.js';

/** What `stdoutOutput()` takes. */
export interface StdoutOutputOptions {
  /** Where lines go. Default `process.stdout`. */
  stream?: { write(text: string): unknown };
}

/**
 * Makes the stdout output: each outcome as `{ id, source, ok, result | error }` on one line
 * (the result without the conversation; see `outcomeJson`).
 */
export function stdoutOutput(options: StdoutOutputOptions = {}): Output {
  const stream = options.stream ?? process.stdout;
  return {
    name: 'stdout',
    async deliver(outcome) {
      stream.write(`${JSON.stringify(outcomeJson(outcome))}\n`);
    },
  };
}
