/** What a test reads from a promise that must reject. */
import { expect } from 'vitest';
import { ModelCallError } from '../../src/providers/errors.js';

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * The `ModelCallError` a provider's call rejects with, checked to name `provider` and to keep
 * `secret` (the test's API key) out of its message.
 */
export async function modelCallFailure(promise: Promise<unknown>, provider: string, secret: string): Promise<ModelCallError> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(ModelCallError);
  const mapped = error as ModelCallError;
  expect(mapped.provider).toBe(provider);
  expect(mapped.message).not.toContain(secret);
  return mapped;
}
