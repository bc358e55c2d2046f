/**
 * An agent that remembers: two runs of one conversation, kept in a SQLite file, so the second run
 * (or a second process, or tomorrow's) knows what the first was told.
 *
 * `node --import tsx examples/remember.ts [state-file]` (default `.tracebound/remember.db`; run it
 * again and the conversation goes on: its first answer then knows the name). Offline by default: a scripted model from
 * `tracebound/testing` stands in for the provider, and it only knows what the request carries, so
 * its answer shows what the runtime loaded. With `OPENAI_API_KEY` set it asks gpt-4o-mini instead.
 */
import { agent, openai, sqliteStore, tracedRuntime, type Model } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';

/** Offline: greets a name it is told, and otherwise answers with the last name the conversation it is sent holds. */
const standIn: Model = scriptedModel({
  respond: (request) => {
    const named = (content: string) => /my name is (\w+)/i.exec(content)?.[1];
    const last = request.messages.at(-1);
    const told = last?.role === 'user' ? named(last.content) : undefined;
    if (told) return { text: `Nice to meet you, ${told}.` };
    const known = request.messages.flatMap((m) => (m.role === 'user' ? [named(m.content)] : [])).filter(Boolean).at(-1);
    return { text: known ? `Your name is ${known}.` : 'I do not know your name yet.' };
  },
});

const chat = agent({
  name: 'remember',
  instructions: 'Be brief. Answer from the conversation.',
  model: process.env.OPENAI_API_KEY ? openai('gpt-4o-mini') : standIn,
});

const store = sqliteStore({ path: process.argv[2] ?? '.tracebound/remember.db' });
const runtime = tracedRuntime({ exporter: 'none', store });
try {
  for (const input of ['What is my name?', 'My name is Ada.', 'What is my name?']) {
    const result = await runtime.run(chat, input, { conversationId: 'demo' });
    console.log(`> ${input}\n${result.output}`);
  }
  const saved = await runtime.conversations.get('demo');
  console.log(`conversation "demo": ${saved?.messages.length} messages since ${saved?.createdAt}`);
} finally {
  await runtime.shutdown();
  await store.close();
}
