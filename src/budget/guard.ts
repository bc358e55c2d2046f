/**
 * The budget guard: before each model call it reserves the call's worst-case cost in every USD
 * scope (the run, the agent's rolling window); if the whole worst case does not fit, it lowers the
 * call's max output tokens to what fits, or refuses. After the call, the reservation settles to
 * the actual cost. Every decision is returned as plain data for the trace.
 */
import type { BudgetCheck, BudgetSettle } from '../runtime/events.js';
import type { RunState } from '../runtime/run-state.js';
import type { BudgetPolicy } from './policy.js';
import { DEFAULT_MAX_OUTPUT_TOKENS, DEFAULT_WAIT_FOR_ROOM_MS, spendWindows, windowMs } from './policy.js';
import { retryDelayMs, sleep, type RetryPolicy } from '../runtime/retry.js';
import { BudgetStoreError } from '../state/errors.js';
import { scopedSpendKey, spendKey, type SettleRequest, type SpendStore } from '../state/store.js';

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
  hold?: { runUsd: number; spends?: SpendHold[]; outer?: readonly OuterScope[] };
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
/**
 * How a call waiting for room in a spend window polls the store: from 5 ms, doubling (jittered)
 * up to 100 ms, so a short wait is short and a long one costs the store ~10 reserves a second.
 */
const ROOM_POLL: RetryPolicy = { maxRetries: Infinity, initialDelayMs: 5, maxDelayMs: 100 };
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
export type GuardedRun = Pick<RunState, 'totals' | 'budget' | 'tenant' | 'user'>;

/** One spend window held for a call: where, and how much. */
export interface SpendHold {
  key: string;
  windowMs: number;
  scope: BudgetCheck['scope'];
  id: string;
  usd: number;
}

/** A policy's spend window as the guard uses it. */
interface GuardWindow {
  per: 'agent' | 'tenant' | 'user';
  usd: number;
  ms: number;
}

/**
 * Guards the runs of one agent. It keeps nothing of a run: a run's spend and reservations are in
 * its state, so one guard serves every run of the agent.
 */
export class BudgetGuard {
  private readonly key: string;
  private readonly windows: readonly GuardWindow[];
  private readonly agentName: string;

  /**
   * @param keys every window key the agent's guards reserved in: {@link settleUnsettled} records
   *   their unsettled spend (shared by the guards of one agent, see {@link withRates})
   * @throws {BudgetConfigError} when a USD limit is set and `rates` is undefined (unknown price).
   */
  constructor(
    private readonly policy: BudgetPolicy,
    agentName: string,
    private readonly store: SpendStore,
    private readonly rates: Rates | undefined,
    private readonly keys: Set<string> = new Set(),
  ) {
    this.agentName = agentName;
    this.key = spendKey(agentName);
    this.windows = spendWindows(policy).map((w) => ({ per: w.per ?? 'agent', usd: w.usd, ms: windowMs(w.window) }));
    if (hasUsdLimit(policy) && !rates) {
      throw new BudgetConfigError(
        `agent "${agentName}" has a USD budget but its model has no known price, so the limit cannot be enforced: ` +
          'give the runtime a price (tracedRuntime({ prices: { "<model>": { inputPerMTok, outputPerMTok } } }))',
      );
    }
  }

