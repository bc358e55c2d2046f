import { afterEach, describe, expect, it } from 'vitest';
import { ATTR } from '../../src/tracing/attributes.js';
import { echoAgent, postRun, startServed, type Served } from './http-support.js';

let served: Served | undefined;
afterEach(async () => {
  await served?.server.stop();
  served = undefined;
});

describe('serve: the run\'s tenant and user', () => {
  it('takes them from the body, and the x-tracebound-tenant / x-tracebound-user headers win', async () => {
    served = await startServed({ agent: echoAgent() });
    expect((await postRun(served.url, { input: 'a', tenant: 'acme', user: 'ada' }, { 'x-request-id': 'body' })).status).toBe(200);
    expect(
      (await postRun(served.url, { input: 'b', tenant: 'acme', user: 'ada' }, { 'x-request-id': 'headers', 'x-tracebound-tenant': 'globex', 'x-tracebound-user': 'bob' })).status,
    ).toBe(200);
    const runs = served.spans.spans().filter((s) => s.name === 'invoke_agent echo');
    const of = (id: string) => runs.find((s) => s.attributes[ATTR.serveMessageId] === id)!;
    expect([of('body').attributes[ATTR.tenant], of('body').attributes[ATTR.userId]]).toEqual(['acme', 'ada']);
    expect([of('headers').attributes[ATTR.tenant], of('headers').attributes[ATTR.userId]]).toEqual(['globex', 'bob']);
  });
});
