/** Two runs compared metric by metric (src/viewer/diff.ts, computed by the server). */
import { formatChange, formatMetric, formatPercent, NUMERIC_METRICS, type NumericMetric, type RunDiff, type ValueDiff } from '../diff.js';
import { useJson, useLiveVersion } from './api.js';
import { time } from './format.js';
import { href } from './route.js';

/** `deltaPercent` arrives as null when infinite (JSON has no Infinity): growth from 0. */
function percent(diff: ValueDiff): string {
  if (diff.delta === undefined) return '';
  const value = diff.deltaPercent ?? (diff.delta === 0 ? 0 : Math.sign(diff.delta) * Infinity);
  return formatPercent(value);
}

function Row({ label, metric, diff }: { label: string; metric: NumericMetric; diff: ValueDiff }) {
  const direction = diff.delta === undefined || diff.delta === 0 ? '' : diff.delta > 0 ? 'worse' : 'better';
  return (
    <tr data-metric={label}>
      <th>{label}</th>
      <td class="num">{diff.a === undefined ? '—' : formatMetric(metric, diff.a)}</td>
      <td class="num">{diff.b === undefined ? '—' : formatMetric(metric, diff.b)}</td>
      <td class={`num ${direction}`}>{diff.delta === undefined ? '' : formatChange(metric, diff.delta)}</td>
      <td class={`num ${direction}`}>{percent(diff)}</td>
    </tr>
  );
}

export function DiffPage({ a, b }: { a: string; b: string }) {
  const version = useLiveVersion();
  const { data, error } = useJson<RunDiff>(`/api/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`, [version]);
  if (error) return <p class="error">{error}</p>;
  if (!data) return <p class="muted">Comparing…</p>;
  const side = (label: string, run: RunDiff['a']) => (
    <a href={href({ path: ['run', run.spanId], params: {} })}>
      {label}: {run.agent} at {time(run.start)}
    </a>
  );
  return (
    <section>
      <h2>Two runs compared</h2>
      <p class="links">
        {side('A (baseline)', data.a)} {side('B (candidate)', data.b)}
      </p>
      <table class="diff" data-testid="diff">
        <thead>
          <tr>
            <th>Metric</th>
            <th class="num">A</th>
            <th class="num">B</th>
            <th class="num">Change</th>
            <th class="num">%</th>
          </tr>
        </thead>
        <tbody>
          {NUMERIC_METRICS.map((metric) => (
            <Row key={metric} label={metric} metric={metric} diff={data.metrics[metric]} />
          ))}
          {Object.entries(data.toolCallsByName).map(([name, diff]) => (
            <Row key={name} label={`calls of ${name}`} metric="tool_calls" diff={diff} />
          ))}
          <tr data-metric="stop_reason" class={data.stopReason.changed ? 'changed' : ''}>
            <th>stop reason</th>
            <td class="num">{data.stopReason.a ?? '—'}</td>
            <td class="num">{data.stopReason.b ?? '—'}</td>
            <td class={`num ${data.stopReason.changed ? 'worse' : ''}`} colSpan={2}>
              {data.stopReason.changed ? 'changed' : 'same'}
            </td>
          </tr>
        </tbody>
      </table>
    </section>
  );
}
