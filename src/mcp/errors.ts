import { maskSecrets } from '../secrets.js';

/**
 * An MCP server that could not be reached, closed the connection (a stdio server that exited) or
 * answered a call with a protocol error. The server is named by its command or URL, with known
 * secrets masked; `cause` holds the SDK's error.
 */
export class McpServerError extends Error {
  override readonly name = 'McpServerError';
  /** `node server.js` or the URL, secrets masked. */
  readonly server: string;

  constructor(server: string, message: string, options?: { cause?: unknown }) {
    const masked = maskSecrets(server);
    super(maskSecrets(`MCP server ${masked}: ${message}`), options);
    this.server = masked;
  }
}
