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
import { BudgetStoreError } from '../state/errors.js';
import { spendKey, type SettleRequest, type SpendStore } from '../state/store.js';

/** USD per token of uncached input and of output: what the worst case is priced at. */
export interface Rates {
  inputUsdPerToken: number;
  outputUsdPerToken: number;
}

/** A store outage the guard rode out (`tracebound.budget.store_error`). */
export interface StoreOutage {
  error: BudgetStoreError;
  /** The agent's `onStoreError` policy (default `closed`). */
  policy: 'closed' | 'open';
  /**
   * USD a call spent that the window has not recorded (its settle failed; retried later). Absent
   * at reserve time, where `open` let the call go on unguarded by the window.
   */
  unsettledUsd?: number;
}

/** A call's settlement: per scope, and the outage that kept the window from recording it. */
export interface SettleOutcome {
  settles: BudgetSettle[];
  storeError?: StoreOutage;
}

/** What the guard decided for one call. */
export interface GuardDecision {
  decision: 'allow' | 'lower' | 'refuse';
  /** Max output tokens to send (lowered when the budget holds less than the worst case). */
  maxOutputTokens: number;
  checks: BudgetCheck[];
  /** What to settle after the call; absent when refused or when no USD limit applies. */
  hold?: { runUsd: number; spend?: { id: string; usd: number }; outer?: readonly OuterScope[] };
  /** Set when the store was down and the policy runs open: the window was not checked. */
  storeError?: StoreOutage;
}

/**
 * An ancestor run's `runCostUsd` that bounds a sub-run's calls too (`agent.asTool()`): the call's
 * worst case must fit its room, and is held in its ledger until settled. The ancestor's totals
 * already count the sub-run's spend (runtime/model-call.ts adds each call to every ancestor).
 */
export interface OuterScope {
  /** The ancestor's `runCostUsd`, in USD. */
  limit: number;
  run: GuardedRun;
}

/**
 * A prompt known by a cheap upper bound of its tokens, with its count on demand: the guard counts
 * only when the bound would not do (see {@link BudgetGuard.reserve}).
 */
export interface PromptBound {
  /** Never below what {@link count} returns (tokens). */
  upperBound: number;
  /** The prompt's counted tokens; may be expensive (a tokenizer). */
  count(): number;
}

/** A USD limit is set but the model has no known price, so no limit could be enforced. */
export class BudgetConfigError extends Error {
  override readonly name = 'BudgetConfigError';
}

const DEFAULT_MIN_OUTPUT_TOKENS = 256;
/**
 * Headroom on the counted prompt: counts are estimates (OpenAI's within ~2%, Anthropic's first
 * call within ~30% until the run's first correction; see providers/openai-tokens.ts and
 * anthropic-tokens.ts), and a reservation must be an upper bound for the limit to hold.
 */
const PROMPT_MARGIN = 1.1;
const DEFAULT_TTL_MS = 10 * 60_000;
let reservations = 0;

/**
 * Settles a store did not take, by store and reservation id. The money was spent, so they are
 * tried again (in the background, and before the next reservation of the same window) until the
 * store records them; a settle counts once however often it is retried (see `SpendStore.settle`).
 */
const unsettled = new WeakMap<SpendStore, Map<string, SettleRequest>>();

function unsettledOf(store: SpendStore): Map<string, SettleRequest> {
  let pending = unsettled.get(store);
  if (!pending) {
    pending = new Map();
    unsettled.set(store, pending);
  }
  return pending;
}

/** Whether a policy has a USD limit (and so needs prices and a store). */
export function hasUsdLimit(policy: BudgetPolicy): boolean {
  return policy.runCostUsd !== undefined || policy.spend !== undefined;
}

/** What a guard reads and updates of a run: its spend (the totals) and its budget ledger. */
export type GuardedRun = Pick<RunState, 'totals' | 'budget'>;

/**
 * Guards the runs of one agent. It keeps nothing of a run: a run's spend and reservations are in
 * its state, so one guard serves every run of the agent.
 */
export class BudgetGuard {
  private readonly key: string;
  private readonly window: number | undefined;
  private readonly agentName: string;

