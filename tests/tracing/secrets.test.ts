/**
 * API keys a provider (or a proxy in front of it) echoes in an error body never leave the process
 * (issue 10, defect 2): a local server answers 401 with OpenAI's recorded `invalid_api_key` body
 * (tests/fixtures/openai/chat-error-401.json), its partly masked key replaced by the test's whole
 * key, to the official `openai`, `@anthropic-ai/sdk` and `@google/genai` clients. The key must then be in none of:
 * the thrown error (message, `String()`, stack, cause chain, `util.inspect`), the trace file's
 * bytes, an OTLP receiver's request bodies, `tracebound run`'s stdout and stderr, and serve's
 * reply and outputs.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agent } from '../../src/agent.js';
import { RunError } from '../../src/errors.js';
import { anthropic } from '../../src/providers/anthropic.js';
import { google } from '../../src/providers/google.js';
import { openai } from '../../src/providers/openai.js';
import { SECRET_MASK, maskSecrets } from '../../src/secrets.js';
import { stdoutOutput } from '../../src/serve/outputs/stdout.js';
import { startRecordedServer, type RecordedExchange, type RecordedServer } from '../../src/testing/recorded-server.js';
import type { TracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { exchange } from '../integration/support.js';
import { postRun, startServed } from '../serve/http-support.js';
import { runtimeWith, setEnv, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';

const root = join(import.meta.dirname, '..', '..');

/** A key no other test knows, shaped like OpenAI's project keys. */
function newKey(): string {
  return `sk-proj-${randomBytes(32).toString('base64url')}`;
}

/** The recorded 401 with the whole `key` where the recording had a partly masked one. */
async function echoing401(key: string): Promise<RecordedExchange> {
  const recorded = await exchange('openai', 'chat-error-401.json');
  const body = recorded.json as { error: { message: string } };
  const message = body.error.message.replace(/sk-[A-Za-z0-9]+\*+[A-Za-z0-9]+/, key);
  expect(message).toContain(key);
  return { ...recorded, json: { error: { ...body.error, message } } };
}

/** Every message, `String()` and stack along an error's cause chain, and its full inspection. */
function errorText(error: unknown): string {
  const parts = [inspect(error, { depth: 10 })];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.message, String(e), e.stack ?? '');
  return parts.join('\n');
}

let server: RecordedServer;
let receiver: OtlpReceiver;
let restoreEnv: () => void;

beforeEach(async () => {
  server = await startRecordedServer();
  receiver = await startOtlpReceiver();
  restoreEnv = setEnv({ OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined, GEMINI_API_KEY: undefined, GOOGLE_API_KEY: undefined });
});

afterEach(async () => {
  restoreEnv();
  await Promise.all([server.close(), receiver.close()]);
});

/** A runtime exporting to a trace file and, over OTLP/JSON, to the receiver. */
async function exportingRuntime(): Promise<{ runtime: TracedRuntime; traceFile: string }> {
  const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-secrets-')), 'traces.jsonl');
  const runtime = runtimeWith(
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    { exporter: ['file', 'otlp'], traceFile, captureContent: true, retry: { maxRetries: 0 } },
  );
  return { runtime, traceFile };
}

/** Runs `model` against the echoing server and checks the key reached no error, file or export. */
async function expectMasked(model: ReturnType<typeof openai>, key: string): Promise<void> {
  const { runtime, traceFile } = await exportingRuntime();
  const error = await runtime.run(agent({ name: 'echoed', instructions: 'Answer.', model }), 'Hello').catch((e: unknown) => e);
  await runtime.shutdown();
  expect(error).toBeInstanceOf(RunError);
  expect(errorText(error)).not.toContain(key);
  const file = await readFile(traceFile, 'utf8');
  expect(file).not.toContain(key);
  expect(receiver.requests.length).toBeGreaterThan(0);
  const exported = receiver.requests.map((r) => r.body.toString('utf8')).join('\n');
  expect(exported).not.toContain(key);
  // The echo did arrive, masked: the checks above saw the text a leaked key would be in.
  expect((error as RunError).message).toContain(`Incorrect API key provided: ${SECRET_MASK}`);
  expect(file).toContain(`Incorrect API key provided: ${SECRET_MASK}`);
  expect(exported).toContain(`Incorrect API key provided: ${SECRET_MASK}`);
}

