/**
 * A span processor that masks known secrets (secrets.ts) in every string a span carries before
 * any exporter sees it: attributes, event attributes and the status message. tracebound masks
 * where it writes error text already; this layer also catches what it does not write itself
 * (a tool result, a user's own span, an instrumentation library's exception event).
 */
import type { AttributeValue, Attributes, Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { knownSecrets, maskWith } from '../secrets.js';

function maskValue(value: AttributeValue | undefined, secrets: readonly string[]): AttributeValue | undefined {
  if (typeof value === 'string') return maskWith(value, secrets);
  if (Array.isArray(value) && value.some((v) => typeof v === 'string')) {
    return (value as unknown[]).map((v) => (typeof v === 'string' ? maskWith(v, secrets) : v)) as AttributeValue;
  }
  return value;
}

/** Masks the string values of `attributes` in place. */
function maskAttributes(attributes: Attributes, secrets: readonly string[]): void {
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    const masked = maskValue(value, secrets);
    if (masked !== value) attributes[key] = masked;
  }
}

/**
 * Masks secrets in a span while it ends (`onEnding`: the span is complete but not yet handed to
 * any processor's `onEnd`), so it must come first in the provider's processor list. When no
 * secret is known it only checks a cached list (the environment is re-read at most once a second).
 */
export class SecretMaskingProcessor implements SpanProcessor {
  onStart(_span: Span, _parent: Context): void {}

  onEnding(span: Span): void {
    const secrets = knownSecrets();
    if (secrets.length === 0) return;
    // The SDK's ReadableSpan fields are typed read-only but are the span's own objects, which
    // `onEnding` is the moment to change.
    maskAttributes(span.attributes as Attributes, secrets);
    for (const event of span.events) if (event.attributes) maskAttributes(event.attributes as Attributes, secrets);
    const status = span.status;
    if (status.message !== undefined) (status as { message?: string }).message = maskWith(status.message, secrets);
  }

  onEnd(_span: ReadableSpan): void {}

  async forceFlush(): Promise<void> {}

  async shutdown(): Promise<void> {}
}
