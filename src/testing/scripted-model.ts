import { toUsage, type ReasoningPart, type ToolCall, type Usage } from '../messages.js';
import { anthropicTokenCounting } from '../providers/anthropic-tokens.js';
import type { FinishReason, Model, ModelRequest, ModelResponse, ModelStreamChunk } from '../providers/model.js';
import { openaiTokenCounting } from '../providers/openai-tokens.js';

/** One scripted answer. Usage fields left out count as 0 tokens. */
export interface ScriptedResponse {
  text?: string;
  toolCalls?: ToolCall[];
  reasoning?: ReasoningPart[];
  usage?: Partial<Usage>;
  /** Default `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: FinishReason;
  /** Throw this instead of answering (e.g. a `ModelCallError` to test retries). */
  error?: Error;
}

/** What `scriptedModel()` takes. */
export interface ScriptedModelOptions {
  /** `gen_ai.provider.name`, also the price table's provider. Default `scripted`. */
  provider?: string;
  /** The model id, priced like that model. Default `scripted-model`. */
  modelId?: string;
  /** A function of the request, or a list of answers served in order. */
  respond: ((request: ModelRequest, call: number) => ScriptedResponse) | readonly ScriptedResponse[];
  /**
   * How the budget counts its prompts (see `Model.countTokens` and `Model.tokenUpperBound`).
   * Default: as the adapter of `provider` counts for `modelId` (`openai`, `anthropic`), else not
   * at all (the budget's ~4 characters a token).
   */
  counting?: Pick<Model, 'countTokens' | 'tokenUpperBound'>;
}

/** A scripted model, with the requests it received. */
export interface ScriptedModel extends Model {
  /** Every request, in order. */
  readonly requests: ModelRequest[];
}

/** How the adapter of `provider` counts prompts for `modelId`; nothing for other providers. */
function adapterCounting(provider: string, modelId: string): Pick<Model, 'countTokens' | 'tokenUpperBound'> {
  if (provider === 'openai') return openaiTokenCounting(modelId);
  if (provider === 'anthropic') return anthropicTokenCounting();
  return {};
}

/**
 * A model that answers from a script, at once and offline: for tests and benchmarks. It is priced
 * like the `provider`/`modelId` it names, and its prompts are counted as that model's adapter
 * counts them (unless `counting` says otherwise), so budgets decide as they would for that model.
 * @throws {Error} from `generate`/`stream` when a list of answers runs out (naming the call).
 */
export function scriptedModel(options: ScriptedModelOptions): ScriptedModel {
  const requests: ModelRequest[] = [];
  const provider = options.provider ?? 'scripted';
  const modelId = options.modelId ?? 'scripted-model';
  const answer = (request: ModelRequest): ModelResponse => {
    requests.push(request);
    const call = requests.length;
    const scripted =
      typeof options.respond === 'function' ? options.respond(request, call) : options.respond[call - 1];
    if (!scripted) {
      throw new Error(`scriptedModel: no scripted response for call ${call} (the script has ${(options.respond as readonly unknown[]).length})`);
    }
    if (scripted.error) throw scripted.error;
    const toolCalls = scripted.toolCalls ?? [];
    return {
      id: `scripted-${call}`,
      model: modelId,
      text: scripted.text ?? '',
      toolCalls,
      reasoning: scripted.reasoning,
      finishReason: scripted.finishReason ?? (toolCalls.length ? 'tool_calls' : 'stop'),
      usage: toUsage(scripted.usage),
    };
  };
  return {
    provider,
    modelId,
    ...(options.counting ?? adapterCounting(provider, modelId)),
    requests,
    generate: async (request) => answer(request),
    async *stream(request): AsyncIterable<ModelStreamChunk> {
      const response = answer(request);
      for (const word of response.text.match(/\S+\s*/g) ?? []) yield { type: 'text-delta', text: word };
      yield { type: 'response', response };
    },
  };
}
