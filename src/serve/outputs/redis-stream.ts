/**
 * A Redis stream output: every outcome is added to a stream as one JSON field, for consumers that
 * read results with XRANGE / XREAD (or a consumer group of their own). It outlived the Redis
 * Streams queue input: it collects the outcomes of every input (HTTP, schedules, the BullMQ queue,
 * whose jobs also keep their own results) in one stream.
 */
import type { Redis } from 'ioredis';
import pRetry from 'p-retry';
import { ioredis } from '../../state/ioredis.js';
import { outcomeJson } from '../serve.js';
import type { Output, RunOutcome } from '../types.js';

/** Options of {@link redisStreamOutput}. */
export interface RedisStreamOutputOptions {
  /** Where Redis listens, e.g. `redis://host:6379/0`. Default `redis://127.0.0.1:6379`. Ignored with `client`. */
  url?: string;
  /** A client of the caller's, used as is and left open by `stop()`. */
  client?: Redis;
  /** The stream outcomes are added to. */
  stream: string;
  /** Approximate most entries kept (`XADD ... MAXLEN ~`): older ones are trimmed. Default 10,000. */
  maxLen?: number;
  /** Tries per outcome before it is given up (reported to `onError`). Default 3, 100 ms apart then doubling. */
  attempts?: number;
  /** Receives an outcome's error once its tries are used up. Default: printed to stderr. */
  onError?: (error: unknown, outcome: RunOutcome) => void;
}

/**
 * An output that adds each outcome to a Redis stream, its `outcome` field holding the JSON the
 * other outputs send ({@link outcomeJson}: `{ id, source, ok, result }` or `{ id, source, ok,
 * error }`), trimming the stream to about `maxLen` entries.
 *
 * `deliver()` never rejects: a failed `XADD` (Redis down, the key not a stream) is tried again
 * `attempts` times in all, then passed to `onError`. An outcome whose reply was lost may be added
 * twice. `stop()` closes the output's own connection.
 */
export function redisStreamOutput(options: RedisStreamOutputOptions): Output {
  const maxLen = options.maxLen ?? 10_000;
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(maxLen) || maxLen <= 0) throw new RangeError(`redisStreamOutput: maxLen must be a positive integer, got ${maxLen}`);
  if (!Number.isInteger(attempts) || attempts <= 0) throw new RangeError(`redisStreamOutput: attempts must be a positive integer, got ${attempts}`);
  const onError =
    options.onError ?? ((error: unknown, outcome: RunOutcome) => console.error(`tracebound redis-stream ${options.stream}: outcome of ${outcome.message.id} lost:`, error));
  const owned = options.client === undefined;
  const client = options.client ?? new (ioredis().Redis)(options.url ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  // Failures reach onError through the XADDs that fail; ioredis would also log each one.
  if (owned) client.on('error', () => undefined);

  return {
    name: 'redis-stream',

    async deliver(outcome: RunOutcome): Promise<void> {
      const json = JSON.stringify(outcomeJson(outcome));
      try {
        await pRetry(() => client.xadd(options.stream, 'MAXLEN', '~', maxLen, '*', 'outcome', json), { retries: attempts - 1, minTimeout: 100, factor: 2 });
      } catch (error) {
        onError(error, outcome);
      }
    },

    async stop(): Promise<void> {
      if (!owned) return;
      // A lazy client that never connected would connect just to quit.
      if (client.status === 'wait') return client.disconnect();
      await client.quit().catch(() => client.disconnect());
    },
  };
}
