/**
 * The fleet queue input on BullMQ (https://docs.bullmq.io): a BullMQ `Worker` takes jobs from a
 * queue that several processes share; BullMQ's locks, lock renewal and stalled-job check hand a
 * dead worker's job to another worker, which resumes the job's run from its checkpoint. Fleet
 * schedules are BullMQ job schedulers, so a cron tick runs once across the fleet.
 *
 * bullmq is loaded by `start()`, not with tracebound.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { context as otelContext, type Context } from '@opentelemetry/api';
import type { ConnectionOptions, Job, JobSchedulerJson, Queue, Worker } from 'bullmq';
import { resultJson, Tracker } from '../serve.js';
import { extractTraceContext, injectTraceContext } from '../trace-context.js';
import { ServerBusyError, type Dispatcher, type InboundMessage, type Input, type RunOutcome } from '../types.js';

/**
 * A job's data: the run's payload (validated by `serve`'s input schema, e.g. `{ input,
 * conversationId? }`), its `runId` (the job id too), the name of the served agent to run (the
 * server's default agent when absent) and the producer's trace context as a W3C carrier
 * (`{ traceparent, tracestate? }`), which the run continues.
 */
export interface RunJobData {
  [field: string]: unknown;
  runId?: string;
  agent?: string;
  traceContext?: Record<string, string>;
}

/**
 * A completed job's return value: the run's result summary as the HTTP reply has it (`runId`,
 * `output`, `stopReason`, `usage`, `costUsd`, `steps`, `toolCalls`, `traceId`, `interruptions`, `guardrail`:
 * see `resultJson`).
 */
export type RunJobResult = ReturnType<typeof resultJson>;

/**
 * What a failed job's `failedReason` holds, as JSON: the outcome's error type (`error.type`, e.g.
 * `RunAbortedError`, `invalid_input`, `agent_not_found`), its message with known secrets masked, the run's stop reason, and
 * for invalid input the field.
 */
export interface RunJobFailure {
  type: string;
  message: string;
  stopReason?: string;
  field?: string;
}

/** One fleet schedule: a BullMQ job scheduler whose every tick is one run, on one worker of the fleet. */
export interface FleetSchedule {
  /** The scheduler's id, shared by the fleet: every worker upserts the same scheduler. */
  id: string;
  /** A cron pattern (cron-parser syntax: 5 fields, or 6 with seconds first). */
  pattern: string;
  /** The payload of every tick, e.g. `{ input: 'Summarize the day.' }`. */
  payload: Record<string, unknown>;
  /** IANA time zone the pattern is read in. Default: the local one of the process computing the next tick (set it when the fleet's differ). */
  timezone?: string;
}

