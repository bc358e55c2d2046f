/**
 * `tracebound serve`'s queue and schedule flags: `--queue` makes the process one worker of a fleet
 * sharing a BullMQ queue, `--schedule` runs an input on a cron (once across the fleet with
 * `--queue`: a BullMQ job scheduler; in this process without it: croner).
 */
import { bullmqInput } from '../serve/inputs/bullmq.js';
import { scheduleInput } from '../serve/inputs/schedule.js';
import type { Input } from '../serve/types.js';
import { UsageError } from './agent-module.js';

/** The queue and schedule flags of `serve`. */
export interface QueueFlags {
  /** A BullMQ queue to take runs from. */
  queue?: string;
  /** The Redis of `--queue`. */
  redisUrl: string;
  /** A cron expression (6 fields with seconds first, or 5). */
  schedule?: string;
  /** The input of every scheduled run. */
  scheduleInput?: string;
}

/**
 * The id of the CLI's fleet schedule on its queue: every process started with the same `--queue`
 * upserts the same scheduler, so the last `--schedule` given wins.
 */
export const FLEET_SCHEDULE_ID = 'tracebound-serve';

/**
 * The inputs the flags ask for, besides HTTP.
 * @throws {UsageError} when `--schedule` and `--schedule-input` do not come together, or the cron
 *   expression is invalid.
 */
export function queueInputs(flags: QueueFlags): Input[] {
  if ((flags.schedule === undefined) !== (flags.scheduleInput === undefined)) {
    throw new UsageError('--schedule and --schedule-input go together: give both, or neither');
  }
  let local: Input | undefined;
  if (flags.schedule !== undefined) {
    // croner checks the expression (BullMQ would only when the worker starts).
    try {
      local = scheduleInput({ cron: flags.schedule, message: { input: flags.scheduleInput } });
    } catch (error) {
      throw new UsageError(`--schedule: ${(error as Error).message}`);
    }
  }
  if (flags.queue === undefined) return local ? [local] : [];
  const schedules = flags.schedule !== undefined ? [{ id: FLEET_SCHEDULE_ID, pattern: flags.schedule, payload: { input: flags.scheduleInput } }] : [];
  return [bullmqInput({ url: flags.redisUrl, queue: flags.queue, schedules })];
}
