/**
 * The budget guard: before each model call it reserves the call's worst-case cost in every USD
 * scope (the run, the agent's rolling window); if the whole worst case does not fit, it lowers the
 * call's max output tokens to what fits, or refuses. After the call, the reservation settles to
 * the actual cost. Every decision is returned as plain data for the trace.
 */
import type { BudgetCheck, BudgetSettle } from '../runtime/events.js';
import type { RunState } from '../runtime/run-state.js';
import type { BudgetPolicy } from './policy.js';
import { DEFAULT_MAX_OUTPUT_TOKENS, windowMs } from './policy.js';
import { BudgetStoreError, spendKey, type SpendStore } from './store.js';

/** USD per token of uncached input and of output: what the worst case is priced at. */
export interface Rates {
  inputUsdPerToken: number;
  outputUsdPerToken: number;
}

/** What the guard decided for one call. */
export interface GuardDecision {
  decision: 'allow' | 'lower' | 'refuse';
  /** Max output tokens to send (lowered when the budget holds less than the worst case). */
  maxOutputTokens: number;
  checks: BudgetCheck[];
  /** What to settle after the call; absent when refused or when no USD limit applies. */
  hold?: { runUsd: number; spend?: { id: string; usd: number } };
  /** Set when the store was down and the policy runs open: the window was not checked. */
  storeError?: BudgetStoreError;
}

/** A USD limit is set but the model has no known price, so no limit could be enforced. */
export class BudgetConfigError extends Error {
  override readonly name = 'BudgetConfigError';
}

const DEFAULT_MIN_OUTPUT_TOKENS = 256;
/**
 * Headroom on the counted prompt: counts are estimates (OpenAI's within ~2%, Anthropic's first
 * call within ~30% until the run's first correction; see budget/tokens.ts), and a reservation must
 * be an upper bound for the limit to hold.
 */
const PROMPT_MARGIN = 1.1;
const DEFAULT_TTL_MS = 10 * 60_000;
let reservations = 0;

/** Whether a policy has a USD limit (and so needs prices and a store). */
export function hasUsdLimit(policy: BudgetPolicy): boolean {
  return policy.runCostUsd !== undefined || policy.spend !== undefined;
}

/** What a guard reads and updates of a run: its spend (the totals) and its budget ledger. */
export type GuardedRun = Pick<RunState, 'totals' | 'budget'>;

/**
 * Guards the runs of one agent. It keeps nothing of a run: each run's spend and reservations are
 * in the run's state, so one guard serves every run of the agent.
 */
export class BudgetGuard {
  private readonly key: string;
  private readonly window: number | undefined;

  /**
   * @throws {BudgetConfigError} when a USD limit is set and `rates` is undefined (unknown price).
   */
  constructor(
    private readonly policy: BudgetPolicy,
    agentName: string,
    private readonly store: SpendStore,
    private readonly rates: Rates | undefined,
  ) {
    this.key = spendKey(agentName);
    this.window = policy.spend ? windowMs(policy.spend.window) : undefined;
    if (hasUsdLimit(policy) && !rates) {
      throw new BudgetConfigError(
        `agent "${agentName}" has a USD budget but its model has no known price, so the limit cannot be enforced: ` +
          'give the runtime a price (tracedRuntime({ prices: { "<model>": { inputPerMTok, outputPerMTok } } }))',
      );
    }
  }

  /** The max output tokens a call is guarded with: the agent's, else a default when a USD limit applies. */
  maxOutputTokens(requested: number | undefined): number | undefined {
    return requested ?? (hasUsdLimit(this.policy) ? DEFAULT_MAX_OUTPUT_TOKENS : undefined);
  }

