/** A conversation's runs (its turns) in order, each with its input, answer and totals. */
import type { ConversationView } from '../api-types.js';
import { useJson, useLiveVersion } from './api.js';
import { duration, time, tokens, usd } from './format.js';
import { href, type Route } from './route.js';

export function ConversationPage({ route }: { route: Route }) {
  const id = route.path[1]!;
  const version = useLiveVersion();
  const { data, error } = useJson<ConversationView>(`/api/conversations/${encodeURIComponent(id)}`, [version]);
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="muted">Loading conversation…</p>;
  const cost = data.runs.reduce((sum, run) => sum + (run.costUsd ?? 0), 0);
  return (
    <section>
      <h2>
        Conversation <code>{id}</code>
      </h2>
      <p class="muted">
        {data.runs.length} turns · {usd(cost)} · <a href={href({ path: [], params: { conversation: id } })}>show in the runs list</a>
      </p>
      <ol class="turns" data-testid="conversation">
        {data.runs.map((run, i) => (
          <li key={run.spanId} class="turn">
            <div class="turn-head">
              <a href={href({ path: ['run', run.spanId], params: {} })}>
                turn {i + 1}: {run.agent}
              </a>{' '}
              <span class="muted">
                {time(run.start)} · {duration(run.durationMs)} · {run.stopReason ?? run.status.toLowerCase()} · {tokens(run.tokens.input + run.tokens.output)} tokens ·{' '}
                {usd(run.costUsd)}
              </span>
            </div>
            <div class="message role-user">
              <span class="role">user</span>
              <p class="text">{run.input ?? '(content not captured)'}</p>
            </div>
            {run.output !== undefined && (
              <div class="message role-assistant">
                <span class="role">assistant</span>
                <p class="text">{run.output}</p>
              </div>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
