import autocannon from 'autocannon';
import { aborted, throwIfAborted } from './cleanup.js';

/** What one request of the load looks like; called for every request (a random tenant each time). */
export type PickRequest = () => { path: string; headers: Record<string, string> };

export interface LoadOptions {
  baseUrl: string;
  connections: number;
  durationSeconds: number;
  pick: PickRequest;
}

export interface LoadResult {
  /** Mean of autocannon's per-second request counts. */
  requestsPerSecond: number;
  /** Responses received (any status). */
  responses: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Response count by status code. */
  statusCodes: Record<string, number>;
}

/** Runs autocannon against 127.0.0.1 for a fixed duration, one freshly picked request at a time. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (new URL(options.baseUrl).hostname !== '127.0.0.1') throw new Error('load only targets 127.0.0.1');
  throwIfAborted();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const running: { instance?: autocannon.Instance } = {};
    const stop = () => running.instance?.stop();
    aborted.addEventListener('abort', stop, { once: true });
    running.instance = autocannon(
      {
        url: options.baseUrl,
        connections: options.connections,
        duration: options.durationSeconds,
        requests: [
          {
            method: 'GET',
            setupRequest: (request) => {
              const { path, headers } = options.pick();
              return { ...request, path, headers: { ...request.headers, ...headers } };
            },
          },
        ],
      },
      (error: unknown, done) => {
        aborted.removeEventListener('abort', stop);
        if (error) reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }));
        else resolve(done);
      },
    );
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = stats.count ?? 0;
  }
  return {
    requestsPerSecond: result.requests.average,
    responses: Object.values(statusCodes).reduce((sum, n) => sum + n, 0),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    statusCodes,
  };
}
