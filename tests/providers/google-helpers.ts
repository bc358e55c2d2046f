import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFixture, type RecordedExchange } from '../../src/testing/recorded-server.js';
import type { ModelStreamChunk } from '../../src/providers/model.js';

const DIR = fileURLToPath(new URL('../fixtures/google/', import.meta.url));

/** The path `@google/genai` posts a whole-answer call of `model` to. */
export const generatePath = (model: string): string => `/v1beta/models/${model}:generateContent`;
/** The path of a streamed call (`?alt=sse` is a query, which the recorded server does not key on). */
export const streamPath = (model: string): string => `/v1beta/models/${model}:streamGenerateContent`;

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

/** The JSON `data:` of every SSE event of a fixture, in order (the recordings end lines with CRLF). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function sseEvents(name: string): any[] {
  return sseText(name)
    .split(/\r?\n/)
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)) as unknown);
}

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
