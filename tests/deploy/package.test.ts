/**
 * What the npm package ships (package.json `files`) is all its docs and maps may point to: TSDoc
 * in src/ (compiled into dist/*.d.ts) names no document of the repository, and the build emits
 * no source maps unless `src/` ships with them.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('the npm package', () => {
  const shipped = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }).files;

  it('names in its sources no document it does not ship (DESIGN.md, ATTRIBUTES.md, ../shared)', () => {
    expect(shipped).not.toContain('DESIGN.md');
    const references = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ at: `${relative(ROOT, file)}:${i + 1}`, line }))
        .filter(({ line }) => /DESIGN\.md|ATTRIBUTES\.md|\.\.\/shared/.test(line))
        .map(({ at }) => at),
    );
    expect(references).toEqual([]);
  });

  it('emits no source or declaration maps, whose targets in src/ would not ship', () => {
    const config = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--showConfig'], { encoding: 'utf8' })) as {
      compilerOptions: { sourceMap?: boolean; declarationMap?: boolean; inlineSourceMap?: boolean };
    };
    expect(shipped).not.toContain('src');
    expect(config.compilerOptions.sourceMap ?? false).toBe(false);
    expect(config.compilerOptions.inlineSourceMap ?? false).toBe(false);
    expect(config.compilerOptions.declarationMap ?? false).toBe(false);
  });
});
