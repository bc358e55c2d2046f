/**
 * Context compression: when a prompt is over the budget's `contextTokens`, strategies shorten the
 * conversation before the call. Each strategy is a function of plain data; the loop traces the
 * compression as a `compress_context` span.
 */
import type { Message } from '../messages.js';

/** What a strategy gets. Token counts are prompt tokens (system + messages + tool schemas). */
export interface CompressionInput {
  /** The conversation, without the system prompt. */
  messages: readonly Message[];
  /** The most prompt tokens allowed. */
  limit: number;
  /** Prompt tokens of the request if it carried these messages. */
  count(messages: readonly Message[]): number;
  /**
   * Summarises messages with a model call (traced as a `chat` span under the compression span,
   * its cost counted toward the run and its budget).
   */
  summarize(messages: readonly Message[]): Promise<string>;
  signal: AbortSignal;
}

/** A compression strategy: returns the shortened conversation (or the same one if it cannot help). */
export interface CompressionStrategy {
  /** Its name, recorded as `tracebound.context.strategy`. */
  name: string;
  compress(input: CompressionInput): Message[] | Promise<Message[]>;
}

/** Text that stands in for a dropped tool result, so the call/result pair stays intact. */
export const DROPPED_RESULT = '[tool result removed to fit the context window]';
/** First message of a trimmed conversation that would otherwise start with the model's turn. */
export const TRIMMED_NOTE = '[Earlier messages were removed to fit the context window.]';

/**
 * Units that must be kept or dropped whole: a user or system message, or an assistant message
 * with the tool results that answer its calls (never split, or the provider rejects the request).
 */
function units(messages: readonly Message[]): Message[][] {
  const out: Message[][] = [];
  for (const message of messages) {
    const last = out.at(-1);
    if (message.role === 'tool' && last) last.push(message);
    else out.push([message]);
  }
  return out;
}

/**
 * The conversation as units, with which may be compressed: every unit but the latest user
 * message (the task) and the last unit (what the model must answer now).
 */
function split(messages: readonly Message[]): { units: Message[][]; compressible: boolean[] } {
  const all = units(messages);
  let task = -1;
  for (let i = all.length - 1; i >= 0; i--) {
    if (all[i]?.[0]?.role === 'user') {
      task = i;
      break;
    }
  }
  return { units: all, compressible: all.map((_, i) => i !== task && i !== all.length - 1) };
}

/** Replaces the content of the oldest compressible tool results, one by one, until the prompt fits. */
export const dropToolResults: CompressionStrategy = {
  name: 'drop_tool_results',
  compress({ messages, limit, count }) {
    const { units: all, compressible } = split(messages);
    const out = all.map((unit) => [...unit]);
    for (let u = 0; u < out.length && count(out.flat()) > limit; u++) {
      if (!compressible[u]) continue;
      const unit = out[u] as Message[];
      for (let i = 0; i < unit.length && count(out.flat()) > limit; i++) {
        const m = unit[i] as Message;
        if (m.role === 'tool' && m.content !== DROPPED_RESULT) unit[i] = { ...m, content: DROPPED_RESULT };
      }
    }
    return out.flat();
  },
};

/**
 * Drops the oldest compressible turns (an assistant turn with its tool results as one unit),
 * never the system prompt, the latest user message or the last turn, until the prompt fits.
 */
export const trim: CompressionStrategy = {
  name: 'trim',
  compress({ messages, limit, count }) {
    const { units: all, compressible } = split(messages);
    const build = (kept: Message[][]): Message[] => {
      const flat = kept.flat();
      return flat[0]?.role === 'user' ? flat : [{ role: 'user', content: TRIMMED_NOTE }, ...flat];
    };
    let kept = all;
    let dropped = false;
    for (let u = 0; u < all.length && count(build(kept)) > limit; u++) {
      if (!compressible[u]) continue;
      const unit = all[u];
      kept = kept.filter((k) => k !== unit);
      dropped = true;
    }
    return dropped ? build(kept) : [...messages];
  },
};

/** Replaces every compressible turn with one model-written summary, where the first of them stood. */
export const summarize: CompressionStrategy = {
  name: 'summarize',
  async compress({ messages, summarize: write }) {
    const { units: all, compressible } = split(messages);
    const older = all.filter((_, i) => compressible[i]);
    if (older.length === 0) return [...messages];
    const summary = await write(older.flat());
    const first = compressible.indexOf(true);
    const note: Message = { role: 'user', content: `Summary of the earlier conversation:\n${summary}` };
    return all.flatMap((unit, i) => (i === first ? [note] : compressible[i] ? [] : unit));
  },
};

/** The built-in strategies by name. */
export const BUILT_IN_STRATEGIES: Readonly<Record<string, CompressionStrategy>> = {
  drop_tool_results: dropToolResults,
  trim,
  summarize,
};

/** The default order: cheap and lossless-ish first. */
export const DEFAULT_STRATEGIES = ['drop_tool_results', 'trim'] as const;

/** The conversation as plain text, for a summarising model call. */
export function transcript(messages: readonly Message[]): string {
  return messages
    .map((m) => {
      switch (m.role) {
        case 'assistant': {
          const calls = (m.toolCalls ?? []).map((c) => `call ${c.name}(${JSON.stringify(c.arguments)})`);
          return `assistant: ${[m.content, ...calls].filter(Boolean).join('\n')}`;
        }
        case 'tool':
          return `tool ${m.toolName} result: ${m.content}`;
        default:
          return `${m.role}: ${m.content}`;
      }
    })
    .join('\n');
}
