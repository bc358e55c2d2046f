/** Reading the viewer's JSON API, and the live version that tells views to read again. */
import { useEffect, useState } from 'preact/hooks';

/** GETs a JSON document from the viewer. @throws {Error} with the server's message on a non-2xx answer. */
export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    throw new Error(body?.error?.message ?? `${path}: HTTP ${response.status}`);
  }
  return (await response.json()) as T;
}

let liveVersion = 0;
/** Trace id -> the live version at which it last changed. */
const traceVersions = new Map<string, number>();
const watchers = new Set<() => void>();

/**
 * Follows `/api/events`: each `change` names the index's version and the traces that changed;
 * views read again when what they show moved.
 */
export function startLiveUpdates(): void {
  const source = new EventSource('/api/events');
  source.addEventListener('change', (event) => {
    const change = JSON.parse((event as MessageEvent<string>).data) as { version: number; traces: string[] };
    liveVersion = change.version;
    for (const traceId of change.traces) traceVersions.set(traceId, change.version);
    for (const watcher of watchers) watcher();
  });
}

/**
 * The index's latest version, or, given a trace id, the version at which that trace last changed:
 * a component using it renders again when it moves (a run's page ignores other runs' spans).
 */
export function useLiveVersion(traceId?: string): number {
  const current = () => (traceId === undefined ? liveVersion : (traceVersions.get(traceId) ?? 0));
  const [version, setVersion] = useState(current);
  useEffect(() => {
    const watcher = () => setVersion(current());
    watchers.add(watcher);
    watcher();
    return () => void watchers.delete(watcher);
  }, [traceId]);
  return version;
}

/** The state of a fetch: its data, or its error, or neither while loading. */
export interface Loaded<T> {
  data?: T;
  error?: string;
}

/**
 * Fetches `path` (again whenever it or one of `deps` changes); keeps showing the previous data
 * while the next answer is on its way, so live updates do not flicker.
 */
export function useJson<T>(path: string | undefined, deps: unknown[] = []): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({});
  useEffect(() => {
    if (path === undefined) return;
    let current = true;
    getJson<T>(path).then(
      (data) => current && setState({ data }),
      (error: Error) => current && setState({ error: error.message }),
    );
    return () => {
      current = false;
    };
  }, [path, ...deps]);
  return state;
}
