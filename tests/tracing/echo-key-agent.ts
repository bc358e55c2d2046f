/**
 * An agent module for the secret-masking CLI test: one OpenAI model pointed at `ECHO_BASE_URL`, a
 * local server that answers 401 echoing the key; the key comes from `OPENAI_API_KEY`.
 */
import { agent, openai } from '../../src/index.js';

export default agent({
  name: 'echoed-key',
  instructions: 'Answer briefly.',
  model: openai('gpt-4o-mini', { baseURL: process.env.ECHO_BASE_URL }),
});

export const input = 'Say hello.';
