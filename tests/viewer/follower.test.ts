/**
 * The trace file follower on real files: complete lines only, a line written in two parts, a file
 * that appears late, one truncated and one replaced (rotated) under it.
 */
import { appendFile, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followTraceFile, type TraceFollower } from '../../src/viewer/trace-follower.js';
import { tempDir } from '../cli/fixture.js';

interface Seen {
  lines: [string, number][];
  resets: number;
  errors: string[];
}

let follower: TraceFollower | undefined;

afterEach(async () => {
  await follower?.stop();
  follower = undefined;
});

function follow(file: string, chunkBytes?: number): Seen {
  const seen: Seen = { lines: [], resets: 0, errors: [] };
  follower = followTraceFile(
    file,
    {
      lines: (lines, first) => lines.forEach((line, i) => seen.lines.push([line, first + i])),
      reset: () => (seen.resets += 1),
      error: (error) => seen.errors.push(error.message),
    },
    // Polled by hand: a long interval keeps the timer out of the way.
    { intervalMs: 60_000, ...(chunkBytes ? { chunkBytes } : {}) },
  );
  return seen;
}

describe('followTraceFile', () => {
  it('hands over complete lines with their line numbers, keeping a partial last line until it ends', async () => {
    const file = join(await tempDir(), 'traces.jsonl');
    await writeFile(file, 'one\ntwo\r\nthr');
    const seen = follow(file);
    await follower!.ready;
    expect(seen.lines).toEqual([
      ['one', 1],
      ['two', 2],
    ]);
    await appendFile(file, 'ee\nfour\n');
    await follower!.poll();
    expect(seen.lines.slice(2)).toEqual([
      ['three', 3],
      ['four', 4],
    ]);
    expect(seen).toMatchObject({ resets: 0, errors: [] });
  });

  it('reads a file bigger than its chunk size whole, lines split across chunks included', async () => {
    const file = join(await tempDir(), 'traces.jsonl');
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i} ${'x'.repeat(i)}`);
    await writeFile(file, `${lines.join('\n')}\n`);
    const seen = follow(file, 64);
    await follower!.ready;
    expect(seen.lines.map(([line]) => line)).toEqual(lines);
    expect(seen.lines.at(-1)![1]).toBe(50);
  });

  it('waits for a file that does not exist yet', async () => {
    const file = join(await tempDir(), 'later.jsonl');
    const seen = follow(file);
    await follower!.ready;
    expect(seen).toEqual({ lines: [], resets: 0, errors: [] });
    await writeFile(file, 'first\n');
    await follower!.poll();
    expect(seen.lines).toEqual([['first', 1]]);
  });

  it('reads a truncated file again from the start', async () => {
    const file = join(await tempDir(), 'traces.jsonl');
    await writeFile(file, 'old one\nold two\n');
    const seen = follow(file);
    await follower!.ready;
    await truncate(file, 0);
    await appendFile(file, 'new\n');
    await follower!.poll();
    expect(seen.resets).toBe(1);
    expect(seen.lines.slice(2)).toEqual([['new', 1]]);
  });

  it('reads a replaced (rotated) file from the start, even when it is not smaller', async () => {
    const dir = await tempDir();
    const file = join(dir, 'traces.jsonl');
    await writeFile(file, 'a\n');
    const seen = follow(file);
    await follower!.ready;
    const next = join(dir, 'next.jsonl');
    await writeFile(next, 'rotated one\nrotated two\n');
    await rename(next, file);
    await follower!.poll();
    expect(seen.resets).toBe(1);
    expect(seen.lines.slice(1)).toEqual([
      ['rotated one', 1],
      ['rotated two', 2],
    ]);
  });
});
