/**
 * The `langfuse` exporter against a Langfuse-shaped receiver (`/api/public/otel/v1/traces`,
 * Basic auth): what LangfuseSpanProcessor sends decodes to the demo's observations with their
 * usage and cost; missing keys fail at `tracedRuntime()`; and no key or secret is in any exported
 * byte, header or trace file.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LANGFUSE_SDK_VERSION } from '@langfuse/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { offline, input as demoInput } from '../../examples/release-notes/agent.js';
import { agent } from '../../src/agent.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { openai } from '../../src/providers/openai.js';
import type { RunResult } from '../../src/runtime/events.js';
import { loadFixture, startRecordedServer } from '../../src/testing/recorded-server.js';
import { ATTR } from '../../src/tracing/attributes.js';
import { TracingConfigError } from '../../src/telemetry/setup.js';
import { runtimeWith, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';

const PUBLIC_KEY = 'pk-lf-0b3c5d7e-public';
const SECRET_KEY = 'sk-lf-9f8e7d6c-SECRET-do-not-leak';
const BASIC = `Basic ${Buffer.from(`${PUBLIC_KEY}:${SECRET_KEY}`).toString('base64')}`;

/** A Langfuse-shaped receiver: only its OTLP path, only with the project's Basic auth. */
function langfuseReceiver(): Promise<OtlpReceiver> {
  return startOtlpReceiver((path, headers) => {
    if (path !== '/api/public/otel/v1/traces') return `no route ${path}`;
    if (headers.authorization !== BASIC) return 'invalid credentials';
    return undefined;
  });
}

let langfuse: OtlpReceiver;

beforeEach(async () => {
  langfuse = await langfuseReceiver();
});

afterEach(async () => {
  await langfuse.close();
});

