/**
 * The provider metadata an AI SDK provider package attaches to an answer's parts and wants back,
 * unchanged, on the same parts of the next turn's prompt (as `providerOptions`, which is how the
 * `ai` package carries a response's parts into the next call). tracebound keeps it on its own
 * messages, so conversations, checkpoints and fallbacks keep it too:
 *
 * - Anthropic (`@ai-sdk/anthropic`): a `reasoning` part's `providerMetadata.anthropic.signature`
 *   (a `thinking` block's signature) or `.redactedData` (a `redacted_thinking` block's data), read
 *   back from the reasoning part's `providerOptions.anthropic` (convert-to-anthropic-messages-prompt.ts
 *   sends a reasoning part without either as nothing, with a warning): {@link ReasoningPart}'s
 *   `signature` and `redacted`, as tracebound's own Anthropic adapter keeps them.
 * - Google (`@ai-sdk/google`): a `tool-call` part's `providerMetadata.google.thoughtSignature`
 *   (`vertex` for a Vertex model), read back from the tool-call part's `providerOptions` of the
 *   same name (convert-to-google-generative-ai-messages.ts): {@link ToolCall.signature}, as
 *   tracebound's own Gemini adapter keeps it. Gemini 3 rejects a function call sent back without
 *   it (ai.google.dev/gemini-api/docs/thought-signatures).
 *
 * Each goes under its own provider's key, which other providers ignore.
 */
import type { SharedV3ProviderMetadata, SharedV3ProviderOptions } from '@ai-sdk/provider';
import type { ReasoningPart, ToolCall } from '../messages.js';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Adds what a reasoning part's (or stream part's) metadata carries to `part`: Anthropic's
 * signature or redacted data. A stream sends the signature on a delta and redacted data on the
 * start, so each piece of metadata is added as it comes.
 */
export function addReasoningMetadata(part: ReasoningPart, metadata: SharedV3ProviderMetadata | undefined): void {
  const signature = text(metadata?.['anthropic']?.['signature']);
  const redacted = text(metadata?.['anthropic']?.['redactedData']);
  if (signature !== undefined) part.signature = signature;
  if (redacted !== undefined) part.redacted = redacted;
}

/** The thought signature a Gemini tool-call part's metadata carries (under `google`, or `vertex`). */
export function toolCallSignature(metadata: SharedV3ProviderMetadata | undefined): string | undefined {
  return text(metadata?.['google']?.['thoughtSignature']) ?? text(metadata?.['vertex']?.['thoughtSignature']);
}

/** A reasoning part's `providerOptions` for the prompt: its Anthropic signature or redacted data. */
export function reasoningOptions(part: ReasoningPart): SharedV3ProviderOptions | undefined {
  if (part.signature !== undefined) return { anthropic: { signature: part.signature } };
  if (part.redacted !== undefined) return { anthropic: { redactedData: part.redacted } };
  return undefined;
}

/**
 * The key `@ai-sdk/google` reads a prompt part's options under: `vertex` for a Vertex model
 * (provider id `google.vertex.*`), else `google` (its `providerOptionsName`).
 */
export function googleOptionsName(aiSdkProvider: string): string {
  return aiSdkProvider.includes('vertex') ? 'vertex' : 'google';
}

/** A tool-call part's `providerOptions` for the prompt: its thought signature, under `optionsName`. */
export function toolCallOptions(call: ToolCall, optionsName: string): SharedV3ProviderOptions | undefined {
  return call.signature === undefined ? undefined : { [optionsName]: { thoughtSignature: call.signature } };
}
