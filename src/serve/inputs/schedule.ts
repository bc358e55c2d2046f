/** The schedule input: a cron expression (via croner) whose every tick runs one message. */
import { Cron } from 'croner';
import type { Dispatcher, Input } from '../types.js';

/** What `scheduleInput()` takes. */
export interface ScheduleInputOptions {
  /**
   * A cron expression: 5 fields (minute precision) or 6 with seconds first
   * (`* * * * * *` is every second). Checked by `scheduleInput()`.
   */
  cron: string;
  /** The payload of every tick (e.g. `{ input: 'Summarize the day.' }`), or a function of the tick's time. */
  message: unknown | ((tick: Date) => unknown);
  /** IANA time zone the expression is read in. Default: the process's. */
  timezone?: string;
  /** Names the input's messages (`<name>:<tick ISO time>`). Default `schedule`. */
  name?: string;
  /**
   * Told when a tick could not be dispatched (the backlog was full, or the server is stopping);
   * the tick is skipped, not queued. Default: one line on stderr.
   */
  onSkip?: (error: unknown, tick: Date) => void;
}

function logSkip(error: unknown, tick: Date): void {
  process.stderr.write(`tracebound serve: schedule tick ${tick.toISOString()} skipped: ${(error as Error).message}\n`);
}

/**
 * The time a tick was due: croner reports when it fired (a few ms late), and the id should name
 * the slot, so every worker that sees the same tick names it the same.
 */
function scheduledTime(job: Cron): Date {
  const fired = job.currentRun() ?? new Date();
  return job.previousRuns(1, new Date(fired.getTime() + 1))[0] ?? fired;
}

/**
 * Makes a schedule input. Ticks do not wait for each other's runs: a slow run does not delay the
 * next tick (the server's concurrency limit bounds them).
 * @throws {TypeError} from croner when `cron` is not a valid expression.
 */
export function scheduleInput(options: ScheduleInputOptions): Input {
  const name = options.name ?? 'schedule';
  // Paused until start(): creating it parses (and so checks) the expression, and starts nothing.
  new Cron(options.cron, { paused: true, timezone: options.timezone }).stop();
  let job: Cron | undefined;

  const tick = (dispatcher: Dispatcher, at: Date) => {
    const payload = typeof options.message === 'function' ? (options.message as (tick: Date) => unknown)(at) : options.message;
    dispatcher.dispatch({ id: `${name}:${at.toISOString()}`, payload, source: 'schedule' }).catch((error: unknown) => (options.onSkip ?? logSkip)(error, at));
  };

  return {
    name,
    async start(dispatcher) {
      job ??= new Cron(options.cron, { timezone: options.timezone }, (self: Cron) => tick(dispatcher, scheduledTime(self)));
    },
    async stop() {
      job?.stop();
      job = undefined;
    },
  };
}
