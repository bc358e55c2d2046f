import type { ModelStreamChunk } from '../../src/providers/model.js';
import { fixtureReader } from '../support/fixtures.js';

/** The path `@google/genai` posts a whole-answer call of `model` to. */
export const generatePath = (model: string): string => `/v1beta/models/${model}:generateContent`;
/** The path of a streamed call (`?alt=sse` is a query, which the recorded server does not key on). */
export const streamPath = (model: string): string => `/v1beta/models/${model}:streamGenerateContent`;

export const { exchange, body, sseText, sseEvents } = fixtureReader('google');

/** Every part of a recorded response's first candidate (a body, or the events of a stream). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function partsOf(...responses: any[]): any[] {
  return responses.flatMap((r) => r.candidates?.[0]?.content?.parts ?? []);
}

/**
 * A recorded `usageMetadata` in tracebound's (GenAI semconv) terms, computed here field by field
 * from the recording: input = prompt + tool-use prompt, output = candidates + thoughts.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function semconvUsage(u: any) {
  return {
    inputTokens: u.promptTokenCount + (u.toolUsePromptTokenCount ?? 0),
    outputTokens: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0),
    cacheReadTokens: u.cachedContentTokenCount ?? 0,
    cacheWriteTokens: 0,
    reasoningTokens: u.thoughtsTokenCount ?? 0,
  };
}

/** Reads a whole model stream into an array. */
export async function collect(stream: AsyncIterable<ModelStreamChunk>): Promise<ModelStreamChunk[]> {
  const chunks: ModelStreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}
