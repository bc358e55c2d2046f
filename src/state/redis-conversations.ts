/**
 * Conversations in Redis. Per conversation (C = prefix + `tracebound:conversation:` + the
 * URI-encoded id, so no id can spell another's key): C is a hash (`agent`, `created`, `updated`,
 * ms on Redis's clock), C:messages a list of JSON messages, C:lease the holder's id with a
 * PX expiry; `tracebound:conversations` is a zset of encoded ids by update time, for listing.
 * Taking the lease and reading, and appending a turn and releasing the lease, are each one Lua
 * script: two round trips per turn.
 */
import type { Redis } from 'ioredis';
import type { Message } from '../messages.js';
import type { Conversation, ConversationInfo } from '../runtime/conversations.js';
import { DEFAULT_LIST_LIMIT, isoTime, type Acquired, type ConversationStore } from './store.js';

/** KEYS: lease, meta, messages. ARGV: owner, ttlMs. Returns {0} or {1, meta (flat), messages}. */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, redis.call('HGETALL', KEYS[2]), redis.call('LRANGE', KEYS[3], 0, -1)}
`;

/** KEYS: lease. ARGV: owner, ttlMs. Returns 1 when renewed, 0 when the lease is not the owner's. */
const RENEW = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/**
 * KEYS: lease, meta, messages, index. ARGV: owner, agent, encoded id, messages to drop from the
 * front, time to live in ms ('' for none), a new summary's text and covers ('' for none), then
 * one JSON message each. Returns 1 when appended (and the lease released), 0 when the lease is
 * not the owner's.
 */
const APPEND = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[2], 'agent', ARGV[2])
redis.call('HSETNX', KEYS[2], 'created', now)
redis.call('HSET', KEYS[2], 'updated', now)
for i = 8, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[2], 'summary', ARGV[6], 'summaryCovers', ARGV[7]) end
local drop = tonumber(ARGV[4])
if drop > 0 then
  redis.call('LTRIM', KEYS[3], drop, -1)
  local covers = redis.call('HGET', KEYS[2], 'summaryCovers')
  if covers then redis.call('HSET', KEYS[2], 'summaryCovers', math.max(0, tonumber(covers) - drop)) end
end
if ARGV[5] == '' then
  redis.call('PERSIST', KEYS[2])
  redis.call('PERSIST', KEYS[3])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
redis.call('ZADD', KEYS[4], now, ARGV[3])
redis.call('DEL', KEYS[1])
return 1
`;

/** KEYS: lease. ARGV: owner. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/** KEYS: meta, messages. Returns {meta (flat), messages}. */
const READ = `
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
`;

/**
 * KEYS: index. ARGV: agent ('' for any), limit, the meta keys' prefix. Returns rows
 * {encoded id, agent, created, updated, message count}, most recently updated first; drops the
 * index entries of conversations whose keys expired.
 */
const LIST = `
local rows = {}
local limit = tonumber(ARGV[2])
if limit <= 0 then return rows end
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  local meta = redis.call('HMGET', ARGV[3] .. id, 'agent', 'created', 'updated')
  if not meta[1] then redis.call('ZREM', KEYS[1], id) end
  if meta[1] and (ARGV[1] == '' or meta[1] == ARGV[1]) then
    rows[#rows + 1] = {id, meta[1], meta[2], meta[3], redis.call('LLEN', ARGV[3] .. id .. ':messages')}
    if #rows >= limit then break end
  end
end
return rows
`;

/** KEYS: meta, messages, index. ARGV: encoded id. Returns 1 when there was a conversation. */
const DELETE = `
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('DEL', KEYS[1], KEYS[2]) > 0 and 1 or 0
`;

type Script = (...args: (string | number)[]) => Promise<unknown>;

interface Scripts {
  traceboundConversationAcquire: Script;
  traceboundConversationRenew: Script;
  traceboundConversationAppend: Script;
  traceboundConversationRelease: Script;
  traceboundConversationRead: Script;
  traceboundConversationList: Script;
  traceboundConversationDelete: Script;
}

/** Runs one Redis command for the store, bounded and with its errors made `StoreError`s. */
export type RedisCall = <T>(what: string, op: () => Promise<T>) => Promise<T>;

/**
 * The conversations of a Redis store, over its client (on which the scripts are defined) and
 * its `call`, which bounds each command by the store's timeout and makes failures `StoreError`s.
 */
