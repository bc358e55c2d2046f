/**
 * Makes a call give way to the run's signal: a tool or model that ignores its signal must not
 * hold a run past its deadline or its caller's abort.
 */

/**
 * Settles with `pending`, or rejects with the signal's reason as soon as it aborts, whichever
 * comes first. A result that arrives after the abort is dropped. Without a signal, `pending`
 * itself.
 */
export function abortable<T>(pending: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return pending;
  if (signal.aborted) {
    pending.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
