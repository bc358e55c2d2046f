/**
 * The viewer's server over real HTTP: its OTLP/HTTP receiver's answers to what real senders may
 * send (gzip, bad bodies, other media types), the file's bad lines, the Host check, the waterfall
 * rows of a long run, and `tracebound view`'s usage errors.
 */
import { appendFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { createParser } from 'eventsource-parser';
import { afterEach, describe, expect, it } from 'vitest';
import protobuf from 'protobufjs/light.js';
import { viewCommand } from '../../src/cli/view.js';
import type { RunDetail, RunList, SpanDetail } from '../../src/viewer/api-types.js';
import { startViewer, type Viewer } from '../../src/viewer/server.js';
import { recordWeatherRun, tempDir, writeTemp } from '../cli/fixture.js';

let viewer: Viewer | undefined;

afterEach(async () => {
  await viewer?.close();
  viewer = undefined;
});

async function runs(v: Viewer): Promise<RunList> {
  return (await (await fetch(`${v.url}api/runs`)).json()) as RunList;
}

function post(v: Viewer, body: Uint8Array | string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${v.url}v1/traces`, { method: 'POST', body, headers });
}

describe('the OTLP/HTTP receiver', () => {
  it('takes the same spans as JSON, protobuf and gzipped protobuf, and lists the run once', async () => {
    const { spans } = await recordWeatherRun();
    viewer = await startViewer({ port: 0 });
    const json = await post(viewer, JsonTraceSerializer.serializeRequest(spans)!, { 'content-type': 'application/json' });
    expect([json.status, await json.json()]).toEqual([200, {}]);
    const fromJson = await runs(viewer);
    expect(fromJson.runs.map((r) => [r.agent, r.steps, r.toolCalls])).toEqual([['weather', 2, 2]]);

    // The same spans again, as protobuf: the index keeps each span once.
    const proto = await post(viewer, ProtobufTraceSerializer.serializeRequest(spans)!, { 'content-type': 'application/x-protobuf' });
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await proto.arrayBuffer()).byteLength).toBe(0);
    const gz = await post(viewer, gzipSync(ProtobufTraceSerializer.serializeRequest(spans)!), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    expect(gz.status).toBe(200);
    expect(await runs(viewer)).toEqual({ ...fromJson, version: (await runs(viewer)).version });
  });

  it('decodes protobuf to the same spans as JSON: ids, times, kinds, status, attributes, events', async () => {
    const { spans } = await recordWeatherRun();
    const viaJson = await startViewer({ port: 0 });
    const viaProto = await startViewer({ port: 0 });
    try {
      await post(viaJson, JsonTraceSerializer.serializeRequest(spans)!, { 'content-type': 'application/json' });
      await post(viaProto, ProtobufTraceSerializer.serializeRequest(spans)!, { 'content-type': 'application/x-protobuf' });
      const detail = async (v: Viewer) => {
        const [run] = (await runs(v)).runs;
        const body = (await (await fetch(`${v.url}api/runs/${run!.spanId}`)).json()) as RunDetail;
        const full = await Promise.all(
          body.spans.map(async (s) => (await (await fetch(`${v.url}api/runs/${run!.spanId}/spans/${s.spanId}`)).json()) as SpanDetail),
        );
        return { summary: body.summary, full };
      };
      const [a, b] = [await detail(viaJson), await detail(viaProto)];
      expect(b).toEqual(a);
      expect(a.full.some((s) => s.status.code === 'ERROR')).toBe(true);
      expect(a.full.some((s) => s.events.length > 0)).toBe(true);
    } finally {
      await viaJson.close();
      await viaProto.close();
    }
  });

  it('answers 400 with a google.rpc.Status to a bad protobuf body, and JSON to bad JSON, and shows the problem', async () => {
    viewer = await startViewer({ port: 0 });
    const bad = await post(viewer, new Uint8Array([0x0a, 0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' });
    expect(bad.status).toBe(400);
    const Status = protobuf.Root.fromJSON({
      nested: { Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } } },
    }).lookupType('Status');
    const status = Status.toObject(Status.decode(new Uint8Array(await bad.arrayBuffer()))) as { code: number; message: string };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/^not a valid protobuf ExportTraceServiceRequest/);

    const notJson = await post(viewer, '{"resourceSpans":', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    const wrongShape = await post(viewer, JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'xyz' }] }] }] }), {
      'content-type': 'application/json',
    });
    expect(wrongShape.status).toBe(400);
    expect(((await wrongShape.json()) as { message: string }).message).toContain('resourceSpans[0].scopeSpans[0].spans[0].traceId');
    expect((await runs(viewer)).problems.map((p) => p.source)).toEqual(['POST /v1/traces', 'POST /v1/traces', 'POST /v1/traces']);
  });

  it('answers 415 to other media types and encodings', async () => {
    viewer = await startViewer({ port: 0 });
    expect((await post(viewer, 'x', { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post(viewer, '{}', { 'content-type': 'application/json', 'content-encoding': 'br' })).status).toBe(415);
  });
});

describe('the viewer server', () => {
  it('shows a bad line of the file with its line number and indexes the lines around it', async () => {
    const { text } = await recordWeatherRun();
    const file = await writeTemp(`not json\n${text}`);
    viewer = await startViewer({ file, port: 0 });
    await viewer.ready;
    const list = await runs(viewer);
    expect(list.runs).toHaveLength(1);
    expect(list.problems).toHaveLength(1);
    expect(list.problems[0]!.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 1: not JSON`));
    await appendFile(file, '{"resourceSpans": 3}\n');
    await viewer.poll();
    expect((await runs(viewer)).problems[1]!.message).toContain(`line ${text.trimEnd().split('\n').length + 2}:`);
  });

  it('refuses a Host that is neither an IP address nor localhost (DNS rebinding)', async () => {
    viewer = await startViewer({ port: 0 });
    const port = new URL(viewer.url).port;
    const asked = async (host: string) => {
      const { request } = await import('node:http');
      return new Promise<number>((resolve, reject) => {
        request({ host: '127.0.0.1', port, path: '/api/runs', headers: { host } }, (res) => resolve(res.statusCode!))
          .on('error', reject)
          .end();
      });
    };
    expect(await asked('attacker.example:' + port)).toBe(403);
    expect(await asked('localhost:' + port)).toBe(200);
    expect(await asked('127.0.0.1:' + port)).toBe(200);
  });

  it('serves the page and its bundled assets from the package, with no address outside it', async () => {
    viewer = await startViewer({ port: 0 });
    const html = await (await fetch(viewer.url)).text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['data:,', '/assets/main.css', '/assets/main.js']);
    for (const asset of assets.slice(1)) {
      const response = await fetch(new URL(asset, viewer.url));
      expect(response.status, asset).toBe(200);
      // Any absolute address but XML namespace names (`http://www.w3.org/2000/svg`: identifiers, never fetched).
      const addresses = (await response.text()).match(/https?:\/\/[^\s"'`)]+/g) ?? [];
      expect(addresses.filter((address) => !address.startsWith('http://www.w3.org/')), asset).toEqual([]);
    }
  });
  it('tells event-stream clients the version and which traces changed', async () => {
    const { spans } = await recordWeatherRun();
    viewer = await startViewer({ port: 0 });
    const response = await fetch(`${viewer.url}api/events`);
    const messages: { version: number; traces: string[] }[] = [];
    const parser = createParser({
      onEvent: (event) => {
        if (event.event === 'change') messages.push(JSON.parse(event.data) as { version: number; traces: string[] });
      },
    });
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    /** Reads the stream until `count` change messages have come. */
    const next = async (count: number) => {
      while (messages.length < count) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the event stream ended');
        parser.feed(value);
      }
    };
    await next(1);
    expect(messages[0]).toEqual({ version: 0, traces: [] });
    await post(viewer, JsonTraceSerializer.serializeRequest(spans)!, { 'content-type': 'application/json' });
    await next(2);
    expect(messages[1]).toEqual({ version: 1, traces: [spans[0]!.spanContext().traceId] });
    await reader.cancel();
  });
});

