/**
 * The load generator, run as a process of its own (pinned to its own CPU by bench/lib/load.ts) so that it never
 * competes with the server under test inside one event loop. Reads a LoadSpec from the JSON file named by its
 * first argument; runs autocannon for `warmupSeconds` (not measured), prints `warm` on a line of its own, runs it
 * again for `durationSeconds`, and prints the LoadResult as one JSON line.
 */
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import type { LoadResult, LoadSpec } from './load.js';

const spec = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as LoadSpec;
if (new URL(spec.baseUrl).hostname !== '127.0.0.1') throw new Error('load only targets 127.0.0.1');

function run(durationSeconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.baseUrl,
        connections: spec.connections,
        duration: durationSeconds,
        requests: [
          {
            method: spec.method ?? 'GET',
            setupRequest: (request) => {
              // A random request of the list each time (a random tenant, typically).
              const pick = spec.requests[Math.floor(Math.random() * spec.requests.length)];
              if (!pick) return request;
              return {
                ...request,
                path: pick.path,
                headers: { ...request.headers, ...pick.headers },
                ...(pick.body === undefined ? {} : { body: pick.body }),
              };
            },
          },
        ],
      },
      (error: unknown, done) => {
        if (error) reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
        else resolve(done);
      },
    );
    process.once('SIGINT', () => instance.stop());
  });
}

if (spec.warmupSeconds > 0) await run(spec.warmupSeconds);
process.stdout.write('warm\n');
const result = await run(spec.durationSeconds);
const statusCodes: Record<string, number> = {};
for (const [code, stats] of Object.entries(result.statusCodeStats ?? {}))
  statusCodes[code] = stats.count ?? 0;
const summary: LoadResult = {
  requestsPerSecond: result.requests.average,
  responses: Object.values(statusCodes).reduce((sum, n) => sum + n, 0),
  p50Ms: result.latency.p50,
  p99Ms: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors + result.timeouts,
  statusCodes,
};
process.stdout.write(`${JSON.stringify(summary)}\n`);
