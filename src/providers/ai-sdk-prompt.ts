/**
 * tracebound requests as AI SDK call options: the `@ai-sdk/provider` specification's
 * `LanguageModelV3CallOptions` (prompt, tools, tool choice, limits, abort signal), which every AI
 * SDK provider package turns into its own wire format.
 */
import type {
  LanguageModelV3CallOptions,
  LanguageModelV3FunctionTool,
  LanguageModelV3Message,
  LanguageModelV3Prompt,
} from '@ai-sdk/provider';
import type { AssistantMessage, Message } from '../messages.js';
import { googleOptionsName, reasoningOptions, toolCallOptions } from './ai-sdk-metadata.js';
import type { ModelRequest, ToolDefinition } from './model.js';

/**
 * The call options of one request. Tools go as `function` tools with their JSON Schema;
 * `toolChoice: 'none'` is sent only with tools (the provider's default is `auto`); a structured
 * answer (`request.output`) as the `json` response format with its schema. Signatures of earlier
 * answers go back as their parts' `providerOptions` (see ai-sdk-metadata.ts).
 * @param aiSdkProvider the model's AI SDK `provider` id, which names the key of Gemini's options.
 */
export function callOptions(request: ModelRequest, aiSdkProvider: string): LanguageModelV3CallOptions {
  const options: LanguageModelV3CallOptions = { prompt: promptOf(request, googleOptionsName(aiSdkProvider)) };
  if (request.tools.length > 0) {
    options.tools = request.tools.map(functionTool);
    if (request.toolChoice === 'none') options.toolChoice = { type: 'none' };
  }
  if (request.maxOutputTokens !== undefined) options.maxOutputTokens = request.maxOutputTokens;
  if (request.temperature !== undefined) options.temperature = request.temperature;
  if (request.signal !== undefined) options.abortSignal = request.signal;
  if (request.output) {
    const { name, description, jsonSchema } = request.output;
    // The specification's JSON response format: each provider package maps it to its native
    // structured output, or to JSON mode with the schema in the prompt where it has none.
    options.responseFormat = { type: 'json', schema: jsonSchema as NonNullable<Extract<LanguageModelV3CallOptions['responseFormat'], { type: 'json' }>['schema']>, name, ...(description === undefined ? {} : { description }) };
  }
  return options;
}

function promptOf(request: ModelRequest, googleOptions: string): LanguageModelV3Prompt {
  const prompt: LanguageModelV3Prompt = request.system === undefined ? [] : [{ role: 'system', content: request.system }];
  for (const message of request.messages) prompt.push(toMessage(message, googleOptions));
  return prompt;
}

function toMessage(message: Message, googleOptions: string): LanguageModelV3Message {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return { role: 'user', content: [{ type: 'text', text: message.content }] };
    case 'assistant':
      return assistant(message, googleOptions);
    case 'tool':
      return {
        role: 'tool',
        content: [
          {
            type: 'tool-result',
            toolCallId: message.toolCallId,
            toolName: message.toolName,
            // A failed call's text goes as the specification's error output, so a provider with
            // an error flag on tool results (Anthropic's `is_error`) can set it.
            output: message.isError ? { type: 'error-text', value: message.content } : { type: 'text', value: message.content },
          },
        ],
      };
  }
}

function assistant(message: AssistantMessage, googleOptions: string): LanguageModelV3Message {
  const content: Extract<LanguageModelV3Message, { role: 'assistant' }>['content'] = [];
  for (const part of message.reasoning ?? []) {
    const providerOptions = reasoningOptions(part);
    // A redacted block has no text but must go back: its data is the reasoning.
    if (part.text !== '' || providerOptions) content.push({ type: 'reasoning', text: part.text, ...(providerOptions ? { providerOptions } : {}) });
  }
  if (message.content !== '') content.push({ type: 'text', text: message.content });
  for (const call of message.toolCalls ?? []) {
    const providerOptions = toolCallOptions(call, googleOptions);
    // Arguments that never parsed as JSON stay the raw string, so the model sees what it sent.
    content.push({ type: 'tool-call', toolCallId: call.id, toolName: call.name, input: call.arguments, ...(providerOptions ? { providerOptions } : {}) });
  }
  return { role: 'assistant', content };
}

function functionTool(tool: ToolDefinition): LanguageModelV3FunctionTool {
  return { type: 'function', name: tool.name, description: tool.description, inputSchema: tool.parameters };
}
