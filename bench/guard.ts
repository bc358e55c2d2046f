/**
 * What the budget guard costs per model call: the scenario of bench/overhead.ts (3 steps: 2
 * parallel tool calls, 1 tool call, final answer; the model answers at once) in batches of 100
 * concurrent runs, with no budget, a run USD limit (no store), and an agent spend window in the
 * memory store and in Redis (a throwaway redis-server, or `REDIS_URL`); each untraced
 * (`createRuntime`, the guard alone) and traced (`tracedRuntime`, in-memory exporter).
 *
 * Round trips to Redis are counted, not assumed: commands sent on the store's own ioredis client,
 * and scripts the server ran (its `evalsha`/`eval` command stats), each divided by model calls.
 *
 * Run with `npm run bench:guard`. Prints a table, then a `BENCH_JSON` line followed by the
 * figures as one JSON line.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Redis } from 'ioredis';
import { agent } from '../src/agent.js';
import type { BudgetPolicy } from '../src/budget/policy.js';
import type { Store } from '../src/state/store.js';
import { memoryStore } from '../src/state/memory.js';
import { redisStore } from '../src/state/redis.js';
import { tokenCounterFor } from '../src/budget/tokens.js';
import type { ModelRequest } from '../src/providers/model.js';
import { createRuntime } from '../src/create-runtime.js';
import type { Runtime } from '../src/runtime/runtime.js';
import type { ScriptedModel } from '../src/testing/scripted-model.js';
import { add, AGENT_NAME, BATCH, INPUT, INSTRUCTIONS, makeModel, usage, useContextManager } from './scenario.js';
import { tracedRuntime } from '../src/telemetry/traced-runtime.js';
import { startRedis } from '../tests/support/redis.js';
import { median, rotate } from './stats.js';

const CALLS_PER_RUN = 3;
/** 1 run + 3 step + 3 chat + 3 tool spans. */
const SPANS_PER_RUN = 10;
const CONCURRENCY = 100;
const BATCHES_PER_ROUND = 5;
const WARMUP_ROUNDS = 3;
const ROUNDS = 12;
const COUNT_RUNS = 2_000;
/** Far above what the bench spends, so every call is allowed whole and no run stops early. */
const LARGE_USD = 1_000_000;
const TARGET = { roundTripsPerCall: 2, redisCallsPerSec: 5_000 } as const;



type BudgetKind = 'none' | 'run' | 'memory' | 'redis';

const BUDGETS: Record<BudgetKind, { label: string; policy: BudgetPolicy }> = {
  none: { label: 'no budget', policy: {} },
  run: { label: 'runCostUsd (no store)', policy: { runCostUsd: LARGE_USD } },
  memory: { label: 'spend, memoryStore', policy: { spend: { usd: LARGE_USD, window: '1h' } } },
  redis: { label: 'spend, redisStore', policy: { spend: { usd: LARGE_USD, window: '1h' } } },
};

/** Commands sent on the Redis store's client, counted on that instance only. */
let redisCommands = 0;

interface Variant {
  key: string;
  label: string;
  budget: BudgetKind;
  traced: boolean;
  model: ScriptedModel;
  runtime: Runtime;
  flush: () => Promise<void>;
  /** Forgets the exported spans; returns how many there were. */
  drain: () => number;
  usPerCall: number[];
  calls: number;
  commands: number;
  server: ServerStats;
}

/** What redis-server reports doing: scripts run, µs spent running them, CPU seconds of the process. */
interface ServerStats {
  scripts: number;
  scriptUs: number;
  cpuSeconds: number;
}

function tracing(traced: boolean) {
  if (!traced) return { provider: undefined, flush: async () => {}, drain: () => 0 };
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, BATCH)] });
  return {
    provider,
    flush: () => provider.forceFlush(),
    drain: () => {
      const n = exporter.getFinishedSpans().length;
      exporter.reset();
      return n;
    },
  };
}

