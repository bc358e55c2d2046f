import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';

const require = createRequire(import.meta.url);

/**
 * The `ioredis` module, loaded when a Redis store, queue input or stream output makes its own
 * client, not with tracebound (~55 modules with its dependencies). ioredis is CommonJS only, so
 * requiring it keeps those constructors synchronous and gives the very module an app's
 * `import { Redis } from 'ioredis'` gets.
 */
export function ioredis(): typeof IORedis {
  return require('ioredis') as typeof IORedis;
}
