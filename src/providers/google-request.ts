import type {
  Content,
  FunctionCallingConfigMode,
  FunctionDeclaration,
  GenerateContentConfig,
  GenerateContentParameters,
  Part,
  ThinkingConfig,
} from '@google/genai';
import type { AssistantMessage, Message, ToolMessage } from '../messages.js';
import type { ModelRequest, ToolDefinition } from './model.js';

/**
 * The parameters of one `models.generateContent` / `generateContentStream` call of `@google/genai`
 * (Gemini API `POST /v1beta/models/{model}:generateContent`), built from a provider-neutral request.
 *
 * - `request.system` and the conversation's system messages become `config.systemInstruction`
 *   (joined by blank lines); Gemini has no system role in `contents`.
 * - assistant turns are `model` contents: text, then one `functionCall` part per tool call with
 *   its `id` and, when the call carried one, its `thoughtSignature` unchanged (see
 *   {@link ToolCall.signature}).
 * - consecutive tool messages become ONE `user` content of `functionResponse` parts, in call
 *   order, so every result of a model turn answers it together; a result is
 *   `{ output: content }`, a failed one `{ error: content }` (the keys the API documents for
 *   `FunctionResponse.response`).
 * - tools are `functionDeclarations` with `parametersJsonSchema`: the JSON Schema as is, where
 *   `parameters` would need Gemini's OpenAPI subset.
 * - `toolChoice: 'none'` is `toolConfig.functionCallingConfig.mode: NONE`; `auto` is the default
 *   and is not sent.
 * - `request.output` is `responseMimeType: 'application/json'` + `responseJsonSchema`.
 * - `maxOutputTokens` and `temperature` as given; `thinkingConfig` from the factory option.
 *
 * @param signal becomes `config.abortSignal`, which the SDK passes to `fetch`.
 */
export function toGeminiParams(modelId: string, request: ModelRequest, thinkingConfig: ThinkingConfig | undefined): GenerateContentParameters {
  const config: GenerateContentConfig = {};
  const system = systemText(request);
  if (system !== undefined) config.systemInstruction = system;
  if (request.tools.length > 0) config.tools = [{ functionDeclarations: request.tools.map(toDeclaration) }];
  if (request.toolChoice === 'none') {
    // The SDK's enum is a runtime value, and the SDK is only imported on a model's first call.
    config.toolConfig = { functionCallingConfig: { mode: 'NONE' as FunctionCallingConfigMode } };
  }
  if (request.maxOutputTokens !== undefined) config.maxOutputTokens = request.maxOutputTokens;
  if (request.temperature !== undefined) config.temperature = request.temperature;
  if (request.output) {
    config.responseMimeType = 'application/json';
    config.responseJsonSchema = request.output.jsonSchema;
  }
  if (thinkingConfig !== undefined) config.thinkingConfig = thinkingConfig;
  if (request.signal) config.abortSignal = request.signal;
  return { model: modelId, contents: toGeminiContents(request.messages), config };
}

/** `request.system` plus any system messages in the conversation, joined by blank lines. */
function systemText(request: ModelRequest): string | undefined {
  const parts = [request.system, ...request.messages.filter((m) => m.role === 'system').map((m) => m.content)];
  const present = parts.filter((p): p is string => p !== undefined && p !== '');
  return present.length > 0 ? present.join('\n\n') : undefined;
}

function toDeclaration(tool: ToolDefinition): FunctionDeclaration {
  return { name: tool.name, description: tool.description, parametersJsonSchema: tool.parameters };
}

/** Converts the conversation (system messages excluded) to Gemini `contents`. */
export function toGeminiContents(messages: readonly Message[]): Content[] {
  const out: Content[] = [];
  let pendingResults: Part[] = [];
  const flushResults = (): void => {
    if (pendingResults.length === 0) return;
    out.push({ role: 'user', parts: pendingResults });
    pendingResults = [];
  };
  for (const message of messages) {
    if (message.role === 'tool') {
      pendingResults.push(toFunctionResponse(message));
      continue;
    }
    flushResults();
    if (message.role === 'user') out.push({ role: 'user', parts: [{ text: message.content }] });
    else if (message.role === 'assistant') out.push({ role: 'model', parts: modelParts(message) });
  }
  flushResults();
  return out;
}

function toFunctionResponse(message: ToolMessage): Part {
  return {
    functionResponse: {
      id: message.toolCallId,
      name: message.toolName,
      response: message.isError === true ? { error: message.content } : { output: message.content },
    },
  };
}

/**
 * The parts of a model turn. Call ids are sent back even when tracebound made them (Gemini 2.x
 * gives none): the API accepts a client's ids on `functionCall` and `functionResponse` (recorded
 * in pydantic-ai's Gemini cassettes, which send their own `pyd_ai_...` ids).
 */
function modelParts(message: AssistantMessage): Part[] {
  const parts: Part[] = [];
  if (message.content !== '') parts.push({ text: message.content });
  for (const call of message.toolCalls ?? []) {
    const part: Part = { functionCall: { id: call.id, name: call.name, args: argsObject(call.arguments) } };
    if (call.signature !== undefined) part.thoughtSignature = call.signature;
    parts.push(part);
  }
  // An empty answer goes back as one empty text part, as a request the API accepted did
  // (pydantic-ai's test_google_model_empty_assistant_response cassette).
  if (parts.length === 0) parts.push({ text: '' });
  return parts;
}

/** `functionCall.args` must be an object; arguments kept as raw text (not JSON) go back under `input`. */
function argsObject(args: unknown): Record<string, unknown> {
  if (args !== null && typeof args === 'object' && !Array.isArray(args)) return args as Record<string, unknown>;
  return args === undefined ? {} : { input: args };
}
