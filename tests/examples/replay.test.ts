/**
 * Every example ships a recording of one offline run (`npm run record:examples`), and today's
 * example agent, the default (live) one, must replay it exactly, without touching the network.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentModule } from '../../src/cli/agent-module.js';
import { readRecording } from '../../src/replay/read.js';
import { replayTrace } from '../../src/replay/replay.js';
import { collectSpans } from '../../src/testing/collect-spans.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { collectedShape, expectSameRun, forbidConnections, offline, recordedShape } from '../replay/support.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const examples = readdirSync(EXAMPLES, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

/** What an example module exports here: its live agent, and `close` when it holds a resource (an MCP server). */
type ExampleModule = { default: AgentModule['agent']; close?: () => Promise<void> };
const loaded: ExampleModule[] = [];

async function load(name: string): Promise<ExampleModule> {
  const module = (await import(pathToFileURL(join(EXAMPLES, name, 'agent.ts')).href)) as ExampleModule;
  loaded.push(module);
  return module;
}

afterAll(async () => {
  await Promise.all(loaded.map((m) => m.close?.()));
});

describe('example recordings', () => {
  it('the connection guard catches a connection attempt', async () => {
    const guard = forbidConnections();
    try {
      await expect(fetch('http://127.0.0.1:59999/v1/chat/completions')).rejects.toThrow();
    } finally {
      guard.restore();
    }
    expect(guard.attempts).toHaveLength(1);
  });

  it.each(examples)('%s ships its recording', (name) => {
    expect(existsSync(join(EXAMPLES, name, 'recording.jsonl')), `examples/${name}/recording.jsonl (npm run record:examples)`).toBe(true);
  });

  it.each(examples)('%s: the live agent replays its recording strictly, offline, identically', async (name) => {
    const file = join(EXAMPLES, name, 'recording.jsonl');
    const module = await load(name);
    const [recorded, ...others] = await readRecording(file);
    expect(others).toEqual([]);
    if (!recorded) throw new Error('no run recorded');

    const collector = collectSpans();
    const runtime = tracedRuntime({ tracerProvider: collector.tracerProvider, captureContent: true });
    const replay = await offline(() => replayTrace(file, module.default, { runtime }));

    expect(replay.differences).toEqual([]);
    expect(replay.matched).toBe(true);
    expectSameRun(replay.result, recorded);
    const shape = collectedShape(collector);
    expect(shape.attributes[ATTR.agentName]).toBe(module.default.name);
    expect(shape).toEqual(await recordedShape(file, recorded.traceId));
    const run = collector.spans().find((s) => s.name === shape.name);
    expect(run?.attributes[ATTR.replaySource]).toBe(`${file}:${recorded.source.line}#${recorded.traceId}`);
    expect(collector.open()).toEqual([]);
  });
});
