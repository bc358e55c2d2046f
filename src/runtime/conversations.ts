/**
 * Conversations as a runtime shows them (`runtime.conversations`): plain data, the same whichever
 * store holds them. The stores (state/) write and read these shapes.
 */
import type { Message } from '../messages.js';

/**
 * A summary of a conversation's first messages, made by the `summarize` compression strategy and
 * kept with the conversation: later runs load it in place of the messages it covers.
 */
export interface ConversationSummary {
  /** The summary message's text, as the model was sent it. */
  content: string;
  /** How many of the conversation's first `messages` it stands for. */
  covers: number;
}

/** A stored conversation: every message of its turns, in order, system prompt excluded. */
export interface Conversation {
  id: string;
  /** The agent whose run started it. */
  agent: string;
  messages: Message[];
  summary?: ConversationSummary;
  /** When its first turn was saved, ISO 8601 (UTC). */
  createdAt: string;
  /** When its last turn was saved, ISO 8601 (UTC). */
  updatedAt: string;
}

/** A conversation in a listing: its messages counted, not read. */
export interface ConversationInfo {
  id: string;
  agent: string;
  /** How many messages it holds. */
  messages: number;
  createdAt: string;
  updatedAt: string;
}

/** What {@link Conversations.list} lists. */
export interface ConversationQuery {
  /** Only the conversations of this agent. */
  agent?: string;
  /** At most this many (default 100), most recently updated first. */
  limit?: number;
}

/** A runtime's stored conversations. Each call may reject with a `StoreError`. */
export interface Conversations {
  /** The conversation, or `undefined` when none has that id (or it was deleted). */
  get(id: string): Promise<Conversation | undefined>;
  /** Conversations, most recently updated first. */
  list(query?: ConversationQuery): Promise<ConversationInfo[]>;
  /**
   * Forgets the conversation: every message of it. A later run with its id starts a new one.
   * @returns whether there was one.
   */
  delete(id: string): Promise<boolean>;
}
