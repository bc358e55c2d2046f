import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFixture, type RecordedExchange } from '../../src/testing/recorded-server.js';
import type { ModelStreamChunk } from '../../src/providers/model.js';

const DIR = fileURLToPath(new URL('../fixtures/anthropic/', import.meta.url));

/** The Messages API path the SDK posts to. */
export const MESSAGES = '/v1/messages';

/** A fixture as the recorded server serves it. */
export function exchange(name: string): Promise<RecordedExchange> {
  return loadFixture(DIR + name);
}

/** The recorded JSON body of a `.json` fixture, to take expected values from. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function body(name: string): any {
  return (JSON.parse(readFileSync(DIR + name, 'utf8')) as { body: unknown }).body;
}

/** The raw text of an `.sse` fixture. */
export function sseText(name: string): string {
  return readFileSync(DIR + name, 'utf8');
}

/** The JSON `data` of every SSE event of a fixture, in order. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function sseEvents(name: string): any[] {
  return sseText(name)
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as unknown);
}

/** Reads a whole model stream into an array. */
export async function collect(stream: AsyncIterable<ModelStreamChunk>): Promise<ModelStreamChunk[]> {
  const chunks: ModelStreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}
