/**
 * `tracebound view`'s server: follows a trace file into a {@link RunIndex} and serves the UI and
 * its API on a `node:http` server through Hono's Node adapter (loaded on start, as serve does).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTraceLines, TraceFileError } from '../traces/trace-file.js';
import { RunIndex } from './run-index.js';
import { followTraceFile, type TraceFollower } from './trace-follower.js';

/** What {@link startViewer} takes. */
export interface ViewerOptions {
  /** The trace file to follow (OTLP/JSON lines); it may not exist yet. Without one, only OTLP feeds the viewer. */
  file?: string;
  /** TCP port; 0 picks a free one. Default 4040. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`: traces hold prompts and outputs. */
  host?: string;
  /** How often the file is checked for new lines, in ms. Default 250. */
  pollMs?: number;
  /** Largest OTLP/HTTP request body, in bytes. Default 64 MiB. */
  maxBodyBytes?: number;
}

/** A running viewer. */
export interface Viewer {
  /** `http://host:port/`. */
  readonly url: string;
  readonly index: RunIndex;
  /** Resolves once the file as it was at start has been indexed. */
  readonly ready: Promise<void>;
  /** Reads what was appended to the file now instead of at the next poll. */
  poll(): Promise<void>;
  /** Stops following and closes the server and its connections. */
  close(): Promise<void>;
}

/** Host names that always reach the viewer (IP addresses do too). */
const LOCAL_NAMES = ['localhost'];

/**
 * Starts the viewer.
 *
 * @throws {Error} from `listen` (`EADDRINUSE`, `EACCES`) when the port cannot be had
 */
export async function startViewer(options: ViewerOptions = {}): Promise<Viewer> {
  const host = options.host ?? '127.0.0.1';
  const index = new RunIndex();
  const [{ getRequestListener }, { viewerApp }] = await Promise.all([import('@hono/node-server'), import('./app.js')]);
  const app = viewerApp({
    index,
    file: options.file,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
    allowedHosts: new Set([...LOCAL_NAMES, host.toLowerCase()]),
  });
  const server: Server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4040, host, () => resolve());
  });

  let follower: TraceFollower | undefined;
  const file = options.file;
  if (file !== undefined) {
    follower = followTraceFile(
      file,
      {
        lines(lines, firstLine) {
          const spans = [];
          for (const [i, line] of lines.entries()) {
            if (line.trim() === '') continue;
            try {
              spans.push(...parseTraceLines(line, file));
            } catch (error) {
              if (!(error instanceof TraceFileError)) throw error;
              // The parser saw one line; say which line of the file it was.
              index.problem({ source: file, message: error.message.replace(`${file}: line 1:`, `${file}: line ${firstLine + i}:`) });
            }
          }
          index.add(spans, 'file');
        },
        reset: () => index.resetFile(),
        error: (error) => index.problem({ source: file, message: error.message }),
      },
      { intervalMs: options.pollMs },
    );
  }

  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/`,
    index,
    ready: follower?.ready ?? Promise.resolve(),
    poll: () => follower?.poll() ?? Promise.resolve(),
    async close() {
      await follower?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
