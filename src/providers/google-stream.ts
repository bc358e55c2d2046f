import type { GenerateContentResponse, GenerateContentResponseUsageMetadata } from '@google/genai';
import type { ModelResponse, ModelStreamChunk } from './model.js';
import { checkGeminiResponse, fromParts, reasoningOf, toFinishReason, toUsage, type ContentParts } from './google-response.js';

/**
 * Assembles one `streamGenerateContent?alt=sse` answer from its events (each a partial
 * `GenerateContentResponse`), and says which {@link ModelStreamChunk}s each event yields.
 *
 * - text parts are deltas of the answer; `thought: true` parts deltas of its reasoning.
 * - a `functionCall` part arrives whole in one event: it yields `tool-call-start` and one
 *   `tool-call-delta` with its arguments as JSON.
 * - `usageMetadata` is sent with every event but is final only on the last one (earlier events
 *   carry running or provisional counts, e.g. a larger `promptTokenCount`), so each event's
 *   replaces the one before.
 */
export class GeminiStreamAssembler {
  private id: string | undefined;
  private model: string | undefined;
  private usage: GenerateContentResponseUsageMetadata | undefined;
  private finishReason: string | undefined;
  private blockReason: string | undefined;
  private readonly parts: ContentParts = { text: '', toolCalls: [], thoughts: '' };

  /** @param provider the `gen_ai.provider.name` an error names (`gcp.gemini` or `gcp.vertex_ai`) */
  constructor(private readonly provider: string) {}

  /** Whether an event with a `finishReason` (or a blocked prompt) arrived: a stream without one was cut short. */
  get completed(): boolean {
    return this.finishReason !== undefined || this.blockReason !== undefined;
  }

  /**
   * Applies one event; returns the chunks to yield for it.
   * @throws {ModelCallError} `response_invalid` for an event that is not the documented shape.
   */
  apply(event: GenerateContentResponse): ModelStreamChunk[] {
    checkGeminiResponse(event, false, this.provider);
    this.id ??= event.responseId;
    this.model ??= event.modelVersion;
    if (event.usageMetadata) this.usage = event.usageMetadata;
    this.blockReason ??= event.promptFeedback?.blockReason;
    const candidate = event.candidates?.[0];
    if (candidate?.finishReason !== undefined) this.finishReason = candidate.finishReason;

    const chunks: ModelStreamChunk[] = [];
    const before = { text: this.parts.text.length, calls: this.parts.toolCalls.length, thoughts: this.parts.thoughts.length };
    fromParts(candidate?.content?.parts ?? [], this.parts);
    const thoughts = this.parts.thoughts.slice(before.thoughts);
    if (thoughts !== '') chunks.push({ type: 'reasoning-delta', text: thoughts });
    const text = this.parts.text.slice(before.text);
    if (text !== '') chunks.push({ type: 'text-delta', text });
    this.parts.toolCalls.slice(before.calls).forEach((call, i) => {
      const index = before.calls + i;
      chunks.push({ type: 'tool-call-start', index, id: call.id, name: call.name });
      chunks.push({ type: 'tool-call-delta', index, argumentsDelta: JSON.stringify(call.arguments) });
    });
    return chunks;
  }

  /** The whole response, from everything applied so far. */
  response(): ModelResponse {
    return {
      id: this.id,
      model: this.model,
      text: this.parts.text,
      toolCalls: this.parts.toolCalls,
      ...reasoningOf(this.parts),
      finishReason: toFinishReason(this.finishReason, this.parts.toolCalls.length > 0, this.blockReason),
      usage: toUsage(this.usage),
    };
  }
}
