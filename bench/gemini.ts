/**
 * What the Gemini adapter costs per call, against the bare `@google/genai` client calling the same
 * local server in the same run (a recorded `generateContent` answer, tests/fixtures/google/text.json,
 * served on 127.0.0.1 for every request), called sequentially.
 *
 * - bare: `ai.models.generateContent({ model, contents, config })`, reading the usage it returns.
 * - tracebound: `google(model).generate(request)`: the request built from tracebound messages,
 *   the answer's shape checked, text, tool calls and usage mapped (no runtime, no spans: those are
 *   bench/overhead.ts's).
 *
 * Rounds alternate the two sides (rotated order) and the median round is reported.
 *
 * Run with `npm run bench:gemini`. Prints a table, then a `BENCH_JSON` line followed by the
 * figures as one JSON line.
 */
import { join } from 'node:path';
import { GoogleGenAI } from '@google/genai';
import { google } from '../src/providers/google.js';
import type { ModelRequest } from '../src/providers/model.js';
import { loadFixture, startRecordedServer } from '../src/testing/recorded-server.js';
import { medianUsPerCall } from './stats.js';

const CALLS_PER_ROUND = 200;
const ROUNDS = 11;
const MODEL = 'gemini-2.5-flash';

const server = await startRecordedServer();
const answer = await loadFixture(join(import.meta.dirname, '..', 'tests', 'fixtures', 'google', 'text.json'));
server.fallback = () => answer;

const ai = new GoogleGenAI({ apiKey: 'bench', httpOptions: { baseUrl: server.url } });
const model = google(MODEL, { apiKey: 'bench', baseURL: server.url });
const request: ModelRequest = { system: 'You are a chatbot.', messages: [{ role: 'user', content: 'Hello!' }], tools: [] };
let tokens = 0;

const sides = {
  bare: async () => {
    for (let i = 0; i < CALLS_PER_ROUND; i++) {
      const response = await ai.models.generateContent({
        model: MODEL,
        contents: [{ role: 'user', parts: [{ text: 'Hello!' }] }],
        config: { systemInstruction: 'You are a chatbot.' },
      });
      tokens += response.usageMetadata?.totalTokenCount ?? 0;
    }
  },
  tracebound: async () => {
    for (let i = 0; i < CALLS_PER_ROUND; i++) {
      const response = await model.generate(request);
      tokens += response.usage.inputTokens + response.usage.outputTokens;
    }
  },
} as const;
// Warm-up: JIT, keep-alive sockets, the adapter's lazy SDK import and schema.
for (let i = 0; i < 3; i++) for (const run of Object.values(sides)) await run();

const { bare: bareUs, tracebound: traceboundUs } = await medianUsPerCall(sides, ROUNDS, CALLS_PER_ROUND);
await server.close();

console.log(`Gemini generateContent against a local recorded server, ${CALLS_PER_ROUND} sequential calls x ${ROUNDS} rounds, median round`);
console.log(`  bare @google/genai     ${bareUs.toFixed(1)} µs/call`);
console.log(`  tracebound google()    ${traceboundUs.toFixed(1)} µs/call  (+${(traceboundUs - bareUs).toFixed(1)} µs, x${(traceboundUs / bareUs).toFixed(3)})`);
console.log(`  (${tokens} tokens read, so neither side's answer was left unread)`);
console.log('BENCH_JSON');
console.log(JSON.stringify({ bareUsPerCall: bareUs, traceboundUsPerCall: traceboundUs, overheadUsPerCall: traceboundUs - bareUs, ratio: traceboundUs / bareUs }));