describe("exporter: 'langfuse'", () => {
  it('sends the demo as Langfuse observations: agent, generations with usage and cost details, tools', async () => {
    const runtime = runtimeWith(
      { LANGFUSE_PUBLIC_KEY: PUBLIC_KEY, LANGFUSE_SECRET_KEY: SECRET_KEY, LANGFUSE_BASE_URL: `${langfuse.url}/` },
      { exporter: 'langfuse' },
    );
    const setup = await offline.start();
    const result = await runtime.run(setup.agent, demoInput, { conversationId: 'session-42' }).finally(() => setup.close());
    await runtime.shutdown();

    expect(langfuse.requests.length).toBeGreaterThan(0);
    for (const r of langfuse.requests) {
      expect(r.status).toBe(200);
      expect(r.headers.authorization).toBe(BASIC);
      expect(r.headers['x-langfuse-sdk-name']).toBe('javascript');
      expect(r.headers['x-langfuse-sdk-version']).toBe(LANGFUSE_SDK_VERSION);
      expect(r.headers['x-langfuse-public-key']).toBe(PUBLIC_KEY);
      expect(r.headers['content-type']).toBe('application/json');
    }
    const spans = langfuse.spans();
    // Run, 2 steps, 2 chats, 3 tools, and the conversation's load and save (the run has a conversationId).
    expect(spans).toHaveLength(10);
    const type = (name: string) => spans.filter((s) => s.name.startsWith(name)).map((s) => s.attributes[ATTR.langfuseObservationType]);
    expect(type('invoke_agent')).toEqual(['agent']);
    expect(type('chat')).toEqual(['generation', 'generation']);
    expect(type('execute_tool')).toEqual(['tool', 'tool', 'tool']);
    // Steps carry no observation type: Langfuse shows them as spans.
    expect(type('step')).toEqual([undefined, undefined]);
    expect(type('load_conversation')).toEqual([undefined]);
    expect(type('save_conversation')).toEqual([undefined]);

    const run = spans.find((s) => s.name === 'invoke_agent release-notes')!;
    expect(run.attributes[ATTR.langfuseTraceName]).toBe('release-notes');
    expect(run.attributes[ATTR.langfuseSessionId]).toBe('session-42');

    const chats = spans.filter((s) => s.name === 'chat gpt-4o-mini').sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano));
    const usage = chats.map((c) => JSON.parse(String(c.attributes[ATTR.langfuseUsageDetails])) as { input: number; output: number });
    // The recorded responses: 259/78 then 377/85 tokens, none cached.
    expect(usage).toEqual([
      { input: 259, input_cache_read: 0, input_cache_creation: 0, output: 78, output_reasoning_tokens: 0, total: 337 },
      { input: 377, input_cache_read: 0, input_cache_creation: 0, output: 85, output_reasoning_tokens: 0, total: 462 },
    ]);
    expect(usage.reduce((sum, u) => sum + u.input, 0)).toBe(result.usage.inputTokens);
    expect(usage.reduce((sum, u) => sum + u.output, 0)).toBe(result.usage.outputTokens);
    const cost = chats.map((c) => JSON.parse(String(c.attributes[ATTR.langfuseCostDetails])) as { input: number; output: number; total: number });
    for (const [i, c] of cost.entries()) {
      expect(c.total).toBe(chats[i]!.attributes[ATTR.costAmount]);
      expect(c.input + c.output).toBeCloseTo(c.total, 12);
      expect(c.total).toBeGreaterThan(0); // never $0 for a priced call
    }
    expect(cost[0]!.total + cost[1]!.total).toBeCloseTo(result.costUsd!, 12);
    for (const c of chats) expect(c.attributes[ATTR.langfuseModelName]).toBe('gpt-4o-mini');
    expect(runtime.exportStats().dropped).toBe(0);
  });

  it('with content captured: the agent observation carries input and output, a streamed generation its completion start time, reasoning its own usage key', async () => {
    const provider = await startRecordedServer();
    try {
      const anthropicFixtures = join(import.meta.dirname, '..', 'fixtures', 'anthropic');
      const openaiFixtures = join(import.meta.dirname, '..', 'fixtures', 'openai');
      provider.enqueue('/v1/messages', await loadFixture(join(anthropicFixtures, 'stream-thinking.sse')));
      provider.enqueue('/v1/responses', await loadFixture(join(openaiFixtures, 'responses-reasoning.json')));
      const runtime = runtimeWith(
        { LANGFUSE_PUBLIC_KEY: PUBLIC_KEY, LANGFUSE_SECRET_KEY: SECRET_KEY, LANGFUSE_BASE_URL: langfuse.url },
        { exporter: 'langfuse', captureContent: true },
      );
      const claude = agent({
        name: 'streamer',
        instructions: '',
        model: anthropic('claude-sonnet-4-20250514', { baseURL: provider.url, apiKey: 'sk-ant-test' }),
      });
      const thinker = agent({
        name: 'thinker',
        instructions: '',
        model: openai('gpt-5', { baseURL: `${provider.url}/v1`, apiKey: 'sk-test', api: 'responses' }),
      });
      let streamed: RunResult<string> | undefined;
      for await (const event of runtime.stream(claude, 'How do I cross the street?')) if (event.type === 'run-end') streamed = event.result;
      const reasoned = await runtime.run(thinker, 'How do I cross the street?');
      await runtime.shutdown();

      const spans = langfuse.spans();
      const run = spans.find((s) => s.name === 'invoke_agent streamer')!;
      const input = [{ role: 'user', parts: [{ type: 'text', content: 'How do I cross the street?' }] }];
      expect(JSON.parse(String(run.attributes[ATTR.langfuseObservationInput]))).toEqual(input);
      expect(run.attributes[ATTR.langfuseObservationOutput]).toBe(streamed!.output);
      expect(streamed!.output.length).toBeGreaterThan(0);

      const chat = spans.find((s) => s.name === 'chat claude-sonnet-4-20250514')!;
      const completionStart = chat.attributes[ATTR.langfuseCompletionStartTime];
      // An ISO 8601 string, the form Langfuse's ingestion parses, within the generation's span.
      expect(completionStart).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const at = BigInt(Date.parse(String(completionStart))) * 1_000_000n;
      expect(at).toBeGreaterThanOrEqual(chat.startTimeUnixNano - 1_000_000n);
      expect(at).toBeLessThanOrEqual(chat.endTimeUnixNano);

      // gpt-5 spent 1920 of its output tokens reasoning (the recorded usage).
      const generation = spans.find((s) => s.name === 'chat gpt-5')!;
      const usage = JSON.parse(String(generation.attributes[ATTR.langfuseUsageDetails])) as Record<string, number>;
      expect(reasoned.usage.reasoningTokens).toBe(1920);
      expect(usage.output_reasoning_tokens).toBe(1920);
      expect(usage.output).toBe(reasoned.usage.outputTokens - 1920);
      expect(usage.total).toBe(reasoned.usage.inputTokens + reasoned.usage.outputTokens);
      // An unstreamed generation has no completion start time to show.
      expect(generation.attributes[ATTR.langfuseCompletionStartTime]).toBeUndefined();
    } finally {
      await provider.close();
    }
  });

  it('reads the older LANGFUSE_HOST when LANGFUSE_BASE_URL is unset', async () => {
    const runtime = runtimeWith({ LANGFUSE_PUBLIC_KEY: PUBLIC_KEY, LANGFUSE_SECRET_KEY: SECRET_KEY, LANGFUSE_HOST: langfuse.url }, { exporter: 'langfuse' });
    const setup = await offline.start();
    await runtime.run(setup.agent, demoInput).finally(() => setup.close());
    await runtime.shutdown();
    expect(langfuse.spans()).toHaveLength(8);
  });

  it('without keys, tracedRuntime() throws a TracingConfigError naming the variables', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        runtimeWith(env, { exporter: ['file', 'langfuse'] });
      } catch (error) {
        return error;
      }
      throw new Error('tracedRuntime() did not throw');
    };
    const none = attempt({});
    expect(none).toBeInstanceOf(TracingConfigError);
    expect((none as TracingConfigError).variables).toEqual(['LANGFUSE_PUBLIC_KEY', 'LANGFUSE_SECRET_KEY']);
    expect((none as Error).message).toMatch(/^the langfuse exporter needs LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY: /);
    const noSecret = attempt({ LANGFUSE_PUBLIC_KEY: PUBLIC_KEY });
    expect((noSecret as TracingConfigError).variables).toEqual(['LANGFUSE_SECRET_KEY']);
  });
});

