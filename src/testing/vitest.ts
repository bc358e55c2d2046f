/**
 * `tracebound/testing/vitest`: registers tracebound's matchers with vitest's `expect` and declares
 * their types. Import it once, in a test file or a vitest `setupFiles` entry. Only this entry
 * imports vitest, so the library itself never depends on it.
 */
import { expect } from 'vitest';
import { traceboundMatchers, type TraceboundMatchers } from './matchers.js';

expect.extend(traceboundMatchers);

declare module 'vitest' {
  // The type parameter and its default must repeat vitest's own declaration of `Matchers`; the
  // interface is empty because it only merges in tracebound's matchers.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Matchers<T = any> extends TraceboundMatchers<T> {}
}
