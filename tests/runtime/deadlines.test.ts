/**
 * The run's `timeoutMs` and abort signal win over a tool or a model that ignores its signal
 * (issue 10, defect 1): the run rejects, every span ends with an error, a late result goes nowhere.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { agent } from '../../src/agent.js';
import { RunAbortedError, RunTimeoutError } from '../../src/errors.js';
import type { Model, ModelResponse, ModelStreamChunk } from '../../src/providers/model.js';
import type { ToolOutcome } from '../../src/runtime/tools.js';
import { collectSpans, type SpanCollector } from '../../src/testing/collect-spans.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import type { Hooks } from '../../src/runtime/hooks.js';

const usage = { inputTokens: 100, outputTokens: 20 };
const never = () => new Promise<never>(() => {});

/** A promise settled from outside, to hand a late result to work the run abandoned. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every pending callback (microtasks and the next timers' turn) run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

const timers: NodeJS.Timeout[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const t of timers.splice(0)) clearTimeout(t);
});

/** The run's deadline in these tests, in ms. */
const TIMEOUT_MS = 300;

/**
 * Starts a run with its deadline's timer faked, and moves that timer past the deadline once
 * `reached` resolved (the tool or model call the test is about is under way); resolves with what
 * the run rejected with. On a real timer a loaded machine could let the deadline pass before
 * the run got that far, and the spans checked would not exist.
 */
async function timedOut(reached: Promise<unknown>, start: () => Promise<unknown>): Promise<unknown> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  try {
    const outcome = start().then(
      () => new Error('the run did not time out'),
      (e: unknown) => e,
    );
    await reached;
    await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
    return await outcome;
  } finally {
    vi.useRealTimers();
  }
}

function runtimeWith(hooks: Hooks = {}) {
  const spans = collectSpans();
  const runtime = tracedRuntime({ tracerProvider: spans.tracerProvider, captureContent: true, hooks });
  return { spans, runtime };
}

/** A tool that never looks at its signal. */
function deaf(execute: () => Promise<string>, timeoutMs?: number) {
  return tool({ name: 'deaf', description: 'Ignores its signal.', parameters: z.object({}), timeoutMs, execute });
}

/** A model that asks for the `deaf` tool once, then answers. */
const callsDeaf = () =>
  scriptedModel({
    provider: 'openai',
    modelId: 'gpt-4o-mini',
    respond: [{ toolCalls: [{ id: 'c1', name: 'deaf', arguments: {} }], usage }, { text: 'done', usage }],
  });

function failed(spans: SpanCollector, name: string): ReadableSpan {
  const span = spans.spans().find((s) => s.name === name);
  expect(span, name).toBeDefined();
  expect(span!.status.code, name).toBe(SpanStatusCode.ERROR);
  return span!;
}

/** Every span ended; run, step and the named span failed with `error.type` = `type`. */
function expectEndedWithError(spans: SpanCollector, names: string[], type: string): void {
  expect(spans.open()).toEqual([]);
  for (const name of names) expect(failed(spans, name).attributes[ATTR.errorType], name).toBe(type);
}