describe('secrets never leave in spans, headers or files', () => {
  it('with every exporter on and content captured, no API key or Langfuse secret is in any exported byte', async () => {
    const apiKey = 'sk-proj-OPENAI-SECRET-0123456789abcdef';
    const collectorToken = 'collector-token-for-otlp-only';
    const otlp = await startOtlpReceiver();
    const provider = await startRecordedServer();
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-secrets-')), 'traces.jsonl');
    try {
      const fixtures = join(import.meta.dirname, '..', 'fixtures', 'openai');
      provider.enqueue(
        '/v1/chat/completions',
        await loadFixture(join(fixtures, 'chat-parallel-tool-calls.json')),
        await loadFixture(join(fixtures, 'chat-parallel-answer.json')),
      );
      const runtime = runtimeWith(
        {
          LANGFUSE_PUBLIC_KEY: PUBLIC_KEY,
          LANGFUSE_SECRET_KEY: SECRET_KEY,
          LANGFUSE_BASE_URL: langfuse.url,
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_EXPORTER_OTLP_HEADERS: `x-collector-token=${collectorToken}`,
        },
        // Content capture forced on: the worst case for a leak.
        { exporter: ['file', 'otlp', 'langfuse'], traceFile, captureContent: true },
      );
      const { default: demo } = await import('../../examples/release-notes/agent.js');
      const keyed = agent({ ...demo, model: openai('gpt-4o-mini', { apiKey, baseURL: `${provider.url}/v1` }) });
      await runtime.run(keyed, demoInput);
      await runtime.shutdown();

      // The key did go to the provider, so it was there to leak.
      expect(provider.requests[0]!.headers.authorization).toBe(`Bearer ${apiKey}`);
      expect(otlp.spans()).toHaveLength(8);
      expect(langfuse.spans()).toHaveLength(8);
      expect(langfuse.spans().some((s) => s.attributes[ATTR.inputMessages] !== undefined)).toBe(true);

      const secrets = [apiKey, SECRET_KEY, 'OPENAI-SECRET', 'SECRET-do-not-leak'];
      const fileBytes = await readFile(traceFile, 'utf8');
      expect(fileBytes.length).toBeGreaterThan(0);
      const otlpBytes = otlp.requests.map((r) => r.body.toString('latin1') + JSON.stringify(r.headers)).join('\n');
      // Langfuse must get its Basic auth (the secret, base64-encoded) and nothing else secret.
      const langfuseBytes = langfuse.requests
        .map((r) => r.body.toString('latin1') + JSON.stringify({ ...r.headers, authorization: undefined }))
        .join('\n');
      for (const secret of secrets) {
        expect(fileBytes).not.toContain(secret);
        expect(otlpBytes).not.toContain(secret);
        expect(langfuseBytes).not.toContain(secret);
      }
      const base64Secret = Buffer.from(SECRET_KEY).toString('base64');
      expect(otlpBytes + fileBytes).not.toContain(base64Secret.slice(0, 16));
      expect(otlpBytes).not.toContain(BASIC);
      // A header meant for the Collector (OTEL_EXPORTER_OTLP_HEADERS) is not sent to Langfuse.
      expect(otlp.requests[0]!.headers['x-collector-token']).toBe(collectorToken);
      for (const r of langfuse.requests) expect(JSON.stringify(r.headers)).not.toContain(collectorToken);
    } finally {
      await otlp.close();
      await provider.close();
    }
  });
});
