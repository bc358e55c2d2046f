/**
 * Time limits for tests that start Node child processes (tsx workers, the CLI). Each child spends
 * seconds compiling and importing on the 2-core CI machine, which runs the other test files, a
 * browser and redis-servers beside it: there the default 30 s per test (vitest.config.ts) ran out
 * for tests that start two children, and a served CLI took over 20 s to print its address.
 */

/** Per test (ms) for a test that starts child processes. */
export const CHILD_PROCESS_TEST_MS = 90_000;

/** How long (ms) to wait for one child to say it is ready; below {@link CHILD_PROCESS_TEST_MS}, so the error names the child that did not start. */
export const CHILD_START_MS = 45_000;
