/**
 * A typed answer: `output` is a zod schema, so `result.output` is a parsed, typed object. The
 * stream shows the object as it is written (`output-partial` events), then the checked answer.
 *
 *   node --import tsx examples/typed-output.ts
 *
 * Offline by default: a scripted model from `tracebound/testing` answers with JSON (it has no
 * native structured output, so the runtime puts the JSON Schema in its system prompt). With
 * `OPENAI_API_KEY` set it asks gpt-4o-mini, which gets `response_format: json_schema` (strict).
 */
import { z } from 'zod';
import { agent, openai, tracedRuntime, type Model } from 'tracebound';
import { scriptedModel } from 'tracebound/testing';

const Recipe = z.object({
  title: z.string(),
  minutes: z.number().int().describe('Total time in minutes'),
  ingredients: z.array(z.object({ name: z.string(), grams: z.number().nullable() })),
});

const standIn: Model = scriptedModel({
  respond: () => ({
    // Indented, so the scripted stream (a word a chunk) sends it in pieces.
    text: JSON.stringify({ title: 'Pancakes', minutes: 20, ingredients: [{ name: 'flour', grams: 125 }, { name: 'milk', grams: 250 }, { name: 'egg', grams: null }] }, null, 1),
  }),
});

const chef = agent({
  name: 'chef',
  instructions: 'Give one simple recipe for what is asked.',
  model: process.env.OPENAI_API_KEY ? openai('gpt-4o-mini') : standIn,
  output: Recipe,
});

const runtime = tracedRuntime({ exporter: 'none' });
try {
  for await (const event of runtime.stream(chef, 'Something quick for breakfast?')) {
    if (event.type === 'output-partial') console.log('partial', JSON.stringify(event.partial));
    if (event.type === 'run-end' && event.result.output) {
      const recipe = event.result.output; // typed: { title: string; minutes: number; ingredients: ... }
      console.log(`${recipe.title}, ${recipe.minutes} min: ${recipe.ingredients.map((i) => i.name).join(', ')}`);
    }
  }
} finally {
  await runtime.shutdown();
}
