/**
 * The agents of tests/replay/run-agent.test.ts, in a module of their own so an agent module given
 * to `tracebound replay --agent` can import them: an editor whose own `brief` tool runs a
 * researcher sub-agent once per topic through `context.runAgent`. Scripted models.
 */
import { z } from 'zod';
import { agent, type Agent } from '../../src/agent.js';
import { scriptedModel, type ScriptedModel } from '../../src/testing/scripted-model.js';
import { tool } from '../../src/tool.js';

const MODEL = { provider: 'openai', modelId: 'gpt-4o-mini' } as const;

/** The researcher looks its input up with `lookup`, then answers with what it found. */
export function researcherModel(): ScriptedModel {
  return scriptedModel({
    ...MODEL,
    respond: (request) => {
      const found = request.messages.find((m) => m.role === 'tool');
      const asked = request.messages.find((m) => m.role === 'user')?.content ?? '';
      if (!found) return { toolCalls: [{ id: `call_lookup_${asked}`, name: 'lookup', arguments: { topic: asked } }], usage: { inputTokens: 90, outputTokens: 15 } };
      return { text: `Fact: ${found.content}`, usage: { inputTokens: 140, outputTokens: 20 } };
    },
  });
}

/** The editor calls its `brief` tool on two topics, then answers with the brief. */
export function editorModel(): ScriptedModel {
  return scriptedModel({
    ...MODEL,
    respond: (request) => {
      const brief = request.messages.find((m) => m.role === 'tool');
      if (!brief) return { toolCalls: [{ id: 'call_brief', name: 'brief', arguments: { topics: ['owls', 'bats'] } }], usage: { inputTokens: 60, outputTokens: 12 } };
      return { text: `Brief: ${brief.content}`, usage: { inputTokens: 110, outputTokens: 18 } };
    },
  });
}

export interface Options {
  researcherInstructions?: string;
  researcher?: ScriptedModel;
  editor?: ScriptedModel;
  /** Topics today's brief tool researches (default: all it is given). */
  topics?: (given: string[]) => string[];
  /** How today's brief tool joins its researcher's answers (default: with " / "). */
  separator?: string;
  lookups?: string[];
  /** What today's lookup says of a topic (default: "are nocturnal"). */
  fact?: string;
  /** The name of today's researcher (default: "researcher"). */
  researcherName?: string;
}

/** An editor whose own `brief` tool runs the researcher once per topic through `context.runAgent`. */
export function editor(o: Options = {}): { editor: Agent; researcher: Agent } {
  const lookup = tool({
    name: 'lookup',
    description: 'Looks a topic up.',
    parameters: z.object({ topic: z.string() }),
    execute: ({ topic }) => (o.lookups?.push(topic), `${topic} ${o.fact ?? 'are nocturnal'}`),
  });
  const researcher = agent({
    name: o.researcherName ?? 'researcher',
    instructions: o.researcherInstructions ?? 'Find one fact with lookup.',
    model: o.researcher ?? researcherModel(),
    tools: [lookup],
  });
  const brief = tool({
    name: 'brief',
    description: 'Researches each topic and writes a brief.',
    parameters: z.object({ topics: z.array(z.string()) }),
    async execute({ topics }, context) {
      if (!context.runAgent) throw new Error('brief runs inside a runtime');
      const answers: string[] = [];
      for (const topic of (o.topics ?? ((t) => t))(topics)) answers.push((await context.runAgent(researcher, topic)).output);
      return answers.join(o.separator ?? ' / ');
    },
  });
  return { researcher, editor: agent({ name: 'editor', instructions: 'Write a brief with the brief tool.', model: o.editor ?? editorModel(), tools: [brief] }) };
}
