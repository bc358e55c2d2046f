/** Recorded request bodies (tests/fixtures/token-counts) turned into tracebound requests. */
import { readFileSync } from 'node:fs';
import type { AssistantMessage, Message, ToolCall } from '../../src/messages.js';
import type { ModelRequest, ToolDefinition } from '../../src/providers/model.js';
import { parseArguments } from '../../src/providers/openai-common.js';

/** A recorded request body and the usage its response reported (tests/fixtures/token-counts). */
export interface Recording<Req> {
  request: Req;
  usage: Record<string, unknown>;
}

export function load<Req>(name: string): Recording<Req> {
  return JSON.parse(readFileSync(new URL(`../fixtures/token-counts/${name}.json`, import.meta.url), 'utf8')) as Recording<Req>;
}

export type Counted = Pick<ModelRequest, 'system' | 'messages' | 'tools'>;

// --- Chat Completions wire -> tracebound request ------------------------------------------------

interface ChatWireMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | null;
  tool_call_id?: string;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
}
export interface ChatWireRequest {
  model: string;
  messages: ChatWireMessage[];
  tools?: { function: { name: string; description?: string; parameters: Record<string, unknown> } }[];
}

/** The request tracebound would have built for the same conversation (see openai-chat.ts). */
export function fromChatWire(wire: ChatWireRequest): Counted {
  const names = new Map<string, string>();
  const messages: Message[] = [];
  let system: string | undefined;
  wire.messages.forEach((m, i) => {
    const content = m.content ?? '';
    if (m.role === 'system' || m.role === 'developer') {
      if (i === 0) system = content;
      else messages.push({ role: 'system', content });
    } else if (m.role === 'user') {
      messages.push({ role: 'user', content });
    } else if (m.role === 'assistant') {
      const toolCalls: ToolCall[] = (m.tool_calls ?? []).map((c) => {
        names.set(c.id, c.function.name);
        return { id: c.id, name: c.function.name, arguments: parseArguments(c.function.arguments) };
      });
      messages.push(toolCalls.length > 0 ? { role: 'assistant', content, toolCalls } : { role: 'assistant', content });
    } else {
      const id = m.tool_call_id as string;
      messages.push({ role: 'tool', toolCallId: id, toolName: names.get(id) as string, content });
    }
  });
  const tools: ToolDefinition[] = (wire.tools ?? []).map((t) => ({
    name: t.function.name,
    description: t.function.description ?? '',
    parameters: t.function.parameters,
  }));
  return { system, messages, tools };
}

// --- Messages API wire -> tracebound request ----------------------------------------------------

type AnthropicBlock =
  | { type: 'text'; text: string }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean };
export interface AnthropicWireRequest {
  model: string;
  system?: string | { text: string }[];
  messages: { role: 'user' | 'assistant'; content: string | AnthropicBlock[] }[];
  tools?: { name: string; description?: string; input_schema: Record<string, unknown> }[];
}

/** The request tracebound would have built for the same conversation (see anthropic-request.ts). */
export function fromAnthropicWire(wire: AnthropicWireRequest): Counted {
  const names = new Map<string, string>();
  const messages: Message[] = [];
  for (const m of wire.messages) {
    const blocks: AnthropicBlock[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    const text = blocks.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
    if (m.role === 'user') {
      if (text !== '') messages.push({ role: 'user', content: text });
      for (const b of blocks) {
        if (b.type !== 'tool_result') continue;
        messages.push({ role: 'tool', toolCallId: b.tool_use_id, toolName: names.get(b.tool_use_id) as string, content: b.content, isError: b.is_error });
      }
      continue;
    }
    const assistant: AssistantMessage = { role: 'assistant', content: text };
    for (const b of blocks) {
      if (b.type === 'tool_use') {
        names.set(b.id, b.name);
        (assistant.toolCalls ??= []).push({ id: b.id, name: b.name, arguments: b.input });
      } else if (b.type === 'thinking') {
        (assistant.reasoning ??= []).push({ text: b.thinking, signature: b.signature });
      } else if (b.type === 'redacted_thinking') {
        (assistant.reasoning ??= []).push({ text: '', redacted: b.data });
      }
    }
    messages.push(assistant);
  }
  const system = typeof wire.system === 'string' ? wire.system : wire.system?.map((b) => b.text).join('\n');
  const tools = (wire.tools ?? []).map((t) => ({ name: t.name, description: t.description ?? '', parameters: t.input_schema }));
  return { system, messages, tools };
}

/** Anthropic's input tokens in tracebound's sense: uncached + cache read + cache write. */
export function anthropicInput(usage: Record<string, unknown>): number {
  const n = (key: string): number => (typeof usage[key] === 'number' ? (usage[key] as number) : 0);
  return n('input_tokens') + n('cache_read_input_tokens') + n('cache_creation_input_tokens');
}

