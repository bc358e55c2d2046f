import { z } from 'zod';
import type { CompressionStrategy } from './compress.js';

/** Rolling-window durations such as `30s`, `15m`, `1h`, `1d`. */
const WINDOW = /^(\d+)(s|m|h|d)$/;

/** Built-in context compression strategies; `refuse` stops the run with `context_overflow` instead. */
export const CONTEXT_STRATEGIES = ['drop_tool_results', 'trim', 'summarize', 'refuse'] as const;

const spendWindowSchema = () =>
  z
    .object({
      usd: z.number().positive(),
      window: z.string().regex(WINDOW, 'must be a duration such as "30s", "15m", "1h" or "1d"'),
      per: z.enum(['agent', 'tenant', 'user']).optional(),
    })
    .strict();

/** One spend window of a policy (`budget.spend`). */
export type SpendWindow = z.infer<ReturnType<typeof spendWindowSchema>>;

/** A policy's spend windows as a list (none, one or several). */
export function spendWindows(policy: { spend?: SpendWindow | readonly SpendWindow[] | undefined }): readonly SpendWindow[] {
  const spend = policy.spend;
  return spend === undefined ? [] : Array.isArray(spend) ? spend : [spend as SpendWindow];
}

/**
 * A budget policy: limits the guard checks before each model call. Every limit is optional. Units: tokens for
 * `contextTokens` and `minOutputTokens`, USD for `runCostUsd` and `spend.usd`, counts for
 * `maxSteps` and `maxToolCalls`, ms for `reservationTtlMs` and `waitForRoomMs`.
 */
const buildSchema = () => z
  .object({
    /** Most prompt tokens one model call may send (system + messages + tool schemas). */
    contextTokens: z.number().int().positive().optional(),
    /**
     * What to do when a prompt is over `contextTokens`: strategies tried in order until it fits
     * (default `['drop_tool_results', 'trim']`), built-in names or your own `{ name, compress }`;
     * `refuse` stops the run with `context_overflow`.
     */
    contextStrategy: z
      .array(
        z.union([
          z.enum(CONTEXT_STRATEGIES),
          z.custom<CompressionStrategy>(
            (v) => typeof v === 'object' && v !== null && typeof (v as CompressionStrategy).name === 'string' && typeof (v as CompressionStrategy).compress === 'function',
            `must be one of ${CONTEXT_STRATEGIES.join(', ')} or a strategy { name, compress }`,
          ),
        ]),
      )
      .nonempty()
      .optional(),
    /** Most USD one run may spend. */
    runCostUsd: z.number().positive().optional(),
    /**
     * Most USD spent in a rolling window, shared through the budget store: one window or a list,
     * each `per` the agent (default), the run's `tenant` or its `user` (run options). Every window
     * must have room for a call; a run with a `per: 'tenant'` (`'user'`) window and no `tenant`
     * (`user`) fails with `BudgetConfigError` before its first call.
     */
    spend: z.union([spendWindowSchema(), z.array(spendWindowSchema()).nonempty()]).optional(),
    maxSteps: z.number().int().positive().optional(),
    maxToolCalls: z.number().int().nonnegative().optional(),
    /**
     * At a limit: `stop` ends the run there; `finish` lets the model answer once more without tools
     * (stop reason `graceful_limit`).
     */
    onLimit: z.enum(['stop', 'finish']).optional(),
    /** Fewest output tokens worth a call; when less fits the budget, the run stops. Default 256. */
    minOutputTokens: z.number().int().positive().optional(),
    /** When the budget store is down: `closed` (default) fails the run, `open` runs unguarded by the window. */
    onStoreError: z.enum(['closed', 'open']).optional(),
    /** An unsettled reservation (a crashed process) stops counting after this long. Default 10 minutes. */
    reservationTtlMs: z.number().int().positive().optional(),
    /**
     * Fair admission: how long (ms) a call waits for room in a spend window that only other
     * calls' in-flight reservations hold, before it is refused. Default 3,000; 0 refuses at once.
     */
    waitForRoomMs: z.number().int().nonnegative().optional(),
  })
  .strict();

let schema: ReturnType<typeof buildSchema> | undefined;

/**
 * The schema of {@link BudgetPolicy}, built on its first use (`agent()`) rather than when
 * tracebound is imported: the first zod schema a process builds costs tens of ms.
 */
export function budgetPolicySchema(): ReturnType<typeof buildSchema> {
  return (schema ??= buildSchema());
}

/** A validated budget policy. */
export type BudgetPolicy = z.infer<ReturnType<typeof buildSchema>>;

/** Steps a run may take when the policy sets no `maxSteps`, so a confused model cannot loop forever. */
export const DEFAULT_MAX_STEPS = 10;

/** Output tokens reserved for a call when the agent sets no `maxOutputTokens` and a USD limit applies. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4_096;

/** How long a call waits for room in a spend window held by in-flight reservations (ms), by default. */
export const DEFAULT_WAIT_FOR_ROOM_MS = 3_000;

/** Parses a window such as `1h` into ms. */
export function windowMs(window: string): number {
  const match = WINDOW.exec(window);
  if (!match) throw new RangeError(`not a window duration: "${window}" (use e.g. "30s", "15m", "1h", "1d")`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