  /**
   * @throws {BudgetConfigError} when a USD limit is set and `rates` is undefined (unknown price).
   */
  constructor(
    private readonly policy: BudgetPolicy,
    agentName: string,
    private readonly store: SpendStore,
    private readonly rates: Rates | undefined,
  ) {
    this.agentName = agentName;
    this.key = spendKey(agentName);
    this.window = policy.spend ? windowMs(policy.spend.window) : undefined;
    if (hasUsdLimit(policy) && !rates) {
      throw new BudgetConfigError(
        `agent "${agentName}" has a USD budget but its model has no known price, so the limit cannot be enforced: ` +
          'give the runtime a price (tracedRuntime({ prices: { "<model>": { inputPerMTok, outputPerMTok } } }))',
      );
    }
  }

  /**
   * The max output tokens a call is guarded with: the agent's, else a default when a USD limit
   * applies (the agent's own, or an ancestor run's: `underOuterLimit`).
   */
  maxOutputTokens(requested: number | undefined, underOuterLimit = false): number | undefined {
    return requested ?? (underOuterLimit || hasUsdLimit(this.policy) ? DEFAULT_MAX_OUTPUT_TOKENS : undefined);
  }

  /**
   * Reserves a call's worst case in every USD scope. A window with a settle still unrecorded
   * (see {@link settle}) records it first: until the store takes it, the window is not known.
   * @param run the run's totals (its spend) and budget ledger; the hold is added to the ledger
   * @param prompt the counted prompt tokens, or an upper bound of them with the count on demand:
   *   the bound is reserved when the worst case at the bound fits whole in the run's room and no
   *   spend window applies, and counted otherwise (never when no USD limit applies). The count is
   *   never above the bound, so the decision is then the plain allow the count would get too,
   *   only with a larger hold for the length of the call. A spend window is shared: other runs'
   *   calls would be lowered or refused for money this call cannot spend, so it is held at the
   *   count.
   * @param maxOutputTokens the call's max output tokens before any lowering
   * @param outer the ancestor runs' limits a sub-run's call must fit too (each gets a `run` check)
   * @throws {BudgetStoreError} when the store is down (or an earlier settle is still unrecorded)
   *   and the policy fails closed.
   * @throws {BudgetConfigError} when `outer` limits apply and the agent's model has no known price.
   */
  async reserve(run: GuardedRun, prompt: number | PromptBound, maxOutputTokens: number, outer: readonly OuterScope[] = []): Promise<GuardDecision> {
    const rates = this.rates;
    if (outer.length > 0 && !rates) {
      throw new BudgetConfigError(`agent "${this.agentName}" runs as a sub-agent under a run with a USD budget but its model has no known price, so the limit cannot be enforced`);
    }
    if (!rates || (outer.length === 0 && !hasUsdLimit(this.policy))) return { decision: 'allow', maxOutputTokens, checks: [] };
    const worst = (tokens: number) => promptUsdOf(tokens, rates) + maxOutputTokens * rates.outputUsdPerToken;
    let promptTokens: number;
    if (typeof prompt === 'number') promptTokens = prompt;
    else if (this.policy.spend === undefined && worst(prompt.upperBound) <= this.runRoom(run, outer)) promptTokens = prompt.upperBound;
    else promptTokens = prompt.count();
    const promptUsd = promptUsdOf(promptTokens, rates);
    const worstUsd = worst(promptTokens);
    // A call that costs nothing at its worst (a free model) holds nothing: a $0 grant would read as
    // a refusal.
    if (worstUsd === 0) return { decision: 'allow', maxOutputTokens, checks: [] };
    const minUsd = promptUsd + Math.min(this.policy.minOutputTokens ?? DEFAULT_MIN_OUTPUT_TOKENS, maxOutputTokens) * rates.outputUsdPerToken;
    const checks: BudgetCheck[] = [];
    let granted = worstUsd;

    if (this.policy.runCostUsd !== undefined || outer.length > 0) {
      const room = this.runRoom(run, outer);
      granted = room >= minUsd ? Math.min(worstUsd, room) : 0;
      if (this.policy.runCostUsd !== undefined) {
        checks.push(check('run', this.policy.runCostUsd, run.totals.costUsd, run.budget.reservedUsd + granted, worstUsd, granted));
      }
      for (const o of outer) checks.push(check('run', o.limit, o.run.totals.costUsd, o.run.budget.reservedUsd + granted, worstUsd, granted));
      if (granted === 0) return { decision: 'refuse', maxOutputTokens: 0, checks };
    }

    let spendHold: { id: string; usd: number } | undefined;
    let storeError: StoreOutage | undefined;
    if (this.policy.spend && this.window !== undefined) {
      const id = `${process.pid}-${Date.now()}-${++reservations}`;
      try {
        await this.settleUnsettled();
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
        storeError = { error, policy: 'open' };
      }
    }

    run.budget.reservedUsd += granted;
    for (const o of outer) o.run.budget.reservedUsd += granted;
    // Free output tokens: whatever the prompt left, every output token fits.
    const fits = rates.outputUsdPerToken === 0 ? maxOutputTokens : Math.floor((granted - promptUsd) / rates.outputUsdPerToken + 1e-9);
    const lowered = Math.min(maxOutputTokens, fits);
    const decision = lowered < maxOutputTokens ? 'lower' : 'allow';
    for (const c of checks) if (c.decision !== 'refuse') c.decision = decision;
    return {
      decision,
      maxOutputTokens: lowered,
      checks,
      hold: { runUsd: granted, ...(spendHold ? { spend: spendHold } : {}), ...(outer.length > 0 ? { outer } : {}) },
      ...(storeError ? { storeError } : {}),
    };
  }

