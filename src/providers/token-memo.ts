/**
 * Caches for prompt counting. A run sends the same message objects, tools array and system prompt
 * again on every step, so what was measured of them once is kept: per object by identity, and
 * for the last string seen.
 */

/** Caches one value per object (message or tool definition) for as long as the object lives. */
export function memo<K extends object, V = number>(compute: (key: K) => V): (key: K) => V {
  const cache = new WeakMap<K, V>();
  return (key) => {
    let value = cache.get(key);
    if (value === undefined) {
      value = compute(key);
      cache.set(key, value);
    }
    return value;
  };
}

/**
 * Caches the number of the last string seen: a run's system prompt is the same string on every
 * step, and keeping only the last one bounds the memory of a long-lived counter.
 */
export function lastString(compute: (text: string) => number): (text: string) => number {
  let last: { text: string; value: number } | undefined;
  return (text) => {
    if (last?.text !== text) last = { text, value: compute(text) };
    return last.value;
  };
}

/** The UTF-8 length of a text in bytes: no byte-level BPE token is shorter than one byte. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
