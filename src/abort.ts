import { setMaxListeners } from 'node:events';

type Lose = (reason: unknown) => void;

/** The races waiting on one signal, and the one `abort` listener that makes them all lose. */
interface Races {
  waiting: Set<Lose>;
  onAbort: () => void;
}

/**
 * The races of each signal: adding and removing an EventTarget listener per call cost a run more
 * than the calls' own bookkeeping (a run races every model and tool call on its signal), so a
 * signal gets one listener, on its first race.
 */
const racing = new WeakMap<AbortSignal, Races>();

function racesOn(signal: AbortSignal): Set<Lose> {
  let races = racing.get(signal);
  if (!races) {
    const waiting = new Set<Lose>();
    const onAbort = () => {
      for (const lose of waiting) lose(signal.reason);
      waiting.clear();
    };
    races = { waiting, onAbort };
    racing.set(signal, races);
    signal.addEventListener('abort', onAbort, { once: true });
  }
  return races.waiting;
}

/**
 * Settles as `work` does, or rejects with `signal.reason` as soon as `signal` aborts, whichever
 * comes first. For work that may ignore its signal (a user's tool, a custom model, an SDK's event
 * iterator): the caller stops waiting on time, and the abandoned work's late result or error goes
 * nowhere (it is observed here, so a late rejection is never unhandled).
 *
 * Adds no timer. A signal gets one `abort` listener for all its races (see {@link endRaces}).
 * @param signal none: waits for `work` alone.
 * @throws `signal.reason` when the signal aborts first (at once when it already has).
 */
export function abortable<T>(work: PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return Promise.resolve(work);
  return new Promise<T>((resolve, reject) => {
    const races = signal.aborted ? undefined : racesOn(signal);
    if (races) races.add(reject);
    else reject(signal.reason);
    work.then(
      (value) => {
        races?.delete(reject);
        resolve(value);
      },
      (error: unknown) => {
        races?.delete(reject);
        reject(error);
      },
    );
  });
}

/**
 * Removes the listener {@link abortable} added to `signal`, once nothing races on it any more (a
 * run's signal when the run ends): a signal an SDK also listens to then holds only the SDK's.
 */
export function endRaces(signal: AbortSignal): void {
  const races = racing.get(signal);
  if (!races) return;
  racing.delete(signal);
  signal.removeEventListener('abort', races.onAbort);
}

/**
 * A signal that never aborts, for calls that take a signal when nothing can abort their run (one
 * controller per run would cost every run an EventTarget). Its races share one listener, and
 * the calls an SDK makes with it add theirs, so Node's leak warning (11 at once) would be a false
 * alarm: the limit is off.
 */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;
setMaxListeners(0, NEVER_ABORTED);
