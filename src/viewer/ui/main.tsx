/**
 * The viewer's page: a hash router over the views (runs, a run's waterfall, a conversation, an
 * agent's budget, two runs compared), kept up to date by the server's change events.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useJson, startLiveUpdates } from './api.js';
import { BudgetPage } from './budget.js';
import { ConversationPage } from './conversation.js';
import { DiffPage } from './diff.js';
import { href, parseRoute, type Route } from './route.js';
import { RunView } from './run-view.js';
import { RunsView } from './runs.js';
import './style.css';

function App() {
  const [route, setRoute] = useState<Route>(parseRoute(location.hash));
  const [selected, setSelected] = useState<string[]>([]);
  const info = useJson<{ file: string | null }>('/api/info');
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const view = route.path[0] ?? '';
  return (
    <>
      <nav class="top">
        <a class="brand" href="#/">
          tracebound view
        </a>
        <a href="#/" class={view === '' ? 'active' : ''}>
          Runs
        </a>
        <a href={href({ path: ['budget'], params: {} })} class={view === 'budget' ? 'active' : ''}>
          Budget
        </a>
        <span class="source muted">{info.data ? (info.data.file ?? 'OTLP only') : ''} · OTLP/HTTP at /v1/traces</span>
      </nav>
      <main>
        {view === 'run' && route.path[1] ? (
          <RunView route={route} />
        ) : view === 'conversation' && route.path[1] ? (
          <ConversationPage route={route} />
        ) : view === 'budget' ? (
          <BudgetPage route={route} />
        ) : view === 'diff' && route.path[2] ? (
          <DiffPage a={route.path[1]!} b={route.path[2]} />
        ) : (
          <RunsView route={route} selected={selected} onSelect={setSelected} />
        )}
      </main>
    </>
  );
}

startLiveUpdates();
render(<App />, document.getElementById('app')!);
