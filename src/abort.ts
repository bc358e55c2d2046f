import { setMaxListeners } from 'node:events';

/**
 * Settles as `work` does, or rejects with `signal.reason` as soon as `signal` aborts, whichever
 * comes first. For work that may ignore its signal (a user's tool, a custom model, an SDK's event
 * iterator): the caller stops waiting on time, and the abandoned work's late result or error goes
 * nowhere (it is observed here, so a late rejection is never unhandled).
 *
 * Adds no timer; the abort listener is removed once `work` settles.
 * @param signal none: waits for `work` alone.
 * @throws `signal.reason` when the signal aborts first (at once when it already has).
 */
export function abortable<T>(work: PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return Promise.resolve(work);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * A signal that never aborts, for calls that take a signal when nothing can abort their run (one
 * controller per run would cost every run an EventTarget). Concurrent calls add and remove their
 * listeners on it, so Node's leak warning (11 at once) would be a false alarm: the limit is off.
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;
setMaxListeners(0, NEVER_ABORTED);
