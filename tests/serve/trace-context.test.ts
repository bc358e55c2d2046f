import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { extractTraceContext, injectTraceContext } from '../../src/serve/trace-context.js';

const traceId = '0af7651916cd43dd8448eb211c80319c';
const spanId = 'b7ad6b7169203331';

describe('serve trace context (W3C, through OpenTelemetry’s propagator)', () => {
  it('reads traceparent and tracestate into a remote span context', () => {
    const context = extractTraceContext({ traceparent: `00-${traceId}-${spanId}-01`, tracestate: 'vendor=x' });
    const span = context && trace.getSpanContext(context);
    expect(span).toMatchObject({ traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    expect(span?.traceState?.get('vendor')).toBe('x');
  });

  it('takes Node’s header values as they come (arrays included)', () => {
    const context = extractTraceContext({ traceparent: [`00-${traceId}-${spanId}-00`], 'content-type': 'application/json' });
    expect(context && trace.getSpanContext(context)?.traceId).toBe(traceId);
  });

  it('gives no context for a missing, empty or malformed traceparent', () => {
    expect(extractTraceContext({})).toBeUndefined();
    expect(extractTraceContext({ traceparent: '' })).toBeUndefined();
    expect(extractTraceContext({ traceparent: `00-${'0'.repeat(32)}-${spanId}-01` })).toBeUndefined();
    expect(extractTraceContext({ traceparent: 'not-a-traceparent' })).toBeUndefined();
  });

  it('writes a context’s span as traceparent, which reads back the same', () => {
    const context = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    const carrier = injectTraceContext(context);
    expect(carrier).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
    expect(trace.getSpanContext(extractTraceContext(carrier)!)).toMatchObject({ traceId, spanId });
    expect(injectTraceContext(ROOT_CONTEXT)).toEqual({});
  });
});