  /**
   * Reserves a call's worst case in every USD scope, holding it in the run's ledger.
   * @param run the run's totals (its spend) and budget ledger, updated here
   * @param promptTokens the counted prompt tokens
   * @param maxOutputTokens the call's max output tokens before any lowering
   * @throws {BudgetStoreError} when the store is down and the policy fails closed.
   */
  async reserve(run: GuardedRun, promptTokens: number, maxOutputTokens: number): Promise<GuardDecision> {
    const rates = this.rates;
    if (!rates || !hasUsdLimit(this.policy)) return { decision: 'allow', maxOutputTokens, checks: [] };
    const promptUsd = Math.ceil(promptTokens * PROMPT_MARGIN) * rates.inputUsdPerToken;
    const worstUsd = promptUsd + maxOutputTokens * rates.outputUsdPerToken;
    const minUsd = promptUsd + Math.min(this.policy.minOutputTokens ?? DEFAULT_MIN_OUTPUT_TOKENS, maxOutputTokens) * rates.outputUsdPerToken;
    const checks: BudgetCheck[] = [];
    let granted = worstUsd;

    if (this.policy.runCostUsd !== undefined) {
      const limit = this.policy.runCostUsd;
      const spent = run.totals.costUsd;
      const room = Math.max(0, limit - spent - run.budget.reservedUsd);
      granted = room >= minUsd ? Math.min(worstUsd, room) : 0;
      checks.push(check('run', limit, spent, run.budget.reservedUsd + granted, worstUsd, granted));
      if (granted === 0) return { decision: 'refuse', maxOutputTokens: 0, checks };
    }

    let spendHold: { id: string; usd: number } | undefined;
    let storeError: BudgetStoreError | undefined;
    if (this.policy.spend && this.window !== undefined) {
      const id = `${process.pid}-${Date.now()}-${++reservations}`;
      try {
        const result = await this.store.reserve({
          key: this.key,
          id,
          maxUsd: granted,
          minUsd: Math.min(minUsd, granted),
          limitUsd: this.policy.spend.usd,
          windowMs: this.window,
          ttlMs: this.policy.reservationTtlMs ?? DEFAULT_TTL_MS,
        });
        run.budget.window = { spentUsd: result.spentUsd, reservedUsd: result.reservedUsd };
        checks.push(check('spend', this.policy.spend.usd, result.spentUsd, result.reservedUsd, granted, result.grantedUsd));
        if (result.grantedUsd === 0) return { decision: 'refuse', maxOutputTokens: 0, checks };
        granted = Math.min(granted, result.grantedUsd);
        spendHold = { id, usd: result.grantedUsd };
      } catch (error) {
        if (!(error instanceof BudgetStoreError) || this.policy.onStoreError !== 'open') throw error;
        storeError = error;
      }
    }

    run.budget.reservedUsd += granted;
    const fits = Math.floor((granted - promptUsd) / rates.outputUsdPerToken + 1e-9);
    const lowered = Math.min(maxOutputTokens, fits);
    const decision = lowered < maxOutputTokens ? 'lower' : 'allow';
    for (const c of checks) if (c.decision !== 'refuse') c.decision = decision;
    return {
      decision,
      maxOutputTokens: lowered,
      checks,
      hold: { runUsd: granted, ...(spendHold ? { spend: spendHold } : {}) },
      ...(storeError ? { storeError } : {}),
    };
  }

  /**
   * Settles a call's hold to its actual cost (0 for a failed call that reported nothing). The
   * cost itself is already in the run's totals: this frees the hold and tells the store.
   * @throws {BudgetStoreError} when the store is down and the policy fails closed.
   */
  async settle(run: GuardedRun, hold: GuardDecision['hold'], actualUsd: number): Promise<BudgetSettle[]> {
    if (!hold) return [];
    run.budget.reservedUsd = Math.max(0, run.budget.reservedUsd - hold.runUsd);
    const settles: BudgetSettle[] = [];
    if (this.policy.runCostUsd !== undefined) settles.push({ scope: 'run', reserved: hold.runUsd, actual: actualUsd });
    if (hold.spend && this.window !== undefined) {
      try {
        await this.store.settle({ key: this.key, id: hold.spend.id, actualUsd, windowMs: this.window });
      } catch (error) {
        if (!(error instanceof BudgetStoreError) || this.policy.onStoreError !== 'open') throw error;
      }
      const window = run.budget.window;
      if (window) {
        window.spentUsd += actualUsd;
        window.reservedUsd = Math.max(0, window.reservedUsd - hold.spend.usd);
      }
      settles.push({ scope: 'spend', reserved: hold.spend.usd, actual: actualUsd });
    }
    return settles;
  }
}

function check(
  scope: BudgetCheck['scope'],
  limit: number,
  spent: number,
  reserved: number,
  requestedUsd: number,
  grantedUsd: number,
): BudgetCheck {
  return {
    scope,
    limit,
    spent,
    reserved,
    remaining: Math.max(0, limit - spent - reserved),
    decision: grantedUsd === 0 ? 'refuse' : 'allow',
    requestedUsd,
    grantedUsd,
  };
}
