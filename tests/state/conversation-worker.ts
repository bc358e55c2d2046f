/**
 * One process continuing a shared conversation, spawned by tests/state/conversations.test.ts as
 * `node --import tsx tests/state/conversation-worker.ts '<json WorkerConfig>'`: runs `turns`
 * concurrent runs of one conversation over a SQLite file or Redis, each answering with its own
 * input, then prints one JSON line: the number of messages each of its model calls received.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { agent } from '../../src/agent.js';
import { createRuntime } from '../../src/create-runtime.js';
import { redisStore } from '../../src/state/redis.js';
import { sqliteStore } from '../../src/state/sqlite.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';

/** What the test passes on the command line. */
export interface ConversationWorkerConfig {
  conversationId: string;
  /** The SQLite file to share, or a Redis URL (`redis://...`). */
  store: string;
  turns: number;
  /** Prefix of this process's inputs. */
  name: string;
}

const config = JSON.parse(process.argv[2] ?? '') as ConversationWorkerConfig;
const store = config.store.startsWith('redis://') ? redisStore({ url: config.store, timeoutMs: 10_000 }) : sqliteStore({ path: config.store });
const scripted = scriptedModel({
  respond: (request) => ({ text: `re: ${request.messages.at(-1)?.content}`, usage: { inputTokens: 1, outputTokens: 1 } }),
});
const seen: number[] = [];
const model = {
  ...scripted,
  async generate(request: Parameters<typeof scripted.generate>[0]) {
    seen.push(request.messages.length);
    // Long enough that runs of both processes overlap unless the conversation keeps them apart.
    await sleep(20);
    return scripted.generate(request);
  },
};
const runtime = createRuntime({ store, conversationWaitMs: 60_000 });
const chat = agent({ name: 'chat', instructions: 'Answer.', model });
await Promise.all(
  Array.from({ length: config.turns }, (_, i) => runtime.run(chat, `${config.name}-${i}`, { conversationId: config.conversationId })),
);
console.log(JSON.stringify(seen));
await store.close();