describe('a tool that ignores its signal', () => {
  it('does not hold the run past its timeoutMs: the run rejects and every span ends with timeout', async () => {
    const { spans, runtime } = runtimeWith();
    const started = deferred<void>();
    const t = deaf(() => {
      started.resolve();
      return never();
    });
    const a = agent({ name: 'calc', instructions: '', model: callsDeaf(), tools: [t] });
    const error = await timedOut(started.promise, () => runtime.run(a, 'go', { timeoutMs: TIMEOUT_MS }));
    expect(error).toBeInstanceOf(RunTimeoutError);
    expect((error as RunTimeoutError).progress.usage.inputTokens).toBe(100);
    expectEndedWithError(spans, ['invoke_agent calc', 'step 1', 'execute_tool deaf'], 'timeout');
    expect(failed(spans, 'invoke_agent calc').attributes[ATTR.stopReason]).toBe('timeout');
  });

  it('rejects on the run timeout before a slow tool finishes', async () => {
    let finished = false;
    const started = deferred<void>();
    const slow = deaf(
      () =>
        new Promise((resolve) => {
          started.resolve();
          timers.push(
            setTimeout(() => {
              finished = true;
              resolve('slow answer');
            }, 20_000),
          );
        }),
    );
    const { spans, runtime } = runtimeWith();
    const a = agent({ name: 'calc', instructions: '', model: callsDeaf(), tools: [slow] });
    expect(await timedOut(started.promise, () => runtime.run(a, 'go', { timeoutMs: TIMEOUT_MS }))).toBeInstanceOf(RunTimeoutError);
    expect(finished).toBe(false);
    expectEndedWithError(spans, ['invoke_agent calc', 'step 1', 'execute_tool deaf'], 'timeout');
  });

  it('does not hold the run past the caller abort: the run rejects and every span ends with aborted', async () => {
    const controller = new AbortController();
    const started = deferred<void>();
    const t = deaf(() => {
      started.resolve();
      return never();
    });
    const { spans, runtime } = runtimeWith();
    const a = agent({ name: 'calc', instructions: '', model: callsDeaf(), tools: [t] });
    const run = runtime.run(a, 'go', { signal: controller.signal }).catch((e: unknown) => e);
    await started.promise;
    controller.abort();
    const error = await run;
    expect(error).toBeInstanceOf(RunAbortedError);
    expectEndedWithError(spans, ['invoke_agent calc', 'step 1', 'execute_tool deaf'], 'aborted');
  });

  it('has its late result ignored: no hook, no message, no span change', async () => {
    const late = deferred<string>();
    const outcomes: ToolOutcome[] = [];
    const { spans, runtime } = runtimeWith({ afterToolCall: ({ outcome }) => void outcomes.push(outcome) });
    const model = callsDeaf();
    const started = deferred<void>();
    const t = deaf(() => {
      started.resolve();
      return late.promise;
    });
    const a = agent({ name: 'calc', instructions: '', model, tools: [t] });
    expect(await timedOut(started.promise, () => runtime.run(a, 'go', { timeoutMs: TIMEOUT_MS }))).toBeInstanceOf(RunTimeoutError);
    const ended = spans.spans().length;
    const toolSpan = failed(spans, 'execute_tool deaf');
    const attributes = { ...toolSpan.attributes };

    late.resolve('late answer');
    await settle();

    expect(outcomes.map((o) => o.errorType)).toEqual(['timeout']);
    expect(outcomes.some((o) => o.content.includes('late answer'))).toBe(false);
    expect(model.requests).toHaveLength(1);
    expect(spans.spans()).toHaveLength(ended);
    expect(toolSpan.attributes).toEqual(attributes);
    expect(spans.open()).toEqual([]);
  });

  it('loses to its own timeoutMs, and the run goes on', async () => {
    const { spans, runtime } = runtimeWith();
    const a = agent({ name: 'calc', instructions: '', model: callsDeaf(), tools: [deaf(never, 50)] });
    const result = await runtime.run(a, 'go');
    expect(result.stopReason).toBe('final');
    expect(result.messages.find((m) => m.role === 'tool')?.content).toMatch(/timed out after 50 ms/);
    expect(failed(spans, 'execute_tool deaf').attributes[ATTR.errorType]).toBe('timeout');
    expect(spans.open()).toEqual([]);
  });
});

describe('a model that ignores its signal', () => {
  /** A custom Model whose calls wait on `answer` (never settling unless it is resolved); `called` when one starts. */
  function deafModel(answer: Promise<ModelResponse>, called = () => {}): Model {
    return {
      provider: 'openai',
      modelId: 'gpt-4o-mini',
      generate: () => {
        called();
        return answer;
      },
      async *stream(): AsyncIterable<ModelStreamChunk> {
        called();
        yield { type: 'response', response: await answer };
      },
    };
  }
  const response: ModelResponse = { text: 'late answer', toolCalls: [], finishReason: 'stop', usage: { ...usage, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0 } };

  it.each([['run'], ['stream']] as const)('does not hold %s() past its timeoutMs, and its late answer goes nowhere', async (how) => {
    const late = deferred<ModelResponse>();
    const answers: ModelResponse[] = [];
    const { spans, runtime } = runtimeWith({ afterModelCall: ({ response: r }) => void answers.push(r) });
    const called = deferred<void>();
    const a = agent({ name: 'calc', instructions: '', model: deafModel(late.promise, called.resolve) });
    const error = await timedOut(called.promise, () =>
      how === 'run'
        ? runtime.run(a, 'go', { timeoutMs: TIMEOUT_MS })
        : (async () => {
            for await (const event of runtime.stream(a, 'go', { timeoutMs: TIMEOUT_MS })) void event;
          })(),
    );
    expect(error).toBeInstanceOf(RunTimeoutError);
    expect((error as RunTimeoutError).progress.usage.inputTokens).toBe(0);
    expectEndedWithError(spans, ['invoke_agent calc', 'step 1', 'chat gpt-4o-mini'], 'timeout');
    const chat = failed(spans, 'chat gpt-4o-mini');
    const attributes = { ...chat.attributes };

    late.resolve(response);
    await settle();
    expect(answers).toEqual([]);
    expect(chat.attributes).toEqual(attributes);
    expect(chat.attributes[ATTR.usageInputTokens]).toBeUndefined();
  });

  it('does not hold the run past the caller abort', async () => {
    const controller = new AbortController();
    const { spans, runtime } = runtimeWith({ beforeModelCall: () => void setTimeout(() => controller.abort(), 10) });
    const a = agent({ name: 'calc', instructions: '', model: deafModel(never()) });
    await expect(runtime.run(a, 'go', { signal: controller.signal })).rejects.toBeInstanceOf(RunAbortedError);
    expectEndedWithError(spans, ['invoke_agent calc', 'step 1', 'chat gpt-4o-mini'], 'aborted');
  });

  it('is not called when the caller signal aborted before the run started', async () => {
    const model = callsDeaf();
    const { spans, runtime } = runtimeWith();
    const a = agent({ name: 'calc', instructions: '', model });
    await expect(runtime.run(a, 'go', { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(RunAbortedError);
    expect(model.requests).toHaveLength(0);
    expect(spans.open()).toEqual([]);
  });
});
