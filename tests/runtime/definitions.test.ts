import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { agent } from '../../src/agent.js';
import { DefinitionError } from '../../src/errors.js';
import { ModelCallError, retryAfterMs } from '../../src/providers/errors.js';
import { DEFAULT_RETRY, retryDelayMs, shouldRetry } from '../../src/runtime/retry.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

const model = scriptedModel({ respond: [] });
const ok = tool({ name: 'ok', description: 'Fine.', parameters: z.object({ q: z.string() }), execute: () => 'ok' });

function definitionError(fn: () => unknown): DefinitionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DefinitionError) return error;
    throw error;
  }
  throw new Error('expected a DefinitionError');
}

describe('definitions', () => {
  it('turns a zod schema into the JSON Schema the model sees', () => {
    expect(ok.definition).toEqual({
      name: 'ok',
      description: 'Fine.',
      parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
    });
  });

  it('rejects bad tools naming the field', () => {
    const base = { name: 'ok', description: 'd', parameters: z.object({}), execute: () => 1 };
    expect(definitionError(() => tool({ ...base, name: 'has space' })).field).toBe('name');
    expect(definitionError(() => tool({ ...base, description: ' ' })).field).toBe('description');
    expect(definitionError(() => tool({ ...base, parameters: z.string() })).message).toMatch(/parameters must describe an object/);
    expect(definitionError(() => tool({ ...base, timeoutMs: -5 })).field).toBe('timeoutMs');
  });

  it('names a zod 3 schema as such and asks for zod 4', () => {
    const base = { name: 'ok', description: 'd', execute: () => 1 };
    const zod3 = definitionError(() => tool({ ...base, parameters: z3.object({ city: z3.string() }) as never }));
    expect(zod3.field).toBe('parameters');
    expect(zod3.message).toMatch(/parameters is a zod 3 schema: tracebound takes zod 4 schemas \(install zod@\^4/);
    const plain = definitionError(() => tool({ ...base, parameters: { type: 'object' } as never }));
    expect(plain.message).toMatch(/parameters must be a zod 4 schema, e.g. z\.object/);
  });

  it('rejects bad agents and budget policies naming the field', () => {
    expect(definitionError(() => agent({ name: '', instructions: '', model })).field).toBe('name');
    expect(definitionError(() => agent({ name: 'a', instructions: '', model: {} as never })).field).toBe('model');
    expect(definitionError(() => agent({ name: 'a', instructions: '', model, tools: [ok, ok] })).field).toBe('tools[1].name');
    const steps = definitionError(() => agent({ name: 'a', instructions: '', model, budget: { maxSteps: 0 } }));
    expect(steps.field).toBe('budget.maxSteps');
    expect(steps.message).toMatch(/^agent\("a"\): budget\.maxSteps /);
    expect(definitionError(() => agent({ name: 'a', instructions: '', model, budget: { spend: { usd: 1, window: 'soon' } } })).field).toBe('budget.spend.window');
    expect(definitionError(() => agent({ name: 'a', instructions: '', model, budget: { maxStep: 3 } as never })).message).toMatch(/maxStep/);
  });
});

describe('retry policy', () => {
  const err = (kind: ConstructorParameters<typeof ModelCallError>[1]['kind'], retryAfter?: number) =>
    new ModelCallError('x', { kind, provider: 'openai', retryAfterMs: retryAfter });

  it('retries transient errors only, up to maxRetries', () => {
    expect(shouldRetry(err('rate_limit'), 1, DEFAULT_RETRY)).toBe(true);
    expect(shouldRetry(err('overloaded'), 2, DEFAULT_RETRY)).toBe(true);
    expect(shouldRetry(err('server_error'), 3, DEFAULT_RETRY)).toBe(false);
    expect(shouldRetry(err('authentication'), 1, DEFAULT_RETRY)).toBe(false);
    expect(shouldRetry(err('context_length_exceeded'), 1, DEFAULT_RETRY)).toBe(false);
    expect(shouldRetry(new Error('plain'), 1, DEFAULT_RETRY)).toBe(false);
  });

  it('honours retry-after, capped, and backs off exponentially with jitter otherwise', () => {
    const policy = { maxRetries: 5, initialDelayMs: 100, maxDelayMs: 1_000 };
    expect(retryDelayMs(1, policy, err('rate_limit', 300))).toBe(300);
    expect(retryDelayMs(1, policy, err('rate_limit', 60_000))).toBe(1_000);
    expect(retryDelayMs(1, policy, err('server_error'), () => 1)).toBe(100);
    expect(retryDelayMs(3, policy, err('server_error'), () => 0)).toBe(200);
    expect(retryDelayMs(9, policy, err('server_error'), () => 1)).toBe(1_000);
  });

  it('reads retry-after-ms, retry-after seconds and HTTP dates', () => {
    const headers = (h: Record<string, string>) => new Headers(h);
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(retryAfterMs(headers({ 'retry-after': '2' }))).toBe(2_000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }), now)).toBe(3_000);
    expect(retryAfterMs(headers({}))).toBeUndefined();
  });
});
