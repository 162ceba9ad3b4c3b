import { request } from 'node:http';

export interface FreshResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A request over a new TCP connection, closed afterwards. fetch() reuses keep-alive connections, and node:cluster
 * hands out connections (not requests) to workers, so only fresh connections reach different workers.
 * `localAddress` picks the client address (any 127.x.y.z on Linux), so each test can be a client of its own.
 */
export function freshRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    json?: unknown;
    localAddress?: string;
    timeoutMs?: number;
  } = {},
): Promise<FreshResponse> {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          connection: 'close',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        timeout: options.timeoutMs ?? 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** `freshRequest` for a GET. */
export function freshGet(
  url: string,
  options: { headers?: Record<string, string>; localAddress?: string; timeoutMs?: number } = {},
): Promise<FreshResponse> {
  return freshRequest(url, options);
}
