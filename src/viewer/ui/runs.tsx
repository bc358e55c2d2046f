/** The runs list: newest first, filtered by agent, stop reason and conversation, one page at a time. */
import type { RunList } from '../api-types.js';
import { useJson, useLiveVersion } from './api.js';
import { duration, time, tokens, usd } from './format.js';
import { href, navigate, type Route } from './route.js';

/** Runs per page: a file with thousands of runs renders one page, never all of them. */
const PAGE_SIZE = 100;

interface Props {
  route: Route;
  /** Span ids of the runs ticked for comparison, in the order ticked. */
  selected: string[];
  onSelect(selected: string[]): void;
}

export function RunsView({ route, selected, onSelect }: Props) {
  const version = useLiveVersion();
  const { agent, stop, conversation } = route.params;
  const page = Math.max(0, Number(route.params.page ?? 0) || 0);
  const query = new URLSearchParams();
  if (agent) query.set('agent', agent);
  if (stop) query.set('stopReason', stop);
  if (conversation) query.set('conversation', conversation);
  query.set('offset', String(page * PAGE_SIZE));
  query.set('limit', String(PAGE_SIZE));
  const { data, error } = useJson<RunList>(`/api/runs?${query.toString()}`, [version]);

  const setFilter = (name: string, value: string) => {
    const params = { ...route.params, [name]: value };
    delete params.page;
    navigate({ path: [], params });
  };
  const toggle = (spanId: string) =>
    onSelect(selected.includes(spanId) ? selected.filter((id) => id !== spanId) : [...selected.slice(-1), spanId]);

  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="muted">Loading runs…</p>;
  const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
  return (
    <section>
      <div class="toolbar">
        <Filter label="Agent" name="agent" value={agent} options={data.facets.agents} onChange={setFilter} />
        <Filter label="Stop reason" name="stop" value={stop} options={data.facets.stopReasons} onChange={setFilter} />
        <Filter label="Conversation" name="conversation" value={conversation} options={data.facets.conversations} onChange={setFilter} />
        <span class="totals" data-testid="totals">
          {data.totals.runs} runs · {tokens(data.totals.tokens)} tokens ({tokens(data.totals.inputTokens)} in / {tokens(data.totals.outputTokens)} out) ·{' '}
          {usd(data.totals.costUsd)}
        </span>
        {selected.length === 2 ? (
          <a class="button" href={href({ path: ['diff', selected[0]!, selected[1]!], params: {} })} data-testid="compare">
            Compare 2 runs
          </a>
        ) : (
          <span class="muted">tick two runs to compare</span>
        )}
      </div>
      {data.problems.length > 0 && (
        <details class="problems">
          <summary>{data.problems.length} lines or requests could not be read</summary>
          <ul>
            {data.problems.map((problem, i) => (
              <li key={i}>{problem.message}</li>
            ))}
          </ul>
        </details>
      )}
      {data.total === 0 ? (
        <p class="muted">No runs yet. They appear here as the trace file grows, or as OTLP requests arrive on /v1/traces.</p>
      ) : (
        <table class="runs" data-testid="runs">
          <thead>
            <tr>
              <th />
              <th>Agent</th>
              <th>Start</th>
              <th class="num">Duration</th>
              <th>Stop reason</th>
              <th class="num">Steps</th>
              <th class="num">Tool calls</th>
              <th class="num">Tokens</th>
              <th class="num">Cost</th>
              <th>Conversation</th>
            </tr>
          </thead>
          <tbody>
            {data.runs.map((run) => (
              <tr key={run.spanId} data-run={run.spanId} class={run.status === 'ERROR' ? 'failed' : ''}>
                <td>
                  <input type="checkbox" aria-label="select for comparison" checked={selected.includes(run.spanId)} onChange={() => toggle(run.spanId)} />
                </td>
                <td>
                  <a href={href({ path: ['run', run.spanId], params: {} })}>{run.agent}</a>
                </td>
                <td>{time(run.start)}</td>
                <td class="num">{duration(run.durationMs)}</td>
                <td>
                  <span class={`stop stop-${run.stopReason ?? run.status}`}>{run.stopReason ?? run.status.toLowerCase()}</span>
                </td>
                <td class="num">{run.steps}</td>
                <td class="num">{run.toolCalls}</td>
                <td class="num">{tokens(run.tokens.input + run.tokens.output)}</td>
                <td class="num">{usd(run.costUsd)}</td>
                <td>{run.conversationId && <a href={href({ path: ['conversation', run.conversationId], params: {} })}>{run.conversationId}</a>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pages > 1 && (
        <div class="pager">
          <button disabled={page === 0} onClick={() => navigate({ path: [], params: { ...route.params, page: String(page - 1) } })}>
            ← Newer
          </button>
          <span>
            page {page + 1} of {pages}
          </span>
          <button disabled={page + 1 >= pages} onClick={() => navigate({ path: [], params: { ...route.params, page: String(page + 1) } })}>
            Older →
          </button>
        </div>
      )}
    </section>
  );
}

function Filter(props: { label: string; name: string; value: string | undefined; options: string[]; onChange(name: string, value: string): void }) {
  return (
    <label>
      {props.label}{' '}
      <select name={props.name} value={props.value ?? ''} onChange={(event) => props.onChange(props.name, (event.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        {props.options.map((option) => (
          <option key={option} value={option}>
            {option}
          </option>
        ))}
      </select>
    </label>
  );
}