  /**
   * A guard of the same agent for calls at other rates (a `fallback()` model): same policy and
   * windows, and it records the unsettled spend of the windows this guard reserved in, as this one
   * does of its.
   * @throws {BudgetConfigError} when a USD limit is set and `rates` is undefined (unknown price).
   */
  withRates(rates: Rates | undefined): BudgetGuard {
    return new BudgetGuard(this.policy, this.agentName, this.store, rates, this.keys);
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
   * @returns the decision: at once (not a promise) when the policy has no spend window, as no
   *   store is asked; a promise of it otherwise.
   * @throws {BudgetStoreError} when the store is down (or an earlier settle is still unrecorded)
   *   and the policy fails closed.
   * @throws {BudgetConfigError} when `outer` limits apply and the agent's model has no known price.
   */
  reserve(
    run: GuardedRun,
    prompt: number | PromptBound,
    maxOutputTokens: number,
    outer: readonly OuterScope[] = NO_OUTER,
    signal?: AbortSignal,
  ): GuardDecision | Promise<GuardDecision> {
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

    // Without a spend window the decision is made here and now: no store call, no promise.
    if (this.windows.length === 0) {
      holdRunScopes(run, outer, granted);
      return granting(rates, promptUsd, maxOutputTokens, checks, granted, outer, NO_WINDOW);
    }
    return this.reserveInWindows(run, outer, checks, granted, minUsd, signal, (usd, window) => granting(rates, promptUsd, maxOutputTokens, checks, usd, outer, window));
  }

  /**
   * The rest of {@link reserve} for a policy with spend windows: holds `granted`, reserves it in
   * the windows and decides at what the windows granted (`decide`).
   */
  private async reserveInWindows(
    run: GuardedRun,
    outer: readonly OuterScope[],
    checks: BudgetCheck[],
    granted: number,
    minUsd: number,
    signal: AbortSignal | undefined,
    decide: (granted: number, window: WindowHolds) => GuardDecision,
  ): Promise<GuardDecision> {
    const window = await this.holdAndReserveWindows(run, outer, checks, granted, Math.min(minUsd, granted), signal);
    if (window.refused) return { decision: 'refuse', maxOutputTokens: 0, checks };
    const held = granted;
    for (const h of window.spends ?? []) granted = Math.min(granted, h.usd);
    holdRunScopes(run, outer, granted - held);
    return decide(granted, window);
  }

  /**
   * Reserves a tool call's fixed price (USD) whole in every USD scope, or refuses it: a tool call
   * cannot be lowered. A price of 0 (a tool priced after the call, see `ToolOptions.costUsd`)
   * checks nothing and holds nothing but an id, so its settle records the actual price in the
   * window. `maxOutputTokens` of the decision is 0 (no model call).
   * @param outer the ancestor runs' limits a sub-run's tool call must fit too (each gets a `run` check)
   * @throws {BudgetStoreError} as {@link reserve}.
   */
  async reserveFixed(run: GuardedRun, usd: number, outer: readonly OuterScope[] = [], signal?: AbortSignal): Promise<GuardDecision> {
    if (outer.length === 0 && !hasUsdLimit(this.policy)) return { decision: 'allow', maxOutputTokens: 0, checks: [] };
    if (usd === 0) {
      const keys = this.windowKeys(run);
      const spends = this.windows.map((w, i) => ({ key: keys[i] as string, windowMs: w.ms, scope: scopeOf(w), id: reservationId(), usd: 0 }));
      return { decision: 'allow', maxOutputTokens: 0, checks: [], hold: { runUsd: 0, ...(spends.length > 0 ? { spends } : {}) } };
    }
    const checks: BudgetCheck[] = [];
    if (this.policy.runCostUsd !== undefined || outer.length > 0) {
      const granted = this.runRoom(run, outer) >= usd ? usd : 0;
      if (this.policy.runCostUsd !== undefined) {
        checks.push(check('run', this.policy.runCostUsd, run.totals.costUsd, run.budget.reservedUsd + granted, usd, granted));
      }
      for (const o of outer) checks.push(check('run', o.limit, o.run.totals.costUsd, o.run.budget.reservedUsd + granted, usd, granted));
      if (granted === 0) return { decision: 'refuse', maxOutputTokens: 0, checks };
    }
    const window = await this.holdAndReserveWindows(run, outer, checks, usd, usd, signal);
    if (window.refused) return { decision: 'refuse', maxOutputTokens: 0, checks };
    const { spends, storeError } = window;
    return holding('allow', 0, checks, usd, spends, outer, storeError);
  }

  /**
   * The store key of each spend window for `run`, in policy order.
   * @throws {BudgetConfigError} when a `per: 'tenant'` (`'user'`) window meets a run without a
   *   `tenant` (`user`): the window could not be keyed, and an unbounded run is not an option.
   */
  private windowKeys(run: GuardedRun): string[] {
    return this.windows.map((w) => {
      if (w.per === 'agent') return this.key;
      const id = w.per === 'tenant' ? run.tenant : run.user;
      if (id === undefined) {
        throw new BudgetConfigError(
          `the budget has a per-${w.per} spend window ($${w.usd}) but the run has no ${w.per}: pass runtime.run(agent, input, { ${w.per}: '...' })`,
        );
      }
      return scopedSpendKey(w.per, id);
    });
  }

  /**
   * Reserves between `minUsd` and `maxUsd` in every spend window of the policy, in order, and adds
   * their checks to `checks`. Each later window is asked for at most what the earlier ones
   * granted; when one refuses, the others' reservations are released (settled at $0) and the call
   * is refused. With the store down and `onStoreError: 'open'` the outage is returned with what
   * was held so far.
   *
   * Fair admission: when `minUsd` does not fit a window only because other calls' reservations
   * hold the room (settled spend + `minUsd` is within the limit), the call polls the store
   * (backoff {@link ROOM_POLL}) until those settle, for up to `waitForRoomMs`, instead of being
   * refused at once: reservations are worst cases and most settle far lower. Each poll is one
   * atomic reserve, so the limit holds exactly as without waiting.
   * @throws {BudgetConfigError} as {@link windowKeys}, before anything is reserved.
   * @throws {BudgetStoreError} when the store is down and the policy fails closed.
   * @throws the signal's reason when the run is aborted while waiting.
   */
  private async reserveWindow(
    run: GuardedRun,
    checks: BudgetCheck[],
    maxUsd: number,
    minUsd: number,
    signal: AbortSignal | undefined,
  ): Promise<WindowHolds> {
    if (this.windows.length === 0) return NO_WINDOW;
    const keys = this.windowKeys(run);
    const spends: SpendHold[] = [];
    try {
      await this.settleUnsettled();
      let max = maxUsd;
      for (const [i, w] of this.windows.entries()) {
        const key = keys[i] as string;
        this.keys.add(key);
        const id = reservationId();
        const min = Math.min(minUsd, max);
        const request = { key, id, maxUsd: max, minUsd: min, limitUsd: w.usd, windowMs: w.ms, ttlMs: this.policy.reservationTtlMs ?? DEFAULT_TTL_MS };
        let result = await this.store.reserve(request);
        const deadline = Date.now() + (this.policy.waitForRoomMs ?? DEFAULT_WAIT_FOR_ROOM_MS);
        for (let attempt = 1; result.grantedUsd === 0 && result.reservedUsd > 0 && result.spentUsd + min <= w.usd; attempt++) {
          const left = deadline - Date.now();
          if (left <= 0) break;
          await sleep(Math.min(retryDelayMs(attempt, ROOM_POLL), left), signal);
          result = await this.store.reserve(request);
        }
        if (w.per === 'agent') run.budget.window = { spentUsd: result.spentUsd, reservedUsd: result.reservedUsd };
        checks.push(check(scopeOf(w), w.usd, result.spentUsd, result.reservedUsd, max, result.grantedUsd));
        if (result.grantedUsd === 0) {
          await this.release(spends);
          return { refused: true };
        }
        spends.push({ key, windowMs: w.ms, scope: scopeOf(w), id, usd: result.grantedUsd });
        max = Math.min(max, result.grantedUsd);
      }
      return { refused: false, spends };
    } catch (error) {
      if (!(error instanceof BudgetStoreError) || this.policy.onStoreError !== 'open') {
        await this.release(spends).catch(() => {});
        throw error;
      }
      return { refused: false, spends, storeError: { error, policy: 'open' } };
    }
  }

  /**
   * Holds `usd` in the run's and the ancestors' scopes, then reserves between `minUsd` and `usd`
   * in the spend windows ({@link reserveWindow}); the hold is released when a window refuses or
   * the store fails. It is taken before the window's await: the parallel calls of a run (or of
   * its sub-runs) would otherwise all see the room this one is about to take.
   * @throws what {@link reserveWindow} throws.
   */
  private async holdAndReserveWindows(
    run: GuardedRun,
    outer: readonly OuterScope[],
    checks: BudgetCheck[],
    usd: number,
    minUsd: number,
    signal: AbortSignal | undefined,
  ): Promise<WindowHolds> {
    holdRunScopes(run, outer, usd);
    // Without a spend window the store has nothing to say: no call, no promise to wait on.
    if (this.windows.length === 0) return NO_WINDOW;
    try {
      const window = await this.reserveWindow(run, checks, usd, minUsd, signal);
      if (window.refused) holdRunScopes(run, outer, -usd);
      return window;
    } catch (error) {
      holdRunScopes(run, outer, -usd);
      throw error;
    }
  }

  /** Releases reservations a refused call made in other windows: settled at $0, they hold nothing. */
  private async release(spends: readonly SpendHold[]): Promise<void> {
    for (const h of spends) await this.store.settle({ key: h.key, id: h.id, actualUsd: 0, windowMs: h.windowMs });
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
   * @returns the settles: at once (not a promise) when the hold has no spend window.
   * @throws only what is not a {@link BudgetStoreError} (a store bug).
   */
  settle(run: GuardedRun, hold: GuardDecision['hold'], actualUsd: number): SettleOutcome | Promise<SettleOutcome> {
    if (!hold) return { settles: [] };
    holdRunScopes(run, hold.outer ?? NO_OUTER, -hold.runUsd);
    const settles: BudgetSettle[] = [];
    if (this.policy.runCostUsd !== undefined) settles.push({ scope: 'run', reserved: hold.runUsd, actual: actualUsd });
    // Only a spend window's settle goes to the store: without one there is nothing to wait for.
    if (!hold.spends?.length) return { settles };
    return this.settleWindows(run, hold.spends, actualUsd, settles);
  }

  /** The spend windows' part of {@link settle}: each window's hold settled in the store. */
  private async settleWindows(run: GuardedRun, spends: readonly SpendHold[], actualUsd: number, settles: BudgetSettle[]): Promise<SettleOutcome> {
    let storeError: StoreOutage | undefined;
    for (const h of spends) {
      const request: SettleRequest = { key: h.key, id: h.id, actualUsd, windowMs: h.windowMs };
      try {
        await this.store.settle(request);
      } catch (error) {
        if (!(error instanceof BudgetStoreError)) throw error;
        unsettledOf(this.store).set(request.id, request);
        storeError = { error, policy: this.policy.onStoreError ?? 'closed', unsettledUsd: actualUsd };
      }
      const window = run.budget.window;
      if (window && h.key === this.key) {
        window.spentUsd += actualUsd;
        window.reservedUsd = Math.max(0, window.reservedUsd - h.usd);
      }
      settles.push({ scope: h.scope, reserved: h.usd, actual: actualUsd });
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
      if (!this.keys.has(request.key)) continue;
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

const NO_OUTER: readonly OuterScope[] = [];

/**
 * A decision that holds `runUsd` (and what `spends` hold in the windows) until its settle. Built
 * field by field: it is made for every model call, and the spreads of optional fields it had
 * allocated an object each.
 */
function holding(
  decision: GuardDecision['decision'],
  maxOutputTokens: number,
  checks: BudgetCheck[],
  runUsd: number,
  spends: SpendHold[] | undefined,
  outer: readonly OuterScope[],
  storeError: StoreOutage | undefined,
): GuardDecision {
  const hold: NonNullable<GuardDecision['hold']> = { runUsd };
  if (spends) hold.spends = spends;
  if (outer.length > 0) hold.outer = outer;
  const made: GuardDecision = { decision, maxOutputTokens, checks, hold };
  if (storeError) made.storeError = storeError;
  return made;
}
/** What the spend windows held for a call, or that one refused it. */
interface WindowHolds {
  refused: boolean;
  spends?: SpendHold[];
  storeError?: StoreOutage;
}

/** The spend windows' answer for a policy without any: nothing held there, nothing refused. */
const NO_WINDOW: WindowHolds = Object.freeze({ refused: false });

/**
 * The decision for a call granted `granted` USD (held in the run scopes and windows): its max
 * output tokens lowered to what the grant leaves after the prompt, and its checks marked so.
 */
function granting(
  rates: Rates,
  promptUsd: number,
  maxOutputTokens: number,
  checks: BudgetCheck[],
  granted: number,
  outer: readonly OuterScope[],
  window: WindowHolds,
): GuardDecision {
  // Free output tokens: whatever the prompt left, every output token fits.
  const fits = rates.outputUsdPerToken === 0 ? maxOutputTokens : Math.floor((granted - promptUsd) / rates.outputUsdPerToken + 1e-9);
  const lowered = Math.min(maxOutputTokens, fits);
  const decision = lowered < maxOutputTokens ? 'lower' : 'allow';
  for (const c of checks) if (c.decision !== 'refuse') c.decision = decision;
  return holding(decision, lowered, checks, granted, window.spends, outer, window.storeError);
}

/** Adds `usd` (negative: releases it) to the hold of the run and of each ancestor scope. */
function holdRunScopes(run: GuardedRun, outer: readonly OuterScope[], usd: number): void {
  run.budget.reservedUsd = Math.max(0, run.budget.reservedUsd + usd);
  for (const o of outer) o.run.budget.reservedUsd = Math.max(0, o.run.budget.reservedUsd + usd);
}

/** The event scope of a window: `spend` for the agent's (as before tenant windows existed). */
function scopeOf(w: GuardWindow): BudgetCheck['scope'] {
  return w.per === 'agent' ? 'spend' : w.per;
}

/** A reservation id unique across the processes sharing a store. */
function reservationId(): string {
  return `${process.pid}-${Date.now()}-${++reservations}`;
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
