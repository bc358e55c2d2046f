import type { Message, ReasoningPart, ToolCall, Usage } from '../messages.js';

/** A tool as the model sees it: name, description and a JSON Schema of its parameters. */
export interface ToolDefinition {
  name: string;
  description: string;
  /** JSON Schema (draft 2020-12 subset the providers accept) of the arguments object. */
  parameters: Record<string, unknown>;
}

/** One request to a model, provider-neutral. */
export interface ModelRequest {
  /** The system prompt (the agent's instructions). */
  system?: string;
  /** The conversation so far, without the system prompt. */
  messages: Message[];
  /** Tools the model may call; empty for none. */
  tools: ToolDefinition[];
  /** Most tokens the model may generate (`gen_ai.request.max_tokens`). */
  maxOutputTokens?: number;
  temperature?: number;
  /** `none` forbids tool calls for this request (a graceful final answer). */
  toolChoice?: 'auto' | 'none';
  /**
   * Asks for the final answer as JSON matching `jsonSchema` (the agent's `output`): each adapter
   * uses its provider's native structured output (OpenAI chat `response_format: json_schema`,
   * the Responses API's `text.format`, Anthropic's `output_config.format` or a forced final
   * tool, Gemini's `responseJsonSchema`). The answer comes back as the response's `text`, the JSON itself. A model that
   * ignores this field gets the schema in its system prompt instead (see
   * {@link Model.structuredOutput}).
   */
  output?: OutputRequest;
  /** Aborts the HTTP request. */
  signal?: AbortSignal;
}

/** The structured answer a request asks for (`ModelRequest.output`). */
export interface OutputRequest {
  /** The format's name (OpenAI's `json_schema.name`, Anthropic's final tool name): `^[a-zA-Z0-9_-]{1,64}$`. */
  name: string;
  /** What the answer is, for the model. */
  description?: string;
  /**
   * JSON Schema (draft 2020-12) of the answer, an object, made strict-compatible: every object
   * has `additionalProperties: false` and lists all its properties in `required`.
   */
  jsonSchema: Record<string, unknown>;
}

/**
 * Why the model stopped, normalised to the OpenTelemetry GenAI values of
 * `gen_ai.response.finish_reasons` (`stop`, `length`, `tool_calls`, `content_filter`, `error`);
 * another provider value is passed through as is.
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'error' | (string & {});

/** The model's answer to one request. */
export interface ModelResponse {
  /** The provider's response id (`gen_ai.response.id`). */
  id?: string;
  /** The model that answered, as the provider names it (`gen_ai.response.model`). */
  model?: string;
  text: string;
  toolCalls: ToolCall[];
  reasoning?: ReasoningPart[];
  finishReason: FinishReason;
  /**
   * The model's refusal, when it declined to answer: OpenAI's `message.refusal` (chat) or
   * `refusal` content part (Responses), which Structured Outputs sends instead of the JSON
   * (platform.openai.com/docs/guides/structured-outputs, "Refusals"). `text` holds the same
   * words, so an agent without an `output` schema answers with them; a typed agent fails with
   * `OutputValidationError` (reason `refusal`). (Anthropic's `stop_reason: "refusal"` is the
   * finish reason `content_filter`, its text possibly a partial answer: not a refusal's words.)
   */
  refusal?: string;
  /** Usage of this call, in the GenAI conventions' terms (see {@link Usage}). */
  usage: Usage;
  /** Cost in USD when the provider itself reports one; tracebound prices the call otherwise. */
  providerCostUsd?: number;
}

/**
 * What a streaming call yields, in order: deltas as they arrive, then exactly one `response`
 * chunk with the whole answer and its usage.
 */
export type ModelStreamChunk =
  | { type: 'text-delta'; text: string }
  | { type: 'reasoning-delta'; text: string }
  | { type: 'tool-call-start'; index: number; id: string; name: string }
  | { type: 'tool-call-delta'; index: number; argumentsDelta: string }
  | { type: 'response'; response: ModelResponse };

/** The parts of a request that are sent as prompt tokens: system prompt, messages and tool definitions. */
export type CountedRequest = Pick<ModelRequest, 'system' | 'messages' | 'tools'>;

/**
 * A model tracebound can run: the OpenAI and Anthropic adapters implement it, and so can any
 * user's own model.
 */
export interface Model {
  /** `gen_ai.provider.name`: `openai`, `anthropic`, or the user's own name. */
  readonly provider: string;
  /** The requested model (`gen_ai.request.model`), also the key for its price. */
  readonly modelId: string;
  /**
   * True when the model honours {@link ModelRequest.output} natively (the OpenAI and Anthropic
   * adapters do). Otherwise the runtime also writes the JSON Schema into the system prompt and
   * parses the answer's text ("instruct and parse").
   */
  readonly structuredOutput?: boolean;
  /** Host and port of the API, for `server.address` / `server.port`. */
  readonly server?: { address: string; port?: number };
  /**
   * Sends one request and resolves with the whole answer.
   * @throws {ModelCallError} (or a subclass) for any provider or transport failure.
   */
  generate(request: ModelRequest): Promise<ModelResponse>;
  /**
   * Streams one request; the last chunk is `{ type: 'response' }`.
   * @throws {ModelCallError} (or a subclass), before or during the stream.
   */
  stream(request: ModelRequest): AsyncIterable<ModelStreamChunk>;
  /**
   * The prompt tokens `request` will cost: system prompt + messages + tool definitions, with the
   * framing the provider wraps around them, in tokens. It may be an estimate (Anthropic's is:
   * no tokenizer of current Claude models is public); the budget corrects it per run by the
   * input tokens the provider reports, and without it the budget estimates ~4 characters a
   * token. Called synchronously before a guarded call whose count can change a budget decision
   * (see {@link tokenUpperBound}), so it should not do I/O.
   */
  countTokens?(request: CountedRequest): number;
  /**
   * A cheap upper bound of {@link countTokens} for `request` (tokens), computed without a
   * tokenizer (e.g. from UTF-8 byte lengths). It must never be below what `countTokens` returns
   * for the same request: the budget reserves with it, and counts exactly only when the bound
   * comes near a limit (the call would not fit in full, or the prompt would be over
   * `contextTokens`) or a shared spend window is involved. Without it every guarded call is
   * counted exactly. Ignored without `countTokens`.
   */
  tokenUpperBound?(request: CountedRequest): number;
}