describe('tracebound view (command)', () => {
  function capture() {
    const written = { out: '', err: '' };
    return {
      written,
      context: { stdout: (t: string) => (written.out += t), stderr: (t: string) => (written.err += t), color: false, exitCode: 0 },
    };
  }

  it('exits 2 on a bad --port, saying what it takes', async () => {
    const { written, context } = capture();
    expect(await viewCommand('x.jsonl', { port: 'eighty', host: '127.0.0.1' }, context)).toBe(2);
    expect(written.err).toBe('tracebound view: --port must be an integer from 0 to 65535, got "eighty"\n');
  });

  it('exits 2 when the port is taken, naming it', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { written, context } = capture();
      expect(await viewCommand('x.jsonl', { port: String(port), host: '127.0.0.1' }, context)).toBe(2);
      expect(written.err).toBe(`tracebound view: 127.0.0.1:${port} is in use: pick another with --port (0 picks a free one)\n`);
    } finally {
      taken.close();
    }
  });

  it('prints where it listens, serves until told to stop, and exits 0', async () => {
    const dir = await tempDir();
    const { written, context } = capture();
    let seen: RunList | undefined;
    const code = await viewCommand(join(dir, 'traces.jsonl'), { port: '0', host: '127.0.0.1' }, context, async (v) => {
      seen = await runs(v);
    });
    expect(code).toBe(0);
    expect(written.out).toMatch(/^tracebound view: http:\/\/127\.0\.0\.1:\d+\/ \(following .*traces\.jsonl; OTLP\/HTTP on http:\/\/127\.0\.0\.1:\d+\/v1\/traces\); Ctrl\+C stops\n$/);
    expect(seen?.total).toBe(0);
  });
});
