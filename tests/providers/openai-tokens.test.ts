import { describe, expect, it } from 'vitest';
import { openai } from '../../src/providers/openai.js';
import { openaiEncoding } from '../../src/providers/openai-tokens.js';
import { fromChatWire, load, type ChatWireRequest, type Counted } from '../support/wire.js';

const relativeError = (counted: number, reported: number): number => Math.abs(counted - reported) / reported;

const RECORDINGS = [
  ['openai-gpt-4o-mini-text', 'plain text, gpt-4o-mini'],
  ['openai-o3-mini-multi-turn', 'multi-turn, o3-mini'],
  ['openai-gpt-4o-mini-tool-rounds', 'tool definition, two tool rounds, gpt-4o-mini'],
  ['openai-gpt-4.1-mini-system-tool-call', 'system prompt + tool call + result, gpt-4.1-mini'],
  ['openai-gpt-4o-parallel-calls', 'two parallel tool calls, gpt-4o'],
  ['openai-gpt-5-mini-tool-call', 'tool call + result, gpt-5-mini'],
  ['openai-gpt-4.1-long-system', 'long system prompt, gpt-4.1'],
  ['openai-gpt-4.1-mini-agent-loop', '26-message agent loop with mid-run system messages, gpt-4.1-mini'],
] as const;

describe('OpenAI countTokens matches recorded prompt_tokens', () => {
  it.each(RECORDINGS)('%s (%s): within 2 percent', (name) => {
    const { request, usage } = load<ChatWireRequest>(name);
    const counted = openai(request.model).countTokens!(fromChatWire(request));
    expect(relativeError(counted, usage.prompt_tokens as number)).toBeLessThanOrEqual(0.02);
  });

  it('approximates a 19-tool request with multi-line descriptions and $refs within 3%', () => {
    // Known gap: the rendering of such schemas is not public; the count runs ~2.7% high.
    const { request, usage } = load<ChatWireRequest>('openai-gpt-4o-many-tools');
    const counted = openai(request.model).countTokens!(fromChatWire(request));
    expect(relativeError(counted, usage.prompt_tokens as number)).toBeLessThanOrEqual(0.03);
  });

  it('picks the encoding per model family', () => {
    expect(openaiEncoding('gpt-4o-mini')).toBe('o200k_base');
    expect(openaiEncoding('gpt-4.1')).toBe('o200k_base');
    expect(openaiEncoding('o3-mini')).toBe('o200k_base');
    expect(openaiEncoding('gpt-5')).toBe('o200k_base');
    expect(openaiEncoding('gpt-4')).toBe('cl100k_base');
    expect(openaiEncoding('gpt-4-turbo-2024-04-09')).toBe('cl100k_base');
    expect(openaiEncoding('gpt-3.5-turbo')).toBe('cl100k_base');
  });

  it('counts special-token text in content as ordinary text instead of throwing', () => {
    const request: Counted = { messages: [{ role: 'user', content: 'a <|endoftext|> b' }], tools: [] };
    expect(openai('gpt-4o-mini').countTokens!(request)).toBeGreaterThan(8);
  });
});

describe('OpenAI tokenUpperBound', () => {
  const all = [...RECORDINGS.map(([name]) => name), 'openai-gpt-4o-many-tools'];

  it.each(all)('%s: at least the count, with no tokenizer', (name) => {
    const { request } = load<ChatWireRequest>(name);
    const model = openai(request.model);
    const counted = fromChatWire(request);
    const bound = model.tokenUpperBound!(counted);
    expect(bound).toBeGreaterThanOrEqual(model.countTokens!(counted));
    // A bound, not a second count: English text is several bytes a token.
    expect(bound).toBeGreaterThan(1.5 * model.countTokens!(counted));
  });

  it('holds for text where tokens and bytes come closest, in both encodings', () => {
    // One token per byte at best: digits, punctuation runs, special-token text, emoji, CJK.
    const texts = ['7', '0123456789'.repeat(50), '!?#'.repeat(100), '<|endoftext|><|im_start|>', '🦜🧪👩‍👩‍👧', '東京都の天気は？', '\u{10FFFF}\u0000'];
    for (const modelId of ['gpt-4o-mini', 'gpt-4', 'gpt-5-mini']) {
      const model = openai(modelId);
      for (const content of texts) {
        const request: Counted = {
          system: content,
          messages: [
            { role: 'user', content },
            { role: 'assistant', content, toolCalls: [{ id: 'c1', name: 'f', arguments: { content } }] },
            { role: 'tool', toolCallId: 'c1', toolName: 'f', content },
          ],
          tools: [{ name: 'f', description: content, parameters: { type: 'object', properties: { content: { type: 'string', description: content } } } }],
        };
        expect(model.tokenUpperBound!(request)).toBeGreaterThanOrEqual(model.countTokens!(request));
      }
    }
  });
});
