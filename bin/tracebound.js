#!/usr/bin/env node
// Runs the built CLI when there is one; otherwise the TypeScript sources through tsx, so the
// command works from a fresh checkout without a build step.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
let cli;
if (existsSync(built)) {
  cli = await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(new URL('../src/cli/main.ts', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
