/**
 * Durable runs as middleware: every run holds a lease on its id in the store, renewed by
 * heartbeat, and is checkpointed there: a record when it starts, its state after every step
 * (before the next starts), its spend as soon as a model call asks for tools (before they run:
 * a crash while they run must not lose what the call cost), and its end (completed with the
 * result, interrupted with the tool calls awaiting approval, failed with the error). Another
 * process sharing the store can then read the run, cancel it, follow its events, and resume it
 * once the lease lapses: from the last step checkpoint, so the step in flight at a crash is
 * redone (at-least-once for that step, exactly-once for completed ones).
 *
 * The runtime side (`runtime.runs`, `resume`, `cancel`, `subscribe`) is {@link DurableRuns},
 * made here with the middleware because both share this process's live runs and leases.
 */
import { randomUUID } from 'node:crypto';
import { errorType, RunInProgressError, RunLeaseLostError, RunNotFoundError } from '../errors.js';
import type { RunEvent, RunResult } from '../runtime/events.js';
import type { Middleware, RunContext } from '../runtime/middleware.js';
import type { RunState } from '../runtime/run-state.js';
import { failureOf, progressOf } from '../runtime/run-signal.js';
import type { DurableRuns, RunInfo, RunStatus } from '../runtime/runs.js';
import { maskSecrets } from '../secrets.js';
import { isoTime, type Lease, type RunRecord, type Store } from './store.js';

/** Default lease of a run, in ms: renewed every third of it while the run lives. */
export const DEFAULT_RUN_LEASE_MS = 15_000;

/** What the durable runs middleware needs. */
export interface DurableOptions {
  store: Store;
  /**
   * How long a run's lease lasts without renewal, in ms: after a crash, how soon another
   * process may resume the run. Renewed every third of it. Default 15,000.
   */
  leaseMs?: number;
  /**
   * Where the one warning about a write the store did not take (a checkpoint, a run event) goes.
   * Default `console.warn`.
   */
  warn?: (line: string) => void;
}

/** The middleware of every run, and the runtime's side of the same runs. */
export interface Durable {
  middleware: Middleware;
  runs: DurableRuns;
}

/** A run this process runs. */
interface LiveRun {
  ctx: RunContext;
  lease: Lease;
  /** False when the store failed the claim: the run goes on without lease, checkpoints or heartbeat. */
  claimed: boolean;
  /** Set when the store failed a checkpoint: none is written until a heartbeat reaches it again. */
  degraded: boolean;
  createdAt: number;
  /**
   * The state at the last step checkpoint, copied as deep as a step changes it: what the store
   * was given (it may keep it as is: nothing changes it), and what a failed run's record and a
   * spend checkpoint keep (with the spend as it is now).
   */
  checkpoint: RunState;
}

/**
 * Makes the durable runs middleware and the runtime side of one runtime's runs.
 * @throws {RangeError} when `leaseMs` is not a positive number.
 */
