/** Recorded Gemini request bodies (tests/fixtures/google/count-*.json) turned into tracebound requests. */
import { readFileSync } from 'node:fs';
import type { AssistantMessage, Message } from '../../src/messages.js';
import type { CountedRequest, ToolDefinition } from '../../src/providers/model.js';

interface WirePart {
  text?: string;
  thoughtSignature?: string;
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}
export interface GeminiWireRequest {
  contents: { role: 'user' | 'model'; parts: WirePart[] }[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: { functionDeclarations?: { name: string; description?: string; parameters?: Record<string, unknown>; parameters_json_schema?: Record<string, unknown> }[] }[];
}
export interface CountRecording {
  model: string;
  request: GeminiWireRequest;
  usage: { promptTokenCount: number; toolUsePromptTokenCount?: number };
}

export function loadCount(name: string): CountRecording {
  return JSON.parse(readFileSync(new URL(`../fixtures/google/${name}.json`, import.meta.url), 'utf8')) as CountRecording;
}

/**
 * The request tracebound would have built for the same conversation (see google-request.ts): a
 * function response's single `return_value` (pydantic-ai's key) is the tool message's text, as
 * tracebound's `{ output }` would carry it.
 */
export function fromGeminiWire(wire: GeminiWireRequest): CountedRequest {
  const messages: Message[] = [];
  for (const content of wire.contents) {
    const text = content.parts.flatMap((p) => (p.text !== undefined ? [p.text] : [])).join('');
    if (content.role === 'model') {
      const assistant: AssistantMessage = { role: 'assistant', content: text };
      for (const p of content.parts) {
        if (!p.functionCall) continue;
        const call = { id: p.functionCall.id ?? '', name: p.functionCall.name, arguments: p.functionCall.args ?? {} };
        (assistant.toolCalls ??= []).push(p.thoughtSignature !== undefined ? { ...call, signature: p.thoughtSignature } : call);
      }
      messages.push(assistant);
      continue;
    }
    const results = content.parts.filter((p) => p.functionResponse);
    if (results.length === 0) messages.push({ role: 'user', content: text });
    for (const { functionResponse: r } of results) {
      const value = r!.response['return_value'];
      messages.push({ role: 'tool', toolCallId: r!.id ?? '', toolName: r!.name, content: typeof value === 'string' ? value : JSON.stringify(r!.response) });
    }
  }
  const tools: ToolDefinition[] = (wire.tools ?? []).flatMap((t) => t.functionDeclarations ?? []).map((d) => ({
    name: d.name,
    description: d.description ?? '',
    parameters: d.parameters_json_schema ?? d.parameters ?? {},
  }));
  const system = wire.systemInstruction?.parts.map((p) => p.text).join('\n');
  return { system, messages, tools };
}
