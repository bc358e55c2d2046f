/**
 * An agent module for `tracebound serve` processes that share one Redis: the memo agent (it
 * answers with every user message it was sent), its conversations in the Redis at
 * `TRACEBOUND_TEST_REDIS_URL` through the module's `runtime.store`.
 */
import { redisStore } from '../../src/state/redis.js';
import { LOADED_REPLY_TIMEOUT_MS } from '../support/redis.js';
import { memoAgent } from './http-support.js';

const url = process.env.TRACEBOUND_TEST_REDIS_URL;
if (!url) throw new Error('redis-memo-agent.ts needs TRACEBOUND_TEST_REDIS_URL (redis://host:port), set by the test that serves it');

export const runtime = { store: redisStore({ url, timeoutMs: LOADED_REPLY_TIMEOUT_MS }) };

export default memoAgent();