export function durableRuns(options: DurableOptions): Durable {
  const { store, leaseMs = DEFAULT_RUN_LEASE_MS, warn = (line: string) => console.warn(line) } = options;
  if (!(Number.isFinite(leaseMs) && leaseMs > 0)) throw new RangeError(`leaseMs must be a positive number of ms, got ${leaseMs}`);
  const runs = store.runs;
  /** Runs `take` claimed for a resume, until their run starts. */
  const taken = new Map<string, { lease: Lease; createdAt: number }>();
  const live = new Map<string, LiveRun>();
  const byContext = new WeakMap<RunContext, LiveRun>();
  let offCancel: (() => void) | undefined;
  let warned = false;
  const newLease = (runId: string): Lease => ({ owner: `${runId}/${randomUUID()}`, ttlMs: leaseMs });

  const record = (run: LiveRun, status: RunStatus, state: RunState): RunRecord => {
    const r: RunRecord = { runId: state.runId, agent: state.agent, status, step: state.step, state, createdAt: run.createdAt, updatedAt: Date.now() };
    if (state.conversationId !== undefined) r.conversationId = state.conversationId;
    return r;
  };

  /** Says once per runtime that the store failed a write the run does without. */
  const warnOnce = (what: string, error: unknown): void => {
    if (warned) return;
    warned = true;
    warn(`tracebound: the store did not take ${what} (${errorType(error)}: ${maskSecrets(String((error as Error | undefined)?.message ?? error))}); runs go on (warned once)`);
  };

  /**
   * Writes a record while the run holds its lease; a promise only when the store's write is
   * asynchronous (so `const p = save(…); if (p) await p;`): a store whose writes complete at once
   * (memory, SQLite) costs a checkpoint no promise. A store that fails the write does not fail the
   * run (its model calls are paid for): it goes on, resumable from its last checkpoint that was
   * written, and the failure is warned about once.
   * @throws the run's abort reason (it becomes `RunLeaseLostError`) when another process took the
   *   run (synchronously, or as the promise's rejection).
   */
  const save = (run: LiveRun, r: RunRecord): Promise<void> | undefined => {
    // An outage costs the run one store deadline, not one per step.
    if (!run.claimed || run.degraded) return undefined;
    const failed = (error: unknown): void => {
      run.degraded = true;
      warnOnce(`a checkpoint of run ${JSON.stringify(r.runId)}`, error);
    };
    let written: boolean | Promise<boolean>;
    try {
      written = runs.save(r, run.lease);
    } catch (error) {
      failed(error);
      return undefined;
    }
    if (typeof written === 'boolean') return void lost(run, written);
    return written.then((held) => lost(run, held), failed);
  };

  /** `runs.save` as a promise, whichever way the store answers (off the per-step path). */
  const saveNow = async (r: RunRecord, lease: Lease): Promise<boolean> => runs.save(r, lease);

  /** Aborts the run when a save found its lease taken, and throws why. */
  const lost = (run: LiveRun, held: boolean): void => {
    if (held) return;
    run.ctx.abort('lease_lost');
    throw run.ctx.signal.reason;
  };

  const heartbeat = (run: LiveRun) => async () => {
    // A renewal that fails leaves the lease to lapse; the next checkpoint then finds it lost.
    const beat = await runs.renew(run.ctx.state.runId, run.lease).catch(() => undefined);
    if (!beat) return;
    run.degraded = false;
    if (!beat.held) run.ctx.abort('lease_lost');
    else if (beat.cancelRequested) run.ctx.abort('cancelled');
  };

  /**
   * Logs an event in the store (which serialises it, errors as `{ type, message }`): in emit
   * order (the store keeps the order of appends), never awaited. A store whose append completes
   * at once (memory, SQLite) is called synchronously: no promise per event.
   */
  const missed = (error: unknown) => warnOnce('a run event (subscribers miss it)', error);
  const log = (runId: string, event: RunEvent): void => {
    try {
      const id = runs.appendEvent(runId, event);
      if (typeof id !== 'string') id.catch(missed);
    } catch (error) {
      missed(error);
    }
  };

  const middleware: Middleware = {
    name: 'durable-runs',
    async wrapRun(ctx, next) {
      // A sub-run is part of its parent's tool call, not a run of its own (see ToolContext.runAgent).
      if (ctx.parentCall) return next();
      const { state } = ctx;
      const runId = state.runId;
      const resumed = ctx.resumed ? taken.get(runId) : undefined;
      let run: LiveRun;
      if (resumed) {
        taken.delete(runId);
        run = { ctx, lease: resumed.lease, claimed: true, degraded: false, createdAt: resumed.createdAt, checkpoint: copyOf(state) };
      } else {
        const lease = newLease(runId);
        // A store that is down does not stop a run (as a spend window with `onStoreError: 'open'`
        // does not): it runs without lease or checkpoints, and the outage is warned about once.
        const claim = await runs.claim(runId, lease).catch((error: unknown) => void warnOnce(`the lease of run ${JSON.stringify(runId)}`, error));
        if (claim && !claim.held) throw new RunInProgressError(runId);
        if (claim?.record) {
          // Given back as it was: an ended run's lease is free again (a lapsed running one stays
          // held by this claim until its lease lapses).
          await saveNow(claim.record, lease).catch(() => false);
          throw new RunInProgressError(
            runId,
            `run ${JSON.stringify(runId)} already exists (${claim.record.status}): resume it with runtime.resume(), or give the new run another id`,
          );
        }
        run = { ctx, lease, claimed: claim !== undefined, degraded: false, createdAt: Date.now(), checkpoint: copyOf(state) };
      }
      live.set(runId, run);
      byContext.set(ctx, run);
      offCancel ??= runs.onCancel((id) => live.get(id)?.ctx.abort('cancelled'));
      const renewal = run.claimed ? setInterval(heartbeat(run), leaseMs / 3).unref() : undefined;
      try {
        const started = save(run, record(run, 'running', run.checkpoint));
        if (started) await started;
        let result: RunResult;
        try {
          result = await next();
        } catch (error) {
          if (run.claimed) await saveNow(failedRecord(run, error), run.lease).catch(() => false);
          throw error;
        }
        const final = copyOf(state);
        const end = record(run, result.stopReason === 'interrupted' ? 'interrupted' : 'completed', final);
        if (result.interruptions) end.interruptions = result.interruptions;
        else end.result = { ...result, messages: final.messages };
        // Tried even after a failed checkpoint: a run left `running` would look crashed, and be redone.
        const saved = !run.claimed || (await saveNow(end, run.lease).catch((error: unknown) => (warnOnce(`the end of run ${JSON.stringify(runId)}`, error), true)));
        if (!saved) {
          throw new RunLeaseLostError('error', `run ${JSON.stringify(runId)} ended here, but another process had taken it over: its record there counts`, progressOf(state));
        }
        return result;
      } finally {
        clearInterval(renewal);
        live.delete(runId);
      }
    },
    wrapStep(ctx, next) {
      // A sub-run's steps are not checkpointed: they pass through, with no frame here.
      if (ctx.run.parentCall) return next();
      // A continuation, not an async frame, as wrapModelCall: this layer runs on every step.
      return next().then((outcome) => {
        // A step that ends the run is recorded by the run's end record.
        if (outcome.kind !== 'continue') return outcome;
        const run = byContext.get(ctx.run) as LiveRun;
        run.checkpoint = copyOf(ctx.run.state);
        const saving = save(run, record(run, 'running', run.checkpoint));
        return saving ? saving.then(() => outcome) : outcome;
      });
    },
    wrapModelCall(ctx, next) {
      const called = next(ctx.request);
      // Only a top run's own step calls are checkpointed; the others pass through, with no frame here.
      if (ctx.purpose !== 'step' || ctx.run.parentCall) return called;
      return called.then((outcome) => {
        if (outcome.kind !== 'response' || outcome.response.toolCalls.length === 0) return outcome;
        // The spend is kept before the tools run: a resume redoes this step, and pays again.
        const run = byContext.get(ctx.run) as LiveRun;
        const saving = save(run, record(run, 'running', withSpend(run.checkpoint, ctx.run.state)));
        return saving ? saving.then(() => outcome) : outcome;
      });
    },
    onEvent(ctx, event) {
      // A sub-run's events are logged in its parent's log, as the parent's `sub-agent` events.
      if (!ctx.parentCall) log(ctx.state.runId, event);
    },
  };

  /** A failed run's record: the last step checkpoint (what a resume continues from) with the spend so far. */
  function failedRecord(run: LiveRun, error: unknown): RunRecord {
    const r = record(run, 'failed', withSpend(run.checkpoint, run.ctx.state));
    r.error = failureOf(error);
    return r;
  }

  return {
    middleware,
    runs: {
      runs: {
        get: async (runId) => {
          const r = await runs.get(runId);
          return r && infoOf(r);
        },
        list: async (query) => (await runs.list(query)).map(infoOf),
      },
      async take(runId, prepare) {
        const found = await runs.get(runId);
        if (!found) throw new RunNotFoundError(runId);
        if (found.status === 'completed' && found.result) return { result: found.result };
        const lease = newLease(runId);
        const claim = await runs.claim(runId, lease);
        if (!claim.held) throw new RunInProgressError(runId);
        const r = claim.record;
        if (!r) throw new RunNotFoundError(runId);
        if (r.status === 'completed' && r.result) {
          await saveNow(r, lease).catch(() => false);
          return { result: r.result };
        }
        try {
          prepare(r.state);
        } catch (error) {
          await saveNow(r, lease).catch(() => false);
          throw error;
        }
        taken.set(runId, { lease, createdAt: r.createdAt });
        return { state: r.state };
      },
      async cancel(runId) {
        const here = live.get(runId);
        here?.ctx.abort('cancelled');
        try {
          const asked = await runs.requestCancel(runId);
          return asked || here !== undefined;
        } catch (error) {
          if (here) return true;
          throw error;
        }
      },
      subscribe: (runId, listener, after) => runs.subscribe(runId, listener, after),
    },
  };
}

