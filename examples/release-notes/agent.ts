/**
 * A research agent that searches three release-note sources in parallel, then summarises.
 *
 * Live: `OPENAI_API_KEY=... npx tracebound run examples/release-notes/agent.ts`.
 * Offline (`--offline`, what `npm start` runs): the official `openai` SDK talks to a local server
 * on 127.0.0.1 that answers with a publicly recorded conversation (crewAI's
 * `test_openai_parallel_native_tool_calling` cassette; see tests/fixtures/openai/SOURCES.md), so
 * the run goes through the real SDK and HTTP path with the recorded tokens.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { agent, openai, tool, type Model } from 'tracebound';
import { loadFixture, startRecordedServer } from 'tracebound/testing';

/** The recorded system prompt and user message, so the offline run sends what was recorded. */
const instructions =
  'You are Parallel Tool Agent. You follow tool instructions precisely.\nYour personal goal is: Use both tools exactly as instructed';

export const input =
  "\nCurrent Task: This is a tool-calling compliance test. In your next assistant turn, emit exactly 3 tool calls in the same response (parallel tool calls), in this order: 1) parallel_local_search_one(query='latest OpenAI model release notes'), 2) parallel_local_search_two(query='latest Anthropic model release notes'), 3) parallel_local_search_three(query='latest Gemini model release notes'). Do not call any other tools and do not answer before those 3 tool calls are emitted. After the tool results return, provide a one paragraph summary.";

/** A local search tool; it tags the query with its source, as the recorded tools did. */
function localSearch(n: number, tag: string) {
  return tool({
    name: `parallel_local_search_${tag}`,
    description: `Local search tool #${n} for concurrency testing.`,
    parameters: z.object({ query: z.string().describe('Search query') }),
    timeoutMs: 5_000,
    execute: async ({ query }) => `[${tag}] ${query}`,
  });
}

const tools = [localSearch(1, 'one'), localSearch(2, 'two'), localSearch(3, 'three')];

function releaseNotesAgent(model: Model) {
  return agent({
    name: 'release-notes',
    instructions,
    model,
    tools,
    maxOutputTokens: 300,
    // A quarter of a cent per run: the second call no longer fits whole, so the guard lowers its
    // max output tokens and, with onLimit 'finish', the model answers without more tool calls.
    budget: { runCostUsd: 0.00025, maxSteps: 4, maxToolCalls: 6, onLimit: 'finish', minOutputTokens: 64 },
  });
}

export default releaseNotesAgent(openai('gpt-4o-mini'));

const recordings = join(import.meta.dirname, '..', '..', 'tests', 'fixtures', 'openai');
const NO_STREAM =
  'offline demo: this conversation was recorded unstreamed, so it cannot be replayed as a stream; ' +
  'ask without streaming, or set OPENAI_API_KEY to run live';

/** `--offline`: the same agent, its SDK pointed at recorded traffic; skipped when a key is set. */
export const offline = {
  liveWhen: 'OPENAI_API_KEY',
  async start() {
    const server = await startRecordedServer();
    const calls = await loadFixture(join(recordings, 'chat-parallel-tool-calls.json'));
    const answer = await loadFixture(join(recordings, 'chat-parallel-answer.json'));
    // Answer by the conversation's state, as the recording did, so every run (`tracebound serve
    // --offline` takes many) gets the recorded tool calls first and the recorded answer after.
    server.fallback = ({ body }) => {
      const request = body as { stream?: boolean; messages?: { role: string }[] };
      // The recording is not streamed: say so (this server's own error, not recorded traffic).
      if (request.stream) return { status: 400, json: { error: { message: NO_STREAM, type: 'invalid_request_error' } } };
      return request.messages?.some((m) => m.role === 'tool') ? answer : calls;
    };
    return {
      agent: releaseNotesAgent(openai('gpt-4o-mini', { baseURL: `${server.url}/v1`, apiKey: 'offline-replay' })),
      close: () => server.close(),
    };
  },
};
