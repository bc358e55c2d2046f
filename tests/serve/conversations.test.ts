/**
 * Conversations over HTTP: `POST /v1/runs` with a `conversationId` continues the conversation,
 * across requests and across two servers sharing a real Redis (in this process, and as two
 * `tracebound serve` processes); `GET /v1/conversations/{id}` reads it and `DELETE` forgets it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/state/redis.js';
import type { Store } from '../../src/state/store.js';
import { tracedRuntime } from '../../src/telemetry/traced-runtime.js';
import { LOADED_REPLY_TIMEOUT_MS, startRedis, type RedisServer } from '../support/redis.js';
import { startServeChild, type ServeChild } from './cli-support.js';
import { memoAgent, postRun, startServed, type Served } from './http-support.js';

let redis: RedisServer;
const servers: Served[] = [];
const stores: Store[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.server.stop()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  await redis?.stop();
});

/** A server over its own runtime and its own connection to the shared Redis. */
async function redisServed(): Promise<Served> {
  const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
  stores.push(store);
  const served = await startServed({ agent: memoAgent(), runtime: tracedRuntime({ exporter: 'none', store }) });
  servers.push(served);
  return served;
}

const output = async (response: Response) => ((await response.json()) as { output: string }).output;

describe('conversations over HTTP', () => {
  it('continues a conversation across requests and across two servers sharing Redis', async () => {
    const [a, b] = [await redisServed(), await redisServed()];
    const conversationId = `c-${randomUUID()}`;
    expect(await output(await postRun(a.url, { input: 'My name is Ada.', conversationId }))).toBe('heard: My name is Ada.');
    expect(await output(await postRun(b.url, { input: 'Who am I?', conversationId }))).toBe('heard: My name is Ada. | Who am I?');
    expect(await output(await postRun(a.url, { input: 'Again?', conversationId }))).toBe('heard: My name is Ada. | Who am I? | Again?');
    // Without a conversation id a request stands alone.
    expect(await output(await postRun(b.url, { input: 'Alone.' }))).toBe('heard: Alone.');
  });

  it('continues a conversation across two `tracebound serve` processes sharing Redis', async () => {
    const module = join(import.meta.dirname, 'redis-memo-agent.ts');
    const env = { TRACEBOUND_TEST_REDIS_URL: redis.url };
    const children: ServeChild[] = [];
    try {
      // Each its own --state file: only the module's Redis store can carry the conversation across.
      const dir = await mkdtemp(join(tmpdir(), 'tracebound-serve-redis-'));
      for (const state of ['a.db', 'b.db']) {
        children.push(await startServeChild([module, '--port', '0', '--exporter', 'none', '--state', join(dir, state)], env));
      }
      const [a, b] = children as [ServeChild, ServeChild];
      const conversationId = `c-${randomUUID()}`;
      expect(await output(await postRun(a.url, { input: 'My name is Ada.', conversationId }))).toBe('heard: My name is Ada.');
      expect(await output(await postRun(b.url, { input: 'Who am I?', conversationId }))).toBe('heard: My name is Ada. | Who am I?');
      expect(await output(await postRun(a.url, { input: 'Again?', conversationId }))).toBe('heard: My name is Ada. | Who am I? | Again?');
      // The three turns are in Redis.
      const store = redisStore({ url: redis.url, timeoutMs: LOADED_REPLY_TIMEOUT_MS });
      stores.push(store);
      const stored = await store.conversations.get(conversationId);
      expect(stored?.messages.map((m) => m.content)).toEqual([
        'My name is Ada.',
        'heard: My name is Ada.',
        'Who am I?',
        'heard: My name is Ada. | Who am I?',
        'Again?',
        'heard: My name is Ada. | Who am I? | Again?',
      ]);
    } finally {
      for (const child of children) child.child.kill('SIGTERM');
      expect(await Promise.all(children.map((child) => child.exited))).toEqual(children.map(() => 0));
    }
  });

  it('reads a conversation with GET and forgets it with DELETE', async () => {
    const served = await redisServed();
    const id = `c/${randomUUID()}`;
    const url = `${served.url}/v1/conversations/${encodeURIComponent(id)}`;
    expect((await fetch(url)).status).toBe(404);
    await postRun(served.url, { input: 'remember me', conversationId: id });

    const got = await fetch(url);
    expect(got.status).toBe(200);
    const body = (await got.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      id,
      agent: 'memo',
      messages: [
        { role: 'user', content: 'remember me' },
        { role: 'assistant', content: 'heard: remember me' },
      ],
    });
    expect(Object.keys(body).sort()).toEqual(['agent', 'createdAt', 'id', 'messages', 'updatedAt']);

    expect((await fetch(url, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(url)).status).toBe(404);
    expect((await fetch(url, { method: 'DELETE' })).status).toBe(404);
    expect(await output(await postRun(served.url, { input: 'new start', conversationId: id }))).toBe('heard: new start');
    const put = await fetch(url, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, DELETE');
  });
});
