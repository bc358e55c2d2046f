/**
 * Regenerates each example's `recording.jsonl` (`npm run record:examples`): runs the example once,
 * offline, through its real provider SDK against the local server replaying its recorded traffic,
 * and writes the run's trace. The example tests replay these recordings with the live agent.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AgentModule } from '../src/cli/agent-module.js';
import { recordRun } from '../src/testing/record.js';

const examples = join(import.meta.dirname, '..', 'examples');

for (const entry of await readdir(examples, { withFileTypes: true })) {
  if (!entry.isDirectory()) continue;
  const dir = join(examples, entry.name);
  const module = (await import(pathToFileURL(join(dir, 'agent.ts')).href)) as Partial<Omit<AgentModule, 'path' | 'agent'>>;
  if (!module.offline || module.input === undefined) {
    throw new Error(`examples/${entry.name}/agent.ts must export \`offline\` and \`input\` to be recorded`);
  }
  const traceFile = join(dir, 'recording.jsonl');
  // recordRun appends: start from an empty file so the recording holds exactly this run.
  await rm(traceFile, { force: true });
  const setup = await module.offline.start();
  try {
    const { result } = await recordRun(setup.agent, module.input, { traceFile });
    console.log(`examples/${entry.name}/recording.jsonl: ${result.steps} steps, ${result.toolCalls} tool calls, ${result.stopReason}`);
  } finally {
    await setup.close();
    await module.close?.();
  }
}
