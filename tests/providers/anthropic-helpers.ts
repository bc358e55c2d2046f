import type { ModelStreamChunk } from '../../src/providers/model.js';
import { fixtureReader } from '../support/fixtures.js';

/** The Messages API path the SDK posts to. */
export const MESSAGES = '/v1/messages';

export const { exchange, body, sseText, sseEvents } = fixtureReader('anthropic');

/** Reads a whole model stream into an array. */
export async function collect(stream: AsyncIterable<ModelStreamChunk>): Promise<ModelStreamChunk[]> {
  const chunks: ModelStreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}
