/** What every subcommand writes to and returns through: the CLI's io types. */

/** Where the CLI writes; `process.stdout`/`stderr` in production, buffers in tests. */
export interface CliIo {
  /** Writes text as is (callers add the newlines). */
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout gets ANSI colours (see {@link colorEnabled}). */
  color: boolean;
}

/** What a subcommand's action gets: the io, and the exit code it sets for `main` to return. */
export interface CliContext extends CliIo {
  /** 0 ok, 1 run failed or diverged, 2 bad usage or bad input (the CLI's documented exit codes). */
  exitCode: number;
}

/**
 * Whether to colour output: only on a terminal, and never when `NO_COLOR` is set to a non-empty
 * value (no-color.org).
 */
export function colorEnabled(env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  return isTTY && !env.NO_COLOR;
}
