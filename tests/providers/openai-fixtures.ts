/**
 * Helpers for the OpenAI adapter tests: read the recorded fixtures (tests/fixtures/openai, see
 * SOURCES.md there) so expected values come from the recordings, not from the test.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadFixture, type RecordedExchange } from '../../src/testing/recorded-server.js';
import type { ModelStreamChunk } from '../../src/providers/model.js';

const DIR = fileURLToPath(new URL('../fixtures/openai/', import.meta.url));

/** A fixture as the recorded server serves it. */
export function exchange(name: string): Promise<RecordedExchange> {
  return loadFixture(DIR + name);
}

/** The recorded JSON body of a `.json` fixture. */
export async function recordedBody<T = Record<string, unknown>>(name: string): Promise<T> {
  return (JSON.parse(await readFile(DIR + name, 'utf8')) as { body: T }).body;
}

/** The JSON payloads of a `.sse` fixture's `data:` lines, in order, without `[DONE]`. */
export async function recordedEvents<T = Record<string, unknown>>(name: string): Promise<T[]> {
  const text = await readFile(DIR + name, 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line !== 'data: [DONE]')
    .map((line) => JSON.parse(line.slice('data: '.length)) as T);
}

/** Drains a model stream. */
export async function collect(stream: AsyncIterable<ModelStreamChunk>): Promise<ModelStreamChunk[]> {
  const chunks: ModelStreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** The final `response` chunk of a drained stream. */
export function finalResponse(chunks: ModelStreamChunk[]) {
  const last = chunks.at(-1);
  if (last?.type !== 'response') throw new Error(`stream did not end with a response chunk: ${JSON.stringify(last)}`);
  return last.response;
}

