/**
 * Structured answers on Anthropic (`ModelRequest.output`): the native `output_config.format`
 * (JSON outputs) where the model has it, else a forced final tool whose input is the answer.
 */
import type { Tool, ToolChoice } from '@anthropic-ai/sdk/resources/messages/messages';
import type { ModelResponse, ModelStreamChunk, OutputRequest } from './model.js';

/** How an Anthropic model is asked for a structured answer. */
export type AnthropicOutputMode = 'native' | 'tool';

/**
 * Model ids (prefixes) with `output_config.format`, as listed by Anthropic's structured outputs
 * docs (platform.claude.com/docs/en/build-with-claude/structured-outputs) and pydantic-ai's
 * Anthropic profile (pydantic_ai_slim/pydantic_ai/profiles/anthropic.py @ 4fda389). Older
 * models (Claude 3.x, Sonnet 4, Opus 4) get the final tool instead.
 */
const NATIVE_OUTPUT_MODELS = [
  'claude-fable-5',
  'claude-mythos-5',
  'claude-haiku-4-5',
  'claude-sonnet-4-5',
  'claude-sonnet-4-6',
  'claude-sonnet-5',
  'claude-opus-4-1',
  'claude-opus-4-5',
  'claude-opus-4-6',
  'claude-opus-4-7',
  'claude-opus-4-8',
  'claude-opus-5',
] as const;

/** `native` when the model id starts with one of {@link NATIVE_OUTPUT_MODELS}, else `tool`. */
export function anthropicOutputMode(modelId: string): AnthropicOutputMode {
  return NATIVE_OUTPUT_MODELS.some((prefix) => modelId.startsWith(prefix)) ? 'native' : 'tool';
}

const FINAL_TOOL_DESCRIPTION = 'The final answer, which ends this conversation.';

/**
 * The final tool for `output` and the `tool_choice` that makes the model end with it: `any` while
 * the agent's other tools may still be called (the model must call some tool, and only the final
 * one answers), or that very tool when it is the only one offered (no other tools, or a last call
 * that allows none: the other tools are then left out).
 */
export function finalTool(output: OutputRequest, otherTools: Tool[], toolChoice: 'auto' | 'none' | undefined): { tools: Tool[]; toolChoice: ToolChoice } {
  const tool: Tool = { name: output.name, description: output.description ?? FINAL_TOOL_DESCRIPTION, input_schema: output.jsonSchema as Tool.InputSchema };
  if (otherTools.length === 0 || toolChoice === 'none') return { tools: [tool], toolChoice: { type: 'tool', name: output.name } };
  return { tools: [...otherTools, tool], toolChoice: { type: 'any' } };
}

/**
 * A response in which the model called the final tool, as the answer: its input as JSON text,
 * with no tool calls (a call of another tool made alongside it is dropped: the run ends here) and
 * finish reason `stop`. Any other response is returned as is.
 */
export function finalToolAnswer(response: ModelResponse, name: string): ModelResponse {
  const call = response.toolCalls.find((c) => c.name === name);
  if (!call) return response;
  return { ...response, text: JSON.stringify(call.arguments), toolCalls: [], finishReason: 'stop' };
}

/**
 * A stream in which the final tool's input arrives as the text deltas (so a reader sees the
 * answer's JSON grow, as with native output), and whose response is {@link finalToolAnswer}'s.
 * Text the model writes before calling a tool ("Let me check...") is left out of the deltas: the
 * answer is the tool's input alone.
 */
export async function* finalToolStream(chunks: AsyncIterable<ModelStreamChunk>, name: string): AsyncGenerator<ModelStreamChunk> {
  let index: number | undefined;
  for await (const chunk of chunks) {
    if (chunk.type === 'tool-call-start' && chunk.name === name) index = chunk.index;
    else if (chunk.type === 'tool-call-delta' && chunk.index === index) yield { type: 'text-delta', text: chunk.argumentsDelta };
    else if (chunk.type === 'response') yield { type: 'response', response: finalToolAnswer(chunk.response, name) };
    else if (chunk.type !== 'text-delta') yield chunk;
  }
}
