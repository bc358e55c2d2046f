/**
 * Readers of one provider's recorded fixtures (tests/fixtures/<provider>/): the exchange as the
 * recorded server serves it, and its body or SSE events to take expected values from.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadFixture, type RecordedExchange } from '../../src/testing/recorded-server.js';

/** The readers of the fixtures in `tests/fixtures/<provider>/`. */
export function fixtureReader(provider: string) {
  const dir = fileURLToPath(new URL(`../fixtures/${provider}/`, import.meta.url));
  const sseText = (name: string): string => readFileSync(dir + name, 'utf8');
  return {
    /** A fixture as the recorded server serves it. */
    exchange: (name: string): Promise<RecordedExchange> => loadFixture(dir + name),
    /** The recorded JSON body of a `.json` fixture. */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    body: (name: string): any => (JSON.parse(readFileSync(dir + name, 'utf8')) as { body: unknown }).body,
    /** The raw text of an `.sse` fixture. */
    sseText,
    /** The JSON `data:` of every SSE event of a fixture, in order (LF or CRLF line ends). */
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    sseEvents: (name: string): any[] =>
      sseText(name)
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data: '))
        .map((line) => JSON.parse(line.slice('data: '.length)) as unknown),
  };
}