describe('an API key echoed in a provider error', () => {
  it('is masked with the openai SDK, the key given in options', async () => {
    const key = newKey();
    server.enqueue('/v1/chat/completions', await echoing401(key));
    await expectMasked(openai('gpt-4o-mini', { apiKey: key, baseURL: `${server.url}/v1` }), key);
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${key}`);
  });

  it('is masked with the Anthropic SDK, the key read from ANTHROPIC_API_KEY (a gateway answering in OpenAI\'s shape)', async () => {
    const key = newKey();
    process.env.ANTHROPIC_API_KEY = key;
    server.enqueue('/v1/messages', await echoing401(key));
    await expectMasked(anthropic('claude-haiku-4-5', { baseURL: server.url }), key);
    // The SDK sent the key it read from the environment (as `x-api-key` or a bearer token).
    expect(Object.values(server.requests[0]!.headers).join('\n')).toContain(key);
  });

  it('is masked with the Gemini SDK, the key read from GEMINI_API_KEY (a gateway answering in OpenAI\'s shape)', async () => {
    const key = newKey();
    process.env.GEMINI_API_KEY = key;
    server.enqueue('/v1beta/models/gemini-2.5-flash:generateContent', await echoing401(key));
    await expectMasked(google('gemini-2.5-flash', { baseURL: server.url }), key);
    expect(server.requests[0]!.headers['x-goog-api-key']).toBe(key);
  });

  it("stays out of serve's HTTP error reply (a type and a safe message only) and is masked in what its outputs deliver (key from OPENAI_API_KEY)", async () => {
    const key = newKey();
    process.env.OPENAI_API_KEY = key;
    server.enqueue('/v1/chat/completions', await echoing401(key));
    const lines: string[] = [];
    const served = await startServed({
      agent: agent({ name: 'echoed', instructions: 'Answer.', model: openai('gpt-4o-mini', { baseURL: `${server.url}/v1` }) }),
      outputs: [stdoutOutput({ stream: { write: (text: string) => lines.push(text) } })],
    });
    try {
      const response = await postRun(served.url, { input: 'Hello' });
      expect(response.status).toBe(500);
      const text = await response.text();
      expect(text).not.toContain(key);
      // Issue 13: callers get a type and a safe message, never the upstream text (masked or not).
      expect(text).not.toContain('Incorrect API key');
      expect(JSON.parse(text)).toMatchObject({ error: { type: 'RunError', stopReason: 'error' } });
    } finally {
      await served.server.stop();
    }
    expect(lines.join('')).not.toContain(key);
    expect(lines.join('')).toContain(SECRET_MASK);
  });

  it('is masked in `tracebound run` output and its trace file (key from OPENAI_API_KEY)', async () => {
    const key = newKey();
    server.enqueue('/v1/chat/completions', await echoing401(key));
    const traceFile = join(await mkdtemp(join(tmpdir(), 'tracebound-secrets-cli-')), 'traces.jsonl');
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', OPENAI_API_KEY: key, ECHO_BASE_URL: `${server.url}/v1` };
    const module = join(import.meta.dirname, 'echo-key-agent.ts');
    const result = await promisify(execFile)(process.execPath, [join(root, 'bin', 'tracebound.js'), 'run', module, '--trace-file', traceFile], { cwd: root, env })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
      .catch((e: { code: number; stdout: string; stderr: string }) => e);
    expect(result.code).toBe(1);
    expect(`${result.stdout}\n${result.stderr}`).not.toContain(key);
    const file = await readFile(traceFile, 'utf8');
    expect(file).not.toContain(key);
    expect(result.stderr).toContain(`Incorrect API key provided: ${SECRET_MASK}`);
    expect(file).toContain(SECRET_MASK);
  });
});

describe('maskSecrets', () => {
  it('masks the Langfuse secret key and OTLP header values from the environment, not short values', () => {
    const secret = `sk-lf-${randomBytes(16).toString('hex')}`;
    const token = randomBytes(16).toString('hex');
    const restore = setEnv({
      LANGFUSE_SECRET_KEY: secret,
      LANGFUSE_PUBLIC_KEY: 'pk-lf-public-1234',
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${token},x-tenant=acme`,
    });
    try {
      expect(maskSecrets(`secret ${secret}, token ${token}, header Bearer ${token}, tenant acme, public pk-lf-public-1234`)).toBe(
        `secret ${SECRET_MASK}, token ${SECRET_MASK}, header ${SECRET_MASK}, tenant acme, public pk-lf-public-1234`,
      );
    } finally {
      restore();
    }
  });
});
