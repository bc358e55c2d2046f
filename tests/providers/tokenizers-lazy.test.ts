import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * In a fresh process (the TypeScript sources through tsx): imports tracebound's entry point, then
 * runs `then`, reporting which tokenizer packages Node's module cache held after each.
 */
function loadedTokenizers(then: string): { afterImport: string[]; afterThen: string[] } {
  const script = `
    import { createRequire } from 'node:module';
    const cache = createRequire(import.meta.url).cache;
    const tokenizers = () => [...new Set(Object.keys(cache).flatMap((p) => p.match(/node_modules\\/(gpt-tokenizer|@anthropic-ai\\/tokenizer)\\//)?.[1] ?? []))].sort();
    const tracebound = await import('./src/index.ts');
    const afterImport = tokenizers();
    ${then}
    process.stdout.write(JSON.stringify({ afterImport, afterThen: tokenizers() }));
  `;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout) as { afterImport: string[]; afterThen: string[] };
}

const request = "{ messages: [{ role: 'user', content: 'Hello' }], tools: [] }";

describe('tokenizers load on the first count, not on import', () => {
  it('importing tracebound and defining models loads no tokenizer; an upper bound needs none either', () => {
    const { afterImport, afterThen } = loadedTokenizers(`
      const models = [tracebound.openai('gpt-4o-mini'), tracebound.anthropic('claude-sonnet-4-5')];
      for (const model of models) model.tokenUpperBound(${request});
    `);
    expect(afterImport).toEqual([]);
    expect(afterThen).toEqual([]);
  });

  it("each adapter's first count loads its tokenizer", () => {
    const { afterImport, afterThen } = loadedTokenizers(`
      tracebound.openai('gpt-4o-mini').countTokens(${request});
      tracebound.anthropic('claude-sonnet-4-5').countTokens(${request});
    `);
    expect(afterImport).toEqual([]);
    expect(afterThen).toEqual(['@anthropic-ai/tokenizer', 'gpt-tokenizer']);
  });
});
