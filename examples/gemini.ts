/**
 * A Gemini agent with one tool: it asks for the user's country, then answers from its own
 * knowledge (README, "Providers", Gemini).
 *
 * Live: `GEMINI_API_KEY=... npx tracebound run examples/gemini.ts`.
 * Offline: `npx tracebound run examples/gemini.ts --offline`: the official `@google/genai` SDK
 * talks to a local server on 127.0.0.1 that answers with a publicly recorded conversation
 * (pydantic-ai's `test_google_text_output_function` cassette, gemini-2.5-pro; see
 * tests/fixtures/google/SOURCES.md): a function call with a thought signature, which tracebound
 * sends back with the tool's result, then the answer.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { agent, google, tool, type Model } from 'tracebound';
import { loadFixture, startRecordedServer } from 'tracebound/testing';

/** The recorded user message, so the offline run sends what was recorded. */
export const input = 'What is the largest city in the user country? Use the get_user_country tool and then your own world knowledge.';

const country = tool({
  name: 'get_user_country',
  description: 'The country of the user.',
  parameters: z.object({}),
  execute: () => 'Mexico',
});

const geography = (model: Model) => agent({ name: 'geography', instructions: 'Answer in one sentence.', model, tools: [country] });

export default geography(google('gemini-2.5-pro'));

const recordings = join(import.meta.dirname, '..', 'tests', 'fixtures', 'google');

/** `--offline`: the same agent, its SDK pointed at recorded traffic; skipped when a key is set. */
export const offline = {
  liveWhen: 'GEMINI_API_KEY',
  async start() {
    const server = await startRecordedServer();
    const call = await loadFixture(join(recordings, 'tool-signature-1.json'));
    const answer = await loadFixture(join(recordings, 'tool-signature-2.json'));
    // Answer by the conversation's state, as the recording did: the function call first, the
    // answer once a function response is in (so `serve --offline` can take many runs).
    server.fallback = ({ path, body }) => {
      if (!path.endsWith(':generateContent')) return undefined;
      const contents = (body as { contents?: { parts: { functionResponse?: unknown }[] }[] }).contents ?? [];
      return contents.some((c) => c.parts.some((p) => p.functionResponse)) ? answer : call;
    };
    return {
      agent: geography(google('gemini-2.5-pro', { baseURL: server.url, apiKey: 'offline-replay' })),
      close: () => server.close(),
    };
  },
};
