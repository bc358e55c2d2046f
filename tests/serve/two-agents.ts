/** An agent module exporting two agents (no default export): `tracebound serve` serves both by name. */
import { agent } from '../../src/index.js';
import { scriptedModel } from '../../src/testing/scripted-model.js';

const named = (name: string) =>
  agent({ name, instructions: '', model: scriptedModel({ respond: (request) => ({ text: `${name}: ${String(request.messages.at(-1)?.content)}` }) }) });

export const agents = [named('first'), named('second')];
