/**
 * A research desk: the `desk` agent hands the question to a `researcher` sub-agent
 * (`researcher.asTool()`), which looks facts up with a paid tool (`almanac`, $0.001 a call) and
 * adds with `get-sum`, a tool of an MCP server: server-everything (`@modelcontextprotocol/server-everything`,
 * a dev dependency) started over stdio by `mcpTools`. The desk's `runCostUsd` bounds everything,
 * the researcher's model calls and the almanac's fees included.
 *
 * Live: `OPENAI_API_KEY=... npx tracebound run examples/research-desk/agent.ts`.
 * Offline (`--offline`): scripted models stand in for gpt-4o-mini, because no public recording of
 * a two-agent conversation calling this server's tools exists (see tests/fixtures/openai/SOURCES.md);
 * they answer by the conversation's state and report no tokens, so the run's cost is the almanac's.
 * The MCP server and the tools run for real either way.
 */
import { z } from 'zod';
import { agent, mcpTools, openai, tool, type Model } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';

export const input = 'How many moons do Mars and Jupiter have together?';

const mcp = await mcpTools({ command: 'npx', args: ['mcp-server-everything', 'stdio'] });

/** Ends the MCP server's process: `tracebound run`, `replay` and `serve` call it when done with the module. */
export const close = () => mcp.close();

/** Known moons (NASA's planetary fact sheets). */
const MOONS: Record<string, number> = { mercury: 0, venus: 0, earth: 1, mars: 2, jupiter: 95, saturn: 274, uranus: 28, neptune: 16 };

const almanac = tool({
  name: 'almanac',
  description: 'Looks up how many known moons a planet has. A paid data source: $0.001 a call.',
  parameters: z.object({ planet: z.string().describe('The planet, e.g. Mars') }),
  costUsd: 0.001,
  execute: ({ planet }) => {
    const moons = MOONS[planet.toLowerCase()];
    return moons === undefined ? `No planet named ${planet}.` : `${planet} has ${moons} known moons.`;
  },
});

const sum = mcp.tools.find((t) => t.name === 'get-sum');
if (!sum) throw new Error(`server-everything has no get-sum tool (its tools: ${mcp.tools.map((t) => t.name).join(', ')})`);

function desk(deskModel: Model, researcherModel: Model) {
  const researcher = agent({
    name: 'researcher',
    instructions: 'Answer the question with facts from the almanac. Do arithmetic only with get-sum. Answer in one sentence.',
    model: researcherModel,
    tools: [almanac, sum!],
    maxOutputTokens: 200,
    budget: { maxSteps: 5 },
  });
  return agent({
    name: 'desk',
    instructions: 'You run a research desk. Hand every factual question to the researcher, then answer the reader in one sentence.',
    model: deskModel,
    tools: [researcher.asTool({ description: 'Researches a question and answers with the facts.' })],
    maxOutputTokens: 200,
    // One cent bounds the whole desk run: its calls, the researcher's and the almanac's fees.
    budget: { runCostUsd: 0.01, maxSteps: 4 },
  });
}

export default desk(openai('gpt-4o-mini'), openai('gpt-4o-mini'));

const MODEL = { provider: 'openai', modelId: 'gpt-4o-mini' } as const;

/** The researcher's part, scripted: the almanac for both planets, then get-sum, then the answer. */
function scriptedResearcher() {
  return scriptedModel({
    ...MODEL,
    respond: (request) => {
      const results = request.messages.filter((m) => m.role === 'tool').map((m) => m.content);
      if (results.length === 0) {
        return {
          toolCalls: [
            { id: 'call_mars', name: 'almanac', arguments: { planet: 'Mars' } },
            { id: 'call_jupiter', name: 'almanac', arguments: { planet: 'Jupiter' } },
          ],
        };
      }
      if (results.length === 2) {
        const [a, b] = results.map((r) => Number(/\d+/.exec(r)?.[0]));
        return { toolCalls: [{ id: 'call_sum', name: 'get-sum', arguments: { a, b } }] };
      }
      return { text: `${results.slice(0, 2).join(' ')} ${results[2]}` };
    },
  });
}

/** The desk's part, scripted: ask the researcher, then answer with what it found. */
function scriptedDesk() {
  return scriptedModel({
    ...MODEL,
    respond: (request) => {
      const found = request.messages.find((m) => m.role === 'tool');
      if (found) return { text: `The researcher found: ${found.content}` };
      return { toolCalls: [{ id: 'call_research', name: 'researcher', arguments: { input: 'How many known moons do Mars and Jupiter have, in total?' } }] };
    },
  });
}

/** `--offline`: the same agents on scripted models; skipped when a key is set. */
export const offline = {
  liveWhen: 'OPENAI_API_KEY',
  describe: 'scripted models stand in for gpt-4o-mini; the MCP server and the tools run for real',
  async start() {
    return { agent: desk(scriptedDesk(), scriptedResearcher()), close: async () => {} };
  },
};
