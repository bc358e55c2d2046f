import { z } from 'zod';

/** Rolling-window durations such as `30s`, `15m`, `1h`, `1d`. */
const WINDOW = /^(\d+)(s|m|h|d)$/;

/**
 * A budget policy (DESIGN.md, Budget semantics). Every limit is optional. Units: tokens for
 * `contextTokens`, USD for `runCostUsd` and `spend.usd`, counts for `maxSteps` and
 * `maxToolCalls`.
 */
export const budgetPolicySchema = z
  .object({
    contextTokens: z.number().int().positive().optional(),
    runCostUsd: z.number().positive().optional(),
    spend: z
      .object({
        usd: z.number().positive(),
        window: z.string().regex(WINDOW, 'must be a duration such as "30s", "15m", "1h" or "1d"'),
      })
      .strict()
      .optional(),
    maxSteps: z.number().int().positive().optional(),
    maxToolCalls: z.number().int().nonnegative().optional(),
  })
  .strict();

/** A validated budget policy. */
export type BudgetPolicy = z.infer<typeof budgetPolicySchema>;

/** Steps a run may take when the policy sets no `maxSteps`, so a confused model cannot loop forever. */
export const DEFAULT_MAX_STEPS = 10;

