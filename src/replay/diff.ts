/** Where two JSON-like values differ, as paths: the body of a divergence report. */

/** One difference between a recorded and an actual value. */
export interface ValueDifference {
  /** JSON path, e.g. `messages[3].parts[0].response`. */
  path: string;
  recorded: unknown;
  actual: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/**
 * The differences between two JSON-like values, depth first, at most `limit` of them. Objects
 * compare key by key (a key absent on one side is `undefined` there), arrays index by index.
 */
export function diffValues(recorded: unknown, actual: unknown, path = '', limit = 20): ValueDifference[] {
  const out: ValueDifference[] = [];
  const walk = (r: unknown, a: unknown, at: string): void => {
    if (out.length >= limit || Object.is(r, a)) return;
    if (Array.isArray(r) && Array.isArray(a)) {
      for (let i = 0; i < Math.max(r.length, a.length); i++) walk(r[i], a[i], join(at, i));
      return;
    }
    if (isObject(r) && isObject(a)) {
      for (const key of new Set([...Object.keys(r), ...Object.keys(a)])) walk(r[key], a[key], join(at, key));
      return;
    }
    out.push({ path: at || '(value)', recorded: r, actual: a });
  };
  walk(recorded, actual, path);
  return out;
}

/** A value for a report line: JSON, shortened in the middle past `max` characters. */
export function show(value: unknown, max = 160): string {
  const text = value === undefined ? '(absent)' : JSON.stringify(value);
  return text.length <= max ? text : `${text.slice(0, max / 2)} … ${text.slice(-max / 2)}`;
}
