/**
 * The selected span in full: its content (messages as a conversation, tool arguments and results
 * as JSON), its events, its attributes and its resource.
 */
import type { ComponentChildren } from 'preact';
import { ATTR } from '../../tracing/attributes.js';
import type { AttributeValue } from '../../traces/span-record.js';
import type { SpanDetail } from '../api-types.js';
import { useJson } from './api.js';
import { duration, kindOf, markOf } from './format.js';

/** Attributes shown as content above the table, not again in it. */
const CONTENT_KEYS = new Set<string>([
  ATTR.systemInstructions,
  ATTR.inputMessages,
  ATTR.outputMessages,
  ATTR.toolCallArguments,
  ATTR.toolCallResult,
  ATTR.toolDefinitions,
]);

export function SpanDetails({ runId, spanId, version }: { runId: string; spanId: string; version: number }) {
  const { data, error } = useJson<SpanDetail>(`/api/runs/${encodeURIComponent(runId)}/spans/${encodeURIComponent(spanId)}`, [version]);
  if (error) return <p class="error">{error}</p>;
  if (!data || data.spanId !== spanId) return <p class="muted">Loading span…</p>;
  const attributes = data.attributes;
  const text = (key: string) => (typeof attributes[key] === 'string' ? (attributes[key] as string) : undefined);
  return (
    <article class="span-details" data-testid="span-details">
      <h3>
        <span class={`swatch kind-${kindOf(data)}`} /> {data.name}
      </h3>
      <p class="facts-line">
        {data.kind} · starts at {duration(data.startMs)} · lasts {duration(data.durationMs)} ·{' '}
        <span class={data.status.code === 'ERROR' ? 'error' : ''} data-testid="span-status">
          status {data.status.code}
          {data.status.message ? `: ${data.status.message}` : ''}
        </span>
      </p>
      {text(ATTR.systemInstructions) !== undefined && (
        <Section title="System instructions">
          <Messages json={`[{"role":"system","parts":${text(ATTR.systemInstructions)}}]`} />
        </Section>
      )}
      {text(ATTR.inputMessages) !== undefined && (
        <Section title="Input messages">
          <Messages json={text(ATTR.inputMessages)!} />
        </Section>
      )}
      {text(ATTR.outputMessages) !== undefined && (
        <Section title="Output messages">
          <Messages json={text(ATTR.outputMessages)!} />
        </Section>
      )}
      {text(ATTR.toolCallArguments) !== undefined && (
        <Section title="Tool arguments">
          <Json text={text(ATTR.toolCallArguments)!} />
        </Section>
      )}
      {text(ATTR.toolCallResult) !== undefined && (
        <Section title="Tool result">
          <Json text={text(ATTR.toolCallResult)!} />
        </Section>
      )}
      {data.events.length > 0 && (
        <Section title={`Events (${data.events.length})`}>
          <ul class="events">
            {data.events.map((event, i) => (
              <li key={i} class={`event mark-${markOf(event.name)}`}>
                <strong>{event.name}</strong> <span class="muted">at {duration(event.atMs)}</span>
                <Attributes attributes={event.attributes} />
              </li>
            ))}
          </ul>
        </Section>
      )}
      <Section title="Attributes">
        <Attributes testId="span-attributes" attributes={Object.fromEntries(Object.entries(attributes).filter(([key]) => !CONTENT_KEYS.has(key)))} />
      </Section>
      {text(ATTR.toolDefinitions) !== undefined && (
        <details>
          <summary>Tool definitions</summary>
          <Json text={text(ATTR.toolDefinitions)!} />
        </details>
      )}
      <details>
        <summary>Resource</summary>
        <Attributes attributes={data.resource} />
      </details>
    </article>
  );
}

function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section class="detail-section">
      <h4>{title}</h4>
      {children}
    </section>
  );
}

function Attributes({ attributes, testId }: { attributes: Record<string, AttributeValue>; testId?: string }) {
  const entries = Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return <p class="muted">none</p>;
  return (
    <table class="attributes" data-testid={testId}>
      <tbody>
        {entries.map(([key, value]) => (
          <tr key={key}>
            <th>{key}</th>
            <td>{Array.isArray(value) ? JSON.stringify(value) : String(value)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function parse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

/** JSON pretty-printed when the text is JSON, else the text as it is. */
function Json({ text, value }: { text?: string; value?: unknown }) {
  const parsed = text === undefined ? { ok: true as const, value } : parse(text);
  return <pre class="json">{parsed.ok ? JSON.stringify(parsed.value, null, 2) : text}</pre>;
}

/** A part of a GenAI semconv message (`gen_ai.input.messages` and friends). */
interface Part {
  type?: string;
  content?: unknown;
  id?: string;
  name?: string;
  arguments?: unknown;
  response?: unknown;
}

interface Message {
  role?: string;
  parts?: Part[];
  finish_reason?: string;
}

/** Messages in the GenAI semantic conventions' shape, shown as a conversation. */
function Messages({ json }: { json: string }) {
  const parsed = parse(json);
  if (!parsed.ok || !Array.isArray(parsed.value)) return <Json text={json} />;
  return (
    <ol class="conversation">
      {(parsed.value as Message[]).map((message, i) => (
        <li key={i} class={`message role-${message.role ?? 'unknown'}`}>
          <span class="role">{message.role ?? '?'}</span>
          {(message.parts ?? []).map((part, j) => (
            <PartView key={j} part={part} />
          ))}
          {message.finish_reason && <span class="muted"> finish: {message.finish_reason}</span>}
        </li>
      ))}
    </ol>
  );
}

function PartView({ part }: { part: Part }) {
  switch (part.type) {
    case 'text':
      return <p class="text">{String(part.content ?? '')}</p>;
    case 'reasoning':
      return <p class="text reasoning">{String(part.content ?? '')}</p>;
    case 'tool_call':
      return (
        <div class="tool-call">
          <span class="muted">calls</span> <strong>{part.name}</strong> <span class="muted">{part.id}</span>
          <Json value={part.arguments} />
        </div>
      );
    case 'tool_call_response':
      return (
        <div class="tool-result">
          <span class="muted">result of {part.id}</span>
          {typeof part.response === 'string' ? <Json text={part.response} /> : <Json value={part.response} />}
        </div>
      );
    default:
      return <Json value={part} />;
  }
}
