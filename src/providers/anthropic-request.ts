import type {
  ContentBlockParam,
  MessageCreateParamsBase,
  MessageParam,
  Tool,
  ToolResultBlockParam,
} from '@anthropic-ai/sdk/resources/messages/messages';
import type { AssistantMessage, Message, ToolMessage } from '../messages.js';
import type { ModelRequest } from './model.js';
import { finalTool, type AnthropicOutputMode } from './anthropic-output.js';

/**
 * `max_tokens` when neither the request nor the factory sets one. The Messages API requires the
 * field (docs.anthropic.com/en/api/messages), so some value must always be sent.
 */
export const DEFAULT_MAX_TOKENS = 4096;

/**
 * A Messages API body. `temperature` is added by hand: this SDK version's types no longer list
 * it (its changelog calls it deprecated), yet the API still takes it (recorded requests of May 2026
 * send it) and the SDK sends the body as given.
 */
export type AnthropicParams = MessageCreateParamsBase & { temperature?: number };

/**
 * The body of a Messages API call (`POST /v1/messages`) without `stream`, built from a
 * provider-neutral request.
 *
 * - `max_tokens` = `request.maxOutputTokens ?? defaultMaxTokens ?? 4096` (tokens).
 * - consecutive tool messages become ONE `user` message of `tool_result` blocks, because the API
 *   wants every result of one assistant turn in the next user turn.
 * - assistant reasoning goes back first as `thinking` / `redacted_thinking` blocks: the API
 *   rejects a tool-use turn with extended thinking when its thinking block is missing.
 * - `toolChoice: 'none'` becomes `tool_choice: { type: 'none' }`; `auto` is the API's default and
 *   is not sent.
 * - a structured answer (`request.output`) is `output_config.format: { type: 'json_schema',
 *   schema }` in `native` mode, or a final tool the model is made to call in `tool` mode (see
 *   anthropic-output.ts).
 */
export function toAnthropicParams(
  modelId: string,
  request: ModelRequest,
  defaultMaxTokens: number | undefined,
  outputMode: AnthropicOutputMode = 'native',
): AnthropicParams {
  const params: AnthropicParams = {
    model: modelId,
    max_tokens: request.maxOutputTokens ?? defaultMaxTokens ?? DEFAULT_MAX_TOKENS,
    messages: toAnthropicMessages(request.messages),
  };
  const system = systemText(request);
  if (system !== undefined) params.system = system;
  const tools = request.tools.map(toAnthropicTool);
  if (tools.length > 0) params.tools = tools;
  if (request.toolChoice === 'none') params.tool_choice = { type: 'none' };
  if (request.output && outputMode === 'native') params.output_config = { format: { type: 'json_schema', schema: request.output.jsonSchema } };
  else if (request.output) {
    const forced = finalTool(request.output, tools, request.toolChoice);
    params.tools = forced.tools;
    params.tool_choice = forced.toolChoice;
  }
  if (request.temperature !== undefined) params.temperature = request.temperature;
  return params;
}

/** `request.system` plus any system messages in the conversation, joined by blank lines. */
function systemText(request: ModelRequest): string | undefined {
  const parts = [request.system, ...request.messages.filter((m) => m.role === 'system').map((m) => m.content)];
  const present = parts.filter((p): p is string => p !== undefined && p !== '');
  return present.length > 0 ? present.join('\n\n') : undefined;
}

function toAnthropicTool(tool: ModelRequest['tools'][number]): Tool {
  return {
    name: tool.name,
    description: tool.description,
    input_schema: tool.parameters as Tool.InputSchema,
  };
}

/** Converts the conversation (system messages excluded) to Messages API turns. */
export function toAnthropicMessages(messages: Message[]): MessageParam[] {
  const out: MessageParam[] = [];
  let pendingResults: ToolResultBlockParam[] = [];
  const flushResults = (): void => {
    if (pendingResults.length === 0) return;
    out.push({ role: 'user', content: pendingResults });
    pendingResults = [];
  };
  for (const message of messages) {
    if (message.role === 'tool') {
      pendingResults.push(toToolResult(message));
      continue;
    }
    flushResults();
    if (message.role === 'user') out.push({ role: 'user', content: message.content });
    else if (message.role === 'assistant') out.push({ role: 'assistant', content: assistantBlocks(message) });
  }
  flushResults();
  return out;
}

function toToolResult(message: ToolMessage): ToolResultBlockParam {
  return {
    type: 'tool_result',
    tool_use_id: message.toolCallId,
    content: message.content,
    is_error: message.isError ?? false,
  };
}

function assistantBlocks(message: AssistantMessage): ContentBlockParam[] {
  const blocks: ContentBlockParam[] = [];
  for (const part of message.reasoning ?? []) {
    if (part.redacted !== undefined) blocks.push({ type: 'redacted_thinking', data: part.redacted });
    // A thinking block without its signature is rejected by the API, so unsigned reasoning
    // (e.g. from another provider) stays out of the request.
    else if (part.signature !== undefined) blocks.push({ type: 'thinking', thinking: part.text, signature: part.signature });
  }
  if (message.content !== '') blocks.push({ type: 'text', text: message.content });
  for (const call of message.toolCalls ?? []) {
    blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: call.arguments });
  }
  return blocks;
}