/** Options of {@link bullmqInput}. Durations in ms. */
export interface BullmqInputOptions {
  /** The BullMQ queue to take jobs from (producers add to it: see {@link enqueueRun}). */
  queue: string;
  /** Where Redis listens, e.g. `redis://host:6379/0`. Default `redis://127.0.0.1:6379`. Ignored with `connection`. */
  url?: string;
  /** BullMQ's connection: ioredis options, or an ioredis instance (with `maxRetriesPerRequest: null`). */
  connection?: ConnectionOptions;
  /** BullMQ's key prefix. Default BullMQ's (`bull`). */
  prefix?: string;
  /**
   * Most jobs this worker runs at once. Default: the server's concurrency, so the worker takes no
   * job the server would make wait (it stays in Redis for an idle worker instead).
   * @throws {RangeError} from `start()` when larger than the server's concurrency.
   */
  concurrency?: number;
  /**
   * How long a job's lock lasts without renewal (renewed every half of it while the run goes on).
   * A dead worker's job is handed to another within about `lockDurationMs + stalledIntervalMs`.
   * Default 15,000 (the runtime's default run lease: by the time the job moves, the run's lease has
   * lapsed too).
   */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (locks that lapsed). Default 5,000. */
  stalledIntervalMs?: number;
  /** How many times a job may stall (its worker died) before it fails. Default 3. */
  maxStalledCount?: number;
  /**
   * When a job's run is still held by a live lease (the dead worker's lease has not lapsed yet,
   * or another process resumes it), the job waits this long and is tried again. Default 5,000.
   */
  leaseRetryMs?: number;
  /** Fleet schedules on this queue (BullMQ job schedulers), upserted by `start()`. */
  schedules?: readonly FleetSchedule[];
  /** Receives the worker's background errors (Redis down, say). Default: printed to stderr. */
  onError?: (error: unknown) => void;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/** What {@link enqueueRun} needs of a BullMQ `Queue` (so the producer side loads nothing of ours). */
export type RunQueue = Pick<Queue, 'add'>;

/**
 * Adds one run to a queue for {@link bullmqInput} workers: job id = run id, so adding the same
 * run id twice adds one job (BullMQ ignores a duplicate id while the job exists).
 * @param payload the run's payload, e.g. `{ input: 'Weather in Oslo?', conversationId? }`.
 * @param options.runId the run's id (a UUID when absent); no `:` and not an integer (BullMQ's job id rules).
 * @param options.agent the served agent to run, by name. Default: the server's default agent.
 * @param options.context the trace context the run continues. Default: the active context.
 * @returns the run id.
 * @throws BullMQ's error when Redis cannot be reached or the id is not a valid job id.
 */
export async function enqueueRun(
  queue: RunQueue,
  payload: Record<string, unknown>,
  options: { runId?: string; agent?: string; context?: Context } = {},
): Promise<string> {
  const runId = options.runId ?? globalThis.crypto.randomUUID();
  const traceContext = injectTraceContext(options.context ?? otelContext.active());
  const data: RunJobData = { ...payload, runId, ...(options.agent ? { agent: options.agent } : {}), ...(traceContext.traceparent ? { traceContext } : {}) };
  await queue.add('run', data, { jobId: runId });
  return runId;
}

/**
 * An input that runs the jobs of a BullMQ queue shared by a fleet of workers; each job is one run
 * whose id is the job id.
 *
 * - A job's `data` without `agent` and `traceContext`, its `runId` set to the job id, is the
 *   message payload (validated by the server: a custom `inputSchema` keeps `runId`); `agent` names
 *   the served agent to run (an unknown one fails the job: `agent_not_found`); `traceContext` (a
 *   W3C carrier) is the run's parent context. The message id is the job id; its source is `queue`, or
 *   `schedule` for a tick of a {@link FleetSchedule}.
 * - A job taken before (BullMQ's stalled check gave it back after its worker died, or it was
 *   delayed) whose run the runtime's store has is resumed from its checkpoint through the
 *   dispatcher's `resume` (`runtime.resume`): tools that completed before the checkpoint do not
 *   run again; a completed run answers with its result. A run held by a live lease (the dead
 *   worker's, not lapsed yet, or another process's) is tried again after `leaseRetryMs`: the job is
 *   delayed, not failed.
 * - The job's return value is {@link RunJobResult} (a run waiting for approvals completes its job
 *   with `stopReason: 'interrupted'` and its `interruptions`). A failed run fails the job, its
 *   `failedReason` the JSON of {@link RunJobFailure} (masked as every serve output is); invalid
 *   input and an unknown agent fail it without retries (BullMQ's `UnrecoverableError`).
 * - A job the server is too busy for is delayed by the server's `retryAfterSeconds`.
 *
 * `start()` upserts the `schedules` that are new or changed (the fleet shares each by id; a
 * scheduler already stored with the same pattern, time zone and payload is left alone; they outlive the
 * worker: remove one with `queue.removeJobScheduler(id)`), then waits for Redis (each failed
 * connection goes to `onError`). `stop(deadline)` stops taking jobs and waits for those in flight:
 * the server ends its runs by the drain deadline, and a run aborted by it puts its job back in the
 * queue at once, for another worker to resume. Jobs still unsettled shortly after `deadline`
 * aborts are left to stall (the worker is closed with force): their locks lapse and another
 * worker resumes them.
 * @throws {RangeError} when a duration or count is not a positive integer.
 */
export function bullmqInput(options: BullmqInputOptions): Input {
  const lockDuration = positive('lockDurationMs', options.lockDurationMs ?? 15_000);
  const stalledInterval = positive('stalledIntervalMs', options.stalledIntervalMs ?? 5_000);
  const maxStalledCount = positive('maxStalledCount', options.maxStalledCount ?? 3);
  const leaseRetryMs = positive('leaseRetryMs', options.leaseRetryMs ?? 5_000);
  if (options.concurrency !== undefined) positive('concurrency', options.concurrency);
  const connection = options.connection ?? { url: options.url ?? DEFAULT_URL };
  const onError = options.onError ?? ((error: unknown) => console.error(`tracebound bullmq ${options.queue}:`, error));
  let worker: Worker<RunJobData, RunJobResult> | undefined;
  let stopping = false;
  const jobs = new Tracker();

  return {
    name: 'bullmq',

    async start(dispatcher: Dispatcher): Promise<void> {
      if (worker) throw new Error('bullmqInput: already started');
      const concurrency = options.concurrency ?? dispatcher.concurrency ?? 1;
      if (dispatcher.concurrency !== undefined && concurrency > dispatcher.concurrency) {
        throw new RangeError(`bullmqInput: concurrency ${concurrency} is above the server's ${dispatcher.concurrency}: the extra jobs would wait in this process instead of in Redis`);
      }
      const bullmq = await import('bullmq');
      const shared = { connection, ...(options.prefix ? { prefix: options.prefix } : {}) };
      if (options.schedules?.length) {
        const queue = new bullmq.Queue(options.queue, shared);
        try {
          for (const s of options.schedules) {
            // A fleet's workers all name the same schedulers. Upserting a live one races the worker
            // running its tick (BullMQ 6.7 can re-add a tick that just completed, so it runs twice:
            // taskforcesh/bullmq#2876), so a worker only writes a scheduler that is new or changed.
            if (sameSchedule(await queue.getJobScheduler(s.id), s)) continue;
            await queue.upsertJobScheduler(s.id, { pattern: s.pattern, ...(s.timezone ? { tz: s.timezone } : {}) }, { name: 'run', data: s.payload });
          }
        } finally {
          await queue.close();
        }
      }

      /** Moves the job back to the queue, to be taken again in `ms` (0: at once), without counting an attempt. */
      const later = async (job: Job, token: string | undefined, ms: number): Promise<never> => {
        if (ms <= 0) {
          await job.moveToWait(token);
          throw new bullmq.WaitingError();
        }
        await job.moveToDelayed(Date.now() + ms, token);
        throw new bullmq.DelayedError();
      };

      const run = async (job: Job<RunJobData, RunJobResult>, token?: string): Promise<RunJobResult> => {
        const runId = job.id as string;
        const { traceContext, agent, ...data } = job.data ?? {};
        // The job id is the run id, a scheduler's ticks (whose data has none) included.
        const message: InboundMessage = { id: runId, payload: { ...data, runId }, source: job.repeatJobKey ? 'schedule' : 'queue' };
        if (typeof agent === 'string') message.agent = agent;
        const parentContext = traceContext ? extractTraceContext(traceContext) : undefined;
        if (parentContext) message.parentContext = parentContext;
        // Only a job taken before can have a run in the store: a fresh job costs no store read.
        const resume = job.attemptsStarted > 1 && (await dispatcher.runtime?.runs.get(runId)) !== undefined ? dispatcher.resume : undefined;
        let outcome: RunOutcome;
        try {
          outcome = resume ? await resume(message, runId) : await dispatcher.dispatch(message);
        } catch (error) {
          if (error instanceof ServerBusyError) return later(job, token, stopping ? 0 : error.retryAfterSeconds * 1_000);
          throw error;
        }
        if (outcome.ok) return resultJson(outcome.result);
        const { type, message: text, stopReason, field } = outcome.error;
        const failure: RunJobFailure = { type, message: text, ...(stopReason ? { stopReason } : {}), ...(field ? { field } : {}) };
        if (failure.type === 'RunInProgressError') return later(job, token, leaseRetryMs);
        // The drain deadline aborted the run: the job is not done; another worker resumes it.
        if (stopping && failure.stopReason === 'aborted') return later(job, token, 0);
        const reason = JSON.stringify(failure);
        // Input that cannot run (invalid, or for an agent not served) fails without retries.
        const unrunnable = failure.field !== undefined || failure.type === 'agent_not_found';
        throw unrunnable ? new bullmq.UnrecoverableError(reason) : Object.assign(new Error(reason), { name: failure.type });
      };

      const process = (job: Job<RunJobData, RunJobResult>, token?: string) => jobs.track(run(job, token));
      worker = new bullmq.Worker<RunJobData, RunJobResult>(options.queue, process, {
        ...shared,
        concurrency,
        lockDuration,
        stalledInterval,
        maxStalledCount,
      });
      worker.on('error', onError);
      await worker.waitUntilReady();
    },

    async stop(deadline?: AbortSignal): Promise<void> {
      if (!worker || stopping) return;
      stopping = true;
      // No new jobs; the ones in flight go on.
      await worker.pause(true);
      const settled = await Promise.race([jobs.whenIdle().then(() => true), passed(deadline).then(() => delay(HANDBACK_GRACE_MS)).then(() => false)]);
      // Settled: a plain close waits for BullMQ's last completion writes. Not settled: force, so
      // the jobs left stall (their locks lapse) to another worker, which resumes their runs.
      await worker.close(!settled);
    },
  };
}

/**
 * How long `stop()` still waits for its jobs once the drain deadline passed: the server aborts its
 * runs then, and an aborted run's job is handed back with one Redis call (a busy Redis or event
 * loop may delay that a little).
 */
const HANDBACK_GRACE_MS = 1_000;

/** Resolves when `signal` aborts; never without one. */
/** Whether a stored scheduler already has `schedule`'s pattern, time zone and payload (as JSON stores it). */
function sameSchedule(stored: JobSchedulerJson | undefined, schedule: FleetSchedule): boolean {
  return (
    stored !== undefined &&
    stored.pattern === schedule.pattern &&
    stored.tz === schedule.timezone &&
    isDeepStrictEqual(stored.template?.data, JSON.parse(JSON.stringify(schedule.payload)))
  );
}

function passed(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`bullmqInput: ${name} must be a positive integer, got ${value}`);
  return value;
}
