/**
 * A load client, run as its own process: `node --import tsx load-client.ts <url> <total> <concurrency>`.
 * Prints one JSON line: `{ ok, errors, traceIds }` (errors: non-200 answers and failed requests).
 */
const [url, totalArg, concurrencyArg] = process.argv.slice(2);
const total = Number(totalArg);
const concurrency = Number(concurrencyArg);
const traceIds: string[] = [];
const errors: string[] = [];
let next = 0;

async function worker(): Promise<void> {
  while (next < total) {
    const i = next++;
    try {
      const response = await fetch(`${url}/v1/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `load-${i}` },
        body: JSON.stringify({ input: `request ${i}` }),
      });
      const body = (await response.json()) as { traceId?: string };
      if (response.status === 200 && body.traceId) traceIds.push(body.traceId);
      else errors.push(`${i}: ${response.status} ${JSON.stringify(body)}`);
    } catch (error) {
      errors.push(`${i}: ${(error as Error).message}`);
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(`${JSON.stringify({ ok: traceIds.length, errors, traceIds })}\n`);