export function redisConversations(client: Redis, prefix: string, call: RedisCall): ConversationStore {
  client.defineCommand('traceboundConversationAcquire', { numberOfKeys: 3, lua: ACQUIRE });
  client.defineCommand('traceboundConversationRenew', { numberOfKeys: 1, lua: RENEW });
  client.defineCommand('traceboundConversationAppend', { numberOfKeys: 4, lua: APPEND });
  client.defineCommand('traceboundConversationRelease', { numberOfKeys: 1, lua: RELEASE });
  client.defineCommand('traceboundConversationRead', { numberOfKeys: 2, lua: READ });
  client.defineCommand('traceboundConversationList', { numberOfKeys: 1, lua: LIST });
  client.defineCommand('traceboundConversationDelete', { numberOfKeys: 3, lua: DELETE });
  const scripts = client as unknown as Scripts;
  const metaPrefix = `${prefix}tracebound:conversation:`;
  const index = `${prefix}tracebound:conversations`;
  const keys = (id: string) => {
    const meta = metaPrefix + encodeURIComponent(id);
    return { meta, messages: `${meta}:messages`, lease: `${meta}:lease` };
  };

  return {
    async acquire(id, lease): Promise<Acquired> {
      const k = keys(id);
      const reply = await call('take the lease of a conversation', () =>
        scripts.traceboundConversationAcquire(k.lease, k.meta, k.messages, lease.owner, Math.ceil(lease.ttlMs)),
      );
      if (!Array.isArray(reply) || reply[0] !== 1) return { held: false };
      return { held: true, conversation: conversationOf(id, reply[1], reply[2]) };
    },
    async renew(id, lease) {
      const reply = await call('renew the lease of a conversation', () =>
        scripts.traceboundConversationRenew(keys(id).lease, lease.owner, Math.ceil(lease.ttlMs)),
      );
      return reply === 1;
    },
    async append(id, turn) {
      const k = keys(id);
      const messages = turn.messages.map((m) => JSON.stringify(m));
      const reply = await call('save a conversation turn', () =>
        scripts.traceboundConversationAppend(
          k.lease, k.meta, k.messages, index,
          turn.owner, turn.agent, encodeURIComponent(id), turn.drop ?? 0, turn.ttlMs === undefined ? '' : Math.ceil(turn.ttlMs),
          turn.summary?.content ?? '', turn.summary?.covers ?? '', ...messages,
        ),
      );
      return reply === 1;
    },
    async release(id, owner) {
      await call('release the lease of a conversation', () => scripts.traceboundConversationRelease(keys(id).lease, owner));
    },
    async get(id) {
      const k = keys(id);
      const reply = await call('read a conversation', () => scripts.traceboundConversationRead(k.meta, k.messages));
      return Array.isArray(reply) ? conversationOf(id, reply[0], reply[1]) : undefined;
    },
    async list(query = {}) {
      const reply = await call('list conversations', () =>
        scripts.traceboundConversationList(index, query.agent ?? '', query.limit ?? DEFAULT_LIST_LIMIT, metaPrefix),
      );
      return (reply as [string, string, string, string, number][]).map(
        ([id, agent, created, updated, count]): ConversationInfo => ({
          id: decodeURIComponent(id),
          agent,
          messages: count,
          createdAt: isoTime(Number(created)),
          updatedAt: isoTime(Number(updated)),
        }),
      );
    },
    async delete(id) {
      const k = keys(id);
      const reply = await call('delete a conversation', () =>
        scripts.traceboundConversationDelete(k.meta, k.messages, index, encodeURIComponent(id)),
      );
      return reply === 1;
    },
  };
}

/** A conversation from its hash (as a flat field/value list) and its JSON messages; none without a hash. */
function conversationOf(id: string, meta: unknown, messages: unknown): Conversation | undefined {
  if (!Array.isArray(meta) || meta.length === 0) return undefined;
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < meta.length; i += 2) fields.set(String(meta[i]), String(meta[i + 1]));
  const conversation: Conversation = {
    id,
    agent: fields.get('agent') ?? '',
    messages: (messages as string[]).map((m) => JSON.parse(m) as Message),
    createdAt: isoTime(Number(fields.get('created'))),
    updatedAt: isoTime(Number(fields.get('updated'))),
  };
  const summary = fields.get('summary');
  if (summary !== undefined) conversation.summary = { content: summary, covers: Number(fields.get('summaryCovers')) };
  return conversation;
}
