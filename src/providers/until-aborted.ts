import { abortable } from '../abort.js';

/**
 * Iterates `source` until `signal` aborts, then throws the signal's reason. Needed because an
 * SDK's event iterator does not always notice an abort (`@anthropic-ai/sdk`'s, with the rest of
 * the body already buffered, goes on yielding events and can then wait forever for a next one).
 */
export async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    while (true) {
      signal?.throwIfAborted();
      const next = await abortable(iterator.next(), signal);
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    // Stops the SDK's request when the caller stops early or the signal aborted.
    iterator.return?.()?.catch(() => undefined);
  }
}