  /** USD the run limit and the ancestors' leave for a new reservation; Infinity without any. */
  private runRoom(run: GuardedRun, outer: readonly OuterScope[]): number {
    const limit = this.policy.runCostUsd;
    let room = limit === undefined ? Infinity : Math.max(0, limit - run.totals.costUsd - run.budget.reservedUsd);
    for (const o of outer) room = Math.min(room, Math.max(0, o.limit - o.run.totals.costUsd - o.run.budget.reservedUsd));
    return room;
  }

  /**
   * Settles a call's hold to its actual cost (0 for a failed call that reported nothing). When
   * the store is down the call's answer stands whatever the policy (its money is spent): the
   * settle is kept for {@link settleUnsettled} and returned as `storeError`. The cost itself is
   * already in the run's totals: this frees the run's hold and tells the store.
   * @throws only what is not a {@link BudgetStoreError} (a store bug).
   */
  async settle(run: GuardedRun, hold: GuardDecision['hold'], actualUsd: number): Promise<SettleOutcome> {
    if (!hold) return { settles: [] };
    run.budget.reservedUsd = Math.max(0, run.budget.reservedUsd - hold.runUsd);
    for (const o of hold.outer ?? []) o.run.budget.reservedUsd = Math.max(0, o.run.budget.reservedUsd - hold.runUsd);
    const settles: BudgetSettle[] = [];
    let storeError: StoreOutage | undefined;
    if (this.policy.runCostUsd !== undefined) settles.push({ scope: 'run', reserved: hold.runUsd, actual: actualUsd });
    if (hold.spend && this.window !== undefined) {
      const request: SettleRequest = { key: this.key, id: hold.spend.id, actualUsd, windowMs: this.window };
      try {
        await this.store.settle(request);
      } catch (error) {
        if (!(error instanceof BudgetStoreError)) throw error;
        unsettledOf(this.store).set(request.id, request);
        storeError = { error, policy: this.policy.onStoreError ?? 'closed', unsettledUsd: actualUsd };
      }
      const window = run.budget.window;
      if (window) {
        window.spentUsd += actualUsd;
        window.reservedUsd = Math.max(0, window.reservedUsd - hold.spend.usd);
      }
      settles.push({ scope: 'spend', reserved: hold.spend.usd, actual: actualUsd });
    }
    return storeError ? { settles, storeError } : { settles };
  }

  /**
   * Records the settles of this agent's window that the store did not take, oldest first.
   * @throws {BudgetStoreError} naming the unrecorded USD when the store still fails.
   */
  async settleUnsettled(): Promise<void> {
    const pending = unsettled.get(this.store);
    if (!pending?.size) return;
    for (const [id, request] of pending) {
      if (request.key !== this.key) continue;
      try {
        await this.store.settle(request);
      } catch (error) {
        if (!(error instanceof BudgetStoreError)) throw error;
        throw new BudgetStoreError(
          error.store,
          `a spend of $${request.actualUsd} from an earlier call is not recorded in the window of "${this.key}" (${error.message}); ` +
            'new reservations fail until the store records it',
          { cause: error },
        );
      }
      pending.delete(id);
    }
  }

}

/** USD of a prompt's input at the worst-case rate, with the margin on its tokens. */
function promptUsdOf(tokens: number, rates: Rates): number {
  return Math.ceil(tokens * PROMPT_MARGIN) * rates.inputUsdPerToken;
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
