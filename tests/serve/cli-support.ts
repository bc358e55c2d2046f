/** Starts `tracebound serve` as a child process (the TypeScript sources through tsx) and reads its URL. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { CHILD_START_MS } from '../support/timeouts.js';

const root = join(import.meta.dirname, '..', '..');

export interface ServeChild {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export async function startServeChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'serve', ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within ${CHILD_START_MS} ms: ${out}${err}`)), CHILD_START_MS);
    const check = () => {
      const match = /serving \S+ on (http:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${out}${err}`)));
  });
  return { child, url, stdout: () => out, stderr: () => err, exited };
}