/**
 * A copy of a state as deep as a run changes it (arrays appended to or spliced; totals and
 * ledger updated in place; messages themselves are never changed): a record handed to the store
 * stays as it was, at the cost of copying arrays of references, not serialising the state.
 */
function copyOf(state: RunState): RunState {
  const copy: RunState = {
    ...state,
    messages: state.messages.slice(),
    totals: { ...state.totals },
    budget: { ...state.budget },
    pendingToolCalls: state.pendingToolCalls.slice(),
    toolResults: state.toolResults.slice(),
    approvals: state.approvals.slice(),
  };
  if (state.conversationTurn) copy.conversationTurn = state.conversationTurn.slice();
  return copy;
}

/** A checkpointed state with the run's spend as it is now (usage, cost, budget ledger, tool calls). */
function withSpend(checkpoint: RunState, now: RunState): RunState {
  return { ...checkpoint, totals: { ...now.totals }, budget: { ...now.budget } };
}

/** A record as `runtime.runs` shows it. */
function infoOf(r: RunRecord & { leaseExpired: boolean }): RunInfo {
  const info: RunInfo = { runId: r.runId, agent: r.agent, status: r.status, step: r.step, createdAt: isoTime(r.createdAt), updatedAt: isoTime(r.updatedAt) };
  if (r.conversationId !== undefined) info.conversationId = r.conversationId;
  if (r.interruptions) info.interruptions = r.interruptions;
  if (r.result) info.result = r.result;
  if (r.error) info.error = r.error;
  if (r.status === 'running' && r.leaseExpired) info.leaseExpired = true;
  return info;
}