function variant(budget: BudgetKind, traced: boolean, store: Store | undefined): Variant {
  const model = makeModel();
  const t = tracing(traced);
  const options = store ? { budgetStore: store } : {};
  const runtime = t.provider ? tracedRuntime({ tracerProvider: t.provider, ...options }) : createRuntime(options);
  return {
    key: `${traced ? 'traced' : 'untraced'}-${budget}`,
    label: `${traced ? 'traced' : 'untraced'}, ${BUDGETS[budget].label}`,
    budget,
    traced,
    model,
    runtime,
    flush: t.flush,
    drain: t.drain,
    usPerCall: [],
    calls: 0,
    commands: 0,
    server: { scripts: 0, scriptUs: 0, cpuSeconds: 0 },
  };
}

async function serverStats(admin: Redis): Promise<ServerStats> {
  const stats = await admin.info('commandstats');
  const cpu = await admin.info('cpu');
  let scripts = 0;
  let scriptUs = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/gm)) {
    scripts += Number(match[1]);
    scriptUs += Number(match[2]);
  }
  const seconds = (name: string) => Number(new RegExp(`^used_cpu_${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
  return { scripts, scriptUs, cpuSeconds: seconds('user') + seconds('sys') };
}

const NO_STATS: ServerStats = { scripts: 0, scriptUs: 0, cpuSeconds: 0 };

/**
 * One round's block of a variant: BATCHES_PER_ROUND x Promise.all of CONCURRENCY runs, span export
 * included in the time. Returns µs per model call; checks each run took the scripted path and
 * that the guard did (or did not) set max output tokens.
 */
async function block(v: Variant, admin: Redis): Promise<{ usPerCall: number; calls: number; commands: number; server: ServerStats }> {
  useContextManager(v.traced);
  const agentOf = agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model: v.model, tools: [add], budget: BUDGETS[v.budget].policy });
  const serverBefore = v.budget === 'redis' ? await serverStats(admin) : NO_STATS;
  const commandsBefore = redisCommands;
  const started = performance.now();
  for (let b = 0; b < BATCHES_PER_ROUND; b++) {
    const results = await Promise.all(Array.from({ length: CONCURRENCY }, () => v.runtime.run(agentOf, INPUT)));
    for (const r of results) {
      if (r.stopReason !== 'final' || r.steps !== CALLS_PER_RUN) throw new Error(`${v.key}: run stopped with ${r.stopReason} after ${r.steps} steps`);
    }
  }
  await v.flush();
  const elapsed = performance.now() - started;
  const commands = redisCommands - commandsBefore;
  const serverAfter = v.budget === 'redis' ? await serverStats(admin) : NO_STATS;
  const calls = v.model.requests.length;
  if (calls !== CONCURRENCY * BATCHES_PER_ROUND * CALLS_PER_RUN) throw new Error(`${v.key}: ${calls} model calls`);
  const spans = v.drain();
  if (v.traced && spans !== CONCURRENCY * BATCHES_PER_ROUND * SPANS_PER_RUN) throw new Error(`${v.key}: ${spans} spans exported`);
  const guarded = v.budget !== 'none';
  if (v.model.requests.some((r) => (r.maxOutputTokens !== undefined) !== guarded)) {
    throw new Error(`${v.key}: the guard ${guarded ? 'did not set' : 'set'} max output tokens`);
  }
  v.model.requests.length = 0;
  const server = {
    scripts: serverAfter.scripts - serverBefore.scripts,
    scriptUs: serverAfter.scriptUs - serverBefore.scriptUs,
    cpuSeconds: serverAfter.cpuSeconds - serverBefore.cpuSeconds,
  };
  return { usPerCall: (elapsed * 1000) / calls, calls, commands, server };
}

/**
 * µs per model call of the prompt counting a USD limit adds untraced, a fresh counter per run:
 * `exact` counts and observes every call (a call near a limit, or under a spend window); `bound`
 * takes the upper bound and leaves the report for a later count (a call far from every limit,
 * which is what the runCostUsd rows above make).
 */
function countingUsPerCall(requests: readonly ModelRequest[], mode: 'exact' | 'bound'): number {
  const model = makeModel();
  const samples: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < COUNT_RUNS; i++) {
      const counter = tokenCounterFor(model);
      for (const request of requests) {
        if (mode === 'exact') counter.observe(counter.count(request), usage.inputTokens);
        else if (counter.upperBound(request) !== undefined) counter.observeUncounted(request, usage.inputTokens);
      }
    }
    if (round >= WARMUP_ROUNDS) samples.push(((performance.now() - started) * 1000) / (COUNT_RUNS * requests.length));
  }
  return median(samples);
}



function countedClient(url: string): Redis {
  // The options the store documents for a caller's client, so the bench measures what users run.
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
  const send = client.sendCommand.bind(client);
  client.sendCommand = (...args: Parameters<Redis['sendCommand']>) => {
    redisCommands++;
    return send(...args);
  };
  return client;
}

async function main(): Promise<void> {
  const external = process.env.REDIS_URL;
  const server = external ? undefined : await startRedis();
  const url = external ?? server!.url;
  const admin = new Redis(url);
  const clients: Redis[] = [];
  const variants: Variant[] = [];
  try {
    for (const traced of [false, true]) {
      for (const budget of Object.keys(BUDGETS) as BudgetKind[]) {
        let store: Store | undefined;
        if (budget === 'memory') store = memoryStore();
        if (budget === 'redis') {
          const client = countedClient(url);
          await client.connect();
          clients.push(client);
          store = redisStore({ client });
        }
        variants.push(variant(budget, traced, store));
      }
    }

    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      // A different variant goes first each round, so drift (JIT, GC, CPU clock) hits all alike.
      for (const v of rotate(variants, round)) {
        const b = await block(v, admin);
        if (round < WARMUP_ROUNDS) continue;
        v.usPerCall.push(b.usPerCall);
        v.calls += b.calls;
        v.commands += b.commands;
        v.server.scripts += b.server.scripts;
        v.server.scriptUs += b.server.scriptUs;
        v.server.cpuSeconds += b.server.cpuSeconds;
      }
    }
    // The scenario's three requests, as the guard counted them.
    const probe = makeModel();
    await createRuntime().run(agent({ name: AGENT_NAME, instructions: INSTRUCTIONS, model: probe, tools: [add] }), INPUT);
    const countUs = { exact: countingUsPerCall(probe.requests, 'exact'), bound: countingUsPerCall(probe.requests, 'bound') };
    report(variants, countUs, server ? 'throwaway redis-server' : url.replace(/\/\/[^@]*@/, '//'), await admin.info('server'));
  } finally {
    await Promise.all(clients.map((c) => c.quit()));
    await admin.quit();
    await server?.stop();
  }
}

function report(variants: Variant[], countUs: { exact: number; bound: number }, redisWhere: string, redisInfo: string): void {
  const figures = variants.map((v) => {
    const usPerCall = median(v.usPerCall);
    const redis = v.budget === 'redis';
    return {
      variant: v.key,
      label: v.label,
      budget: v.budget,
      traced: v.traced,
      usPerCall,
      usPerCallMin: Math.min(...v.usPerCall),
      callsPerSec: 1e6 / usPerCall,
      calls: v.calls,
      clientCommandsPerCall: redis ? v.commands / v.calls : undefined,
      serverScriptsPerCall: redis ? v.server.scripts / v.calls : undefined,
      serverUsPerScript: redis ? v.server.scriptUs / v.server.scripts : undefined,
      serverCpuUsPerCall: redis ? (v.server.cpuSeconds * 1e6) / v.calls : undefined,
    };
  });
  const baseline = (traced: boolean) => figures.find((f) => f.traced === traced && f.budget === 'none')!;
  const rows = figures.map((f) => ({
    ...f,
    overheadUsPerCall: f.usPerCall - baseline(f.traced).usPerCall,
    ratio: f.usPerCall / baseline(f.traced).usPerCall,
  }));
  const redisRows = rows.filter((f) => f.budget === 'redis');
  const roundTrips = Math.max(...redisRows.map((f) => Math.max(f.clientCommandsPerCall!, f.serverScriptsPerCall!)));
  const untracedRedis = rows.find((f) => !f.traced && f.budget === 'redis')!;
  const untracedRun = rows.find((f) => !f.traced && f.budget === 'run')!;
  const verdict = {
    roundTripsPerCall: roundTrips <= TARGET.roundTripsPerCall,
    redisCallsPerSec: untracedRedis.callsPerSec >= TARGET.redisCallsPerSec,
  };
  const share = (us: number) => (untracedRun.overheadUsPerCall > 0 ? us / untracedRun.overheadUsPerCall : undefined);
  const counting = {
    exact: { usPerCall: countUs.exact, shareOfRunOverhead: share(countUs.exact) },
    bound: { usPerCall: countUs.bound, shareOfRunOverhead: share(countUs.bound) },
  };

  const env = {
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    redis: redisWhere,
    redisVersion: /^redis_version:(\S+)/m.exec(redisInfo)?.[1] ?? 'unknown',
    rounds: ROUNDS,
    warmupRounds: WARMUP_ROUNDS,
    concurrency: CONCURRENCY,
    batchesPerRound: BATCHES_PER_ROUND,
    callsPerRun: CALLS_PER_RUN,
    batchSpanProcessor: BATCH,
  };

  const num = (n: number, width = 8, digits = 2) => n.toFixed(digits).padStart(width);
  const opt = (n: number | undefined) => (n === undefined ? '     -' : num(n, 6));
  const mark = (ok: boolean) => (ok ? 'ok' : 'MISSED');
  console.log(`tracebound budget guard: ${env.node}, ${env.cpu} x${env.cpus}, redis ${env.redisVersion} (${redisWhere})`);
  console.log(
    `scenario: 3 model calls/run (2 parallel tool calls, 1 tool call, final answer); ${BATCHES_PER_ROUND} x Promise.all of ${CONCURRENCY} runs per block; ` +
      `${ROUNDS} rounds (+${WARMUP_ROUNDS} warm-up), order rotated each round; medians (min)`,
  );
  console.log('untraced: createRuntime, no context manager; traced: tracedRuntime, in-memory exporter, span export included in the time');
  console.log(`limits far above the spend (${LARGE_USD} USD), so every call is reserved whole and settled\n`);
  console.log('variant                                  µs/call (min)     calls/s   overhead µs/call   ratio   cmds/call   scripts/call   server µs/script   server CPU µs/call');
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(38)} ${num(r.usPerCall)} (${num(r.usPerCallMin)})  ${num(r.callsPerSec, 9, 0)}   ${num(r.overheadUsPerCall, 16)}  ${num(r.ratio, 5)}x      ${opt(r.clientCommandsPerCall)}         ${opt(r.serverScriptsPerCall)}             ${opt(r.serverUsPerScript)}               ${opt(r.serverCpuUsPerCall)}`,
    );
  }
  console.log('server µs/script: redis-server\'s own time in evalsha/eval (commandstats usec); server CPU: its user+sys CPU, which shares this machine\'s cores with node');
  console.log('');
  console.log(`Redis round trips per model call:  ${roundTrips.toFixed(2)} (commands on the store's client; scripts run by the server)   target <= ${TARGET.roundTripsPerCall}   ${mark(verdict.roundTripsPerCall)}`);
  console.log(`untraced, redisStore, model calls/s (each one reserve + settle):  ${untracedRedis.callsPerSec.toFixed(0)}   target >= ${TARGET.redisCallsPerSec}   ${mark(verdict.redisCallsPerSec)}`);
  const shareText = (c: { shareOfRunOverhead: number | undefined }) =>
    c.shareOfRunOverhead === undefined ? '' : ` (${(c.shareOfRunOverhead * 100).toFixed(0)}% of the untraced runCostUsd overhead)`;
  console.log(
    `prompt tokens per call, fresh counter per run: upper bound ${countUs.bound.toFixed(2)} µs${shareText(counting.bound)} far from the limits (the rows above); ` +
      `exact count + observe (openai tokenizer) ${countUs.exact.toFixed(2)} µs${shareText(counting.exact)} near a limit or with a spend window; ` +
      'runs without a USD or context limit do neither (traced ones take utilization from the reported tokens)',
  );
  console.log('BENCH_JSON');
  console.log(JSON.stringify({ benchmark: 'guard', env, targets: TARGET, figures: rows, counting, roundTripsPerCall: roundTrips, verdict }));
}

await main();
