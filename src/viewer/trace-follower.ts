/**
 * Follows a trace file as it grows, like `tail -F`: reads its complete lines once, then polls
 * its size and hands over each line appended since. A line still being written (no newline yet)
 * waits for the next poll. A file that shrank or was replaced (another inode: rotated, or
 * rewritten by a new `tracebound run`) is read again from the start.
 */
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';

/** What the follower calls; each call's lines are complete and in file order. */
export interface FollowerSink {
  /**
   * Complete lines read since the last call (without their newline).
   * @param firstLine 1-based line number of `lines[0]` in the file
   */
  lines(lines: string[], firstLine: number): void;
  /** The file was truncated or replaced: forget what was read from it; its lines come again. */
  reset(): void;
  /** The file could not be read (other than not existing yet); it is tried again next poll. */
  error(error: Error): void;
}

/** What {@link followTraceFile} takes besides the path and the sink. */
export interface FollowOptions {
  /** How often to look for new lines, in ms. Default 250. */
  intervalMs?: number;
  /** Most bytes read per chunk, so a big file is indexed in steps. Default 8 MiB. */
  chunkBytes?: number;
}

/** A running follower. */
export interface TraceFollower {
  /** Resolves once the file's content at start (if any) has been handed to the sink. */
  readonly ready: Promise<void>;
  /** Reads what was appended now instead of at the next poll; resolves when it is handed over. */
  poll(): Promise<void>;
  /** Stops polling; resolves after a read in progress ends. */
  stop(): Promise<void>;
}

const NEWLINE = 0x0a;

/**
 * Starts following `path`. A file that does not exist yet is waited for.
 */
export function followTraceFile(path: string, sink: FollowerSink, options: FollowOptions = {}): TraceFollower {
  const intervalMs = options.intervalMs ?? 250;
  const chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
  let offset = 0;
  let nextLine = 1;
  let identity: { dev: number; ino: number } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const replaced = (stats: Stats): boolean =>
    identity !== undefined && (stats.ino !== identity.ino || stats.dev !== identity.dev || stats.size < offset);

  async function readNew(): Promise<void> {
    let stats: Stats;
    try {
      stats = await stat(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      sink.error(error as Error);
      return;
    }
    if (replaced(stats)) {
      offset = 0;
      nextLine = 1;
      sink.reset();
    }
    identity = { dev: stats.dev, ino: stats.ino };
    if (stats.size <= offset) return;
    const handle = await open(path, 'r');
    try {
      let carry: Buffer = Buffer.alloc(0);
      let position = offset;
      while (position < stats.size && !stopped) {
        const size = Math.min(chunkBytes, stats.size - position);
        const chunk = Buffer.allocUnsafe(size);
        const { bytesRead } = await handle.read(chunk, 0, size, position);
        if (bytesRead === 0) break;
        position += bytesRead;
        const data = carry.length > 0 ? Buffer.concat([carry, chunk.subarray(0, bytesRead)]) : chunk.subarray(0, bytesRead);
        const lastNewline = data.lastIndexOf(NEWLINE);
        if (lastNewline < 0) {
          carry = data;
          continue;
        }
        const lines: string[] = [];
        let start = 0;
        for (let end = data.indexOf(NEWLINE, start); end >= 0 && end <= lastNewline; end = data.indexOf(NEWLINE, start)) {
          const stop = end > start && data[end - 1] === 0x0d ? end - 1 : end;
          lines.push(data.toString('utf8', start, stop));
          start = end + 1;
        }
        // Only complete lines move the offset: a partial last line is read again, whole, later.
        offset = position - (data.length - (lastNewline + 1));
        carry = Buffer.from(data.subarray(lastNewline + 1));
        const firstLine = nextLine;
        nextLine += lines.length;
        sink.lines(lines, firstLine);
      }
    } catch (error) {
      sink.error(error as Error);
    } finally {
      await handle.close();
    }
  }

  const poll = (): Promise<void> => (running = running.then(readNew));

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void poll().then(schedule), intervalMs);
    timer.unref();
  };

  const ready = poll();
  void ready.then(schedule);

  return {
    ready,
    poll,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
