/** An agent's spend over its runs: the running total against the limits its runs recorded. */
import type { BudgetView } from '../api-types.js';
import { useJson, useLiveVersion } from './api.js';
import { time, tokens, usd } from './format.js';
import { href, navigate, type Route } from './route.js';

const WIDTH = 720;
const HEIGHT = 240;
const PAD = 40;

export function BudgetPage({ route }: { route: Route }) {
  const version = useLiveVersion();
  const agents = useJson<{ agents: string[] }>('/api/agents', [version]);
  const agent = route.path[1] ?? agents.data?.agents[0];
  const { data, error } = useJson<BudgetView>(agent === undefined ? undefined : `/api/budget/${encodeURIComponent(agent)}`, [version]);
  return (
    <section>
      <div class="toolbar">
        <label>
          Agent{' '}
          <select value={agent ?? ''} onChange={(event) => navigate({ path: ['budget', (event.target as HTMLSelectElement).value], params: {} })}>
            {(agents.data?.agents ?? []).map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && <p class="error">{error}</p>}
      {agent === undefined && <p class="muted">No runs yet.</p>}
      {data && <Chart view={data} />}
    </section>
  );
}

function Chart({ view }: { view: BudgetView }) {
  const { points, limits } = view;
  if (points.length === 0) return <p class="muted">No runs of {view.agent}.</p>;
  const t0 = points[0]!.start;
  const t1 = Math.max(points.at(-1)!.start, t0 + 1);
  const top = Math.max(view.totalUsd, limits.spendUsd ?? 0, ...points.map((p) => p.windowSpentUsd ?? 0)) * 1.1 || 1;
  const x = (t: number) => PAD + ((t - t0) / (t1 - t0)) * (WIDTH - 2 * PAD);
  const y = (usdAmount: number) => HEIGHT - PAD - (usdAmount / top) * (HEIGHT - 2 * PAD);
  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.start).toFixed(1)},${y(p.cumulativeUsd).toFixed(1)}`).join(' ');
  return (
    <div data-testid="budget">
      <h2>Spend of {view.agent}</h2>
      <p class="muted">
        {points.length} runs · {usd(view.totalUsd)} · {tokens(view.tokens)} tokens
        {limits.spendUsd !== undefined && ` · spend limit ${usd(limits.spendUsd)} per ${limits.spendWindow ?? 'window'}`}
        {limits.runCostUsd !== undefined && ` · run limit ${usd(limits.runCostUsd)}`}
      </p>
      <svg class="chart" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={`cumulative spend of ${view.agent}`}>
        <line x1={PAD} y1={HEIGHT - PAD} x2={WIDTH - PAD} y2={HEIGHT - PAD} class="axis-line" />
        <line x1={PAD} y1={PAD / 2} x2={PAD} y2={HEIGHT - PAD} class="axis-line" />
        <text x={PAD - 4} y={y(top / 1.1) + 4} class="tick" text-anchor="end">
          {usd(top / 1.1)}
        </text>
        <text x={PAD} y={HEIGHT - PAD + 16} class="tick">
          {time(t0)}
        </text>
        <text x={WIDTH - PAD} y={HEIGHT - PAD + 16} class="tick" text-anchor="end">
          {time(t1)}
        </text>
        {limits.spendUsd !== undefined && (
          <g class="limit">
            <line x1={PAD} x2={WIDTH - PAD} y1={y(limits.spendUsd)} y2={y(limits.spendUsd)} />
            <text x={WIDTH - PAD} y={y(limits.spendUsd) - 4} text-anchor="end">
              limit {usd(limits.spendUsd)} / {limits.spendWindow ?? 'window'}
            </text>
          </g>
        )}
        <path d={line} class="cumulative" />
        {points.map((p) => (
          <a key={p.spanId} href={href({ path: ['run', p.spanId], params: {} })}>
            <circle cx={x(p.start)} cy={y(p.cumulativeUsd)} r="3.5" class="point">
              <title>
                {time(p.start)}: {usd(p.costUsd)} (total {usd(p.cumulativeUsd)})
              </title>
            </circle>
            {p.windowSpentUsd !== undefined && <circle cx={x(p.start)} cy={y(p.windowSpentUsd)} r="2.5" class="window-point" />}
          </a>
        ))}
      </svg>
      <p class="muted">Line: cumulative spend of the runs shown. Small dots: the spend window as each run's guard saw it, when recorded.</p>
    </div>
  );
}
