import type {
  RawContentBlockDeltaEvent,
  RawContentBlockStartEvent,
  RawMessageDeltaEvent,
  RawMessageStreamEvent,
} from '@anthropic-ai/sdk/resources/messages/messages';
import type { ReasoningPart, ToolCall } from '../messages.js';
import type { ModelResponse, ModelStreamChunk } from './model.js';
import { z } from 'zod';
import { ANTHROPIC_SHAPE_HINT, contentBlockShape, toFinishReason, toUsage, usageCountsShape, type AnthropicUsageCounts } from './anthropic-response.js';
import { byType, checkShape, lazySchema, tokens } from './shape.js';

/** The event fields the assembler reads, by event type; other events are skipped. */
const eventShape = lazySchema(() => byType({
  message_start: z.object({ message: z.object({ id: z.string().optional(), model: z.string().optional(), usage: usageCountsShape() }) }),
  content_block_start: z.object({ index: z.number().int(), content_block: contentBlockShape() }),
  content_block_delta: z.object({
    index: z.number().int(),
    delta: byType({
      text_delta: z.object({ text: z.string() }),
      input_json_delta: z.object({ partial_json: z.string() }),
      thinking_delta: z.object({ thinking: z.string() }),
      signature_delta: z.object({ signature: z.string() }),
    }),
  }),
  message_delta: z.object({ delta: z.object({ stop_reason: z.string().nullish() }), usage: usageCountsShape().extend({ output_tokens: tokens() }) }),
}));
const EVENT = { provider: 'anthropic', what: 'message stream event', hint: ANTHROPIC_SHAPE_HINT };

/** A content block as it is being assembled from stream events. */
type BlockState =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; toolIndex: number; id: string; name: string; startInput: unknown; json: string }
  | { type: 'thinking'; text: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'other' };

/**
 * Assembles one streamed Messages API response from its raw SSE events
 * (docs.anthropic.com/en/docs/build-with-claude/streaming), and says which
 * {@link ModelStreamChunk}s each event yields.
 *
 * Usage: `message_start` carries the input and cache counts and a small placeholder
 * `output_tokens`; each `message_delta.usage` is cumulative, so its `output_tokens` replaces the
 * placeholder, and any input, cache or `output_tokens_details` count it carries replaces the one
 * from `message_start`. The result matches the usage of the same call unstreamed.
 */
export class AnthropicStreamAssembler {
  private id: string | undefined;
  private model: string | undefined;
  private usage: AnthropicUsageCounts = {};
  private stopReason: string | null | undefined;
  private readonly blocks = new Map<number, BlockState>();
  private toolCount = 0;
  /** Whether `message_stop` arrived: a stream without it was cut short. */
  completed = false;

  /**
   * Applies one event; returns the chunks to yield for it (often none).
   * @throws {ModelCallError} `response_invalid` for an event that is not the documented shape.
   */
  apply(event: RawMessageStreamEvent): ModelStreamChunk[] {
    checkShape(eventShape(), event, EVENT);
    switch (event.type) {
      case 'message_start':
        this.id = event.message.id;
        this.model = event.message.model;
        this.usage = { ...event.message.usage };
        return [];
      case 'content_block_start':
        return this.startBlock(event);
      case 'content_block_delta':
        return this.applyDelta(event);
      case 'message_delta':
        this.applyMessageDelta(event);
        return [];
      case 'message_stop':
        this.completed = true;
        return [];
      default:
        return [];
    }
  }

  /** The whole response, from everything applied so far. */
  response(): ModelResponse {
    const ordered = [...this.blocks.entries()].sort(([a], [b]) => a - b).map(([, block]) => block);
    let text = '';
    const toolCalls: ToolCall[] = [];
    const reasoning: ReasoningPart[] = [];
    for (const block of ordered) {
      if (block.type === 'text') text += block.text;
      else if (block.type === 'tool_use') toolCalls.push({ id: block.id, name: block.name, arguments: parseInput(block) });
      else if (block.type === 'thinking') reasoning.push({ text: block.text, signature: block.signature });
      else if (block.type === 'redacted_thinking') reasoning.push({ text: '', redacted: block.data });
    }
    return {
      id: this.id,
      model: this.model,
      text,
      toolCalls,
      ...(reasoning.length > 0 ? { reasoning } : {}),
      finishReason: toFinishReason(this.stopReason),
      usage: toUsage(this.usage),
    };
  }

  private startBlock(event: RawContentBlockStartEvent): ModelStreamChunk[] {
    const block = event.content_block;
    switch (block.type) {
      case 'text':
        this.blocks.set(event.index, { type: 'text', text: block.text });
        return block.text !== '' ? [{ type: 'text-delta', text: block.text }] : [];
      case 'tool_use': {
        const toolIndex = this.toolCount++;
        this.blocks.set(event.index, { type: 'tool_use', toolIndex, id: block.id, name: block.name, startInput: block.input, json: '' });
        return [{ type: 'tool-call-start', index: toolIndex, id: block.id, name: block.name }];
      }
      case 'thinking':
        this.blocks.set(event.index, { type: 'thinking', text: block.thinking, signature: block.signature });
        return [];
      case 'redacted_thinking':
        this.blocks.set(event.index, { type: 'redacted_thinking', data: block.data });
        return [];
      default:
        // Server-side tool blocks (web search, code execution, ...) are not ours to run.
        this.blocks.set(event.index, { type: 'other' });
        return [];
    }
  }

  private applyDelta(event: RawContentBlockDeltaEvent): ModelStreamChunk[] {
    const block = this.blocks.get(event.index);
    const delta = event.delta;
    if (delta.type === 'text_delta' && block?.type === 'text') {
      block.text += delta.text;
      return delta.text !== '' ? [{ type: 'text-delta', text: delta.text }] : [];
    }
    if (delta.type === 'input_json_delta' && block?.type === 'tool_use') {
      block.json += delta.partial_json;
      return delta.partial_json !== '' ? [{ type: 'tool-call-delta', index: block.toolIndex, argumentsDelta: delta.partial_json }] : [];
    }
    if (delta.type === 'thinking_delta' && block?.type === 'thinking') {
      block.text += delta.thinking;
      return delta.thinking !== '' ? [{ type: 'reasoning-delta', text: delta.thinking }] : [];
    }
    if (delta.type === 'signature_delta' && block?.type === 'thinking') block.signature += delta.signature;
    return [];
  }

  private applyMessageDelta(event: RawMessageDeltaEvent): void {
    this.stopReason = event.delta.stop_reason ?? this.stopReason;
    const next: AnthropicUsageCounts = { ...this.usage, output_tokens: event.usage.output_tokens };
    if (event.usage.input_tokens != null) next.input_tokens = event.usage.input_tokens;
    if (event.usage.cache_read_input_tokens != null) next.cache_read_input_tokens = event.usage.cache_read_input_tokens;
    if (event.usage.cache_creation_input_tokens != null) {
      next.cache_creation_input_tokens = event.usage.cache_creation_input_tokens;
    }
    if (event.usage.output_tokens_details != null) next.output_tokens_details = event.usage.output_tokens_details;
    this.usage = next;
  }
}

/**
 * The tool input: the accumulated `input_json_delta` text parsed as JSON, or the block's start
 * `input` when no delta carried any text (a tool without parameters streams `""`). Text that is
 * not JSON is kept as the raw string, so argument validation can say what was wrong.
 */
function parseInput(block: Extract<BlockState, { type: 'tool_use' }>): unknown {
  if (block.json.trim() === '') return block.startInput;
  try {
    return JSON.parse(block.json) as unknown;
  } catch {
    return block.json;
  }
}
