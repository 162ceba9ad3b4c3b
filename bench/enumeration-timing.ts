/**
 * Does `POST /api/auth/password-reset` (or `/api/auth/verify/resend`) take longer for a registered email than
 * for an unknown one? A difference lets anyone find out which addresses have accounts. Prints the median time of
 * each case, in-process through `app.inject` (no network noise), known and unknown interleaved so that drift
 * affects both alike, and the ratio known / unknown: about 1.0 means no timing oracle.
 *
 *   npx tsx bench/enumeration-timing.ts [--engine pglite|postgres] [--requests 200]
 *
 * Not a test: timings on a shared machine are too noisy to assert on. PostgreSQL: a database
 * `tenantry_bench_<random>` on BENCH_DATABASE_URL's server, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { benchServerUrl, createDatabase, dropDatabaseFamily, urlForDatabase } from './lib/postgres.js';
import { fixed, table } from './lib/report.js';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'pglite' },
    requests: { type: 'string', default: '200' },
  },
});
const requests = Number(values.requests);
if (!Number.isInteger(requests) || requests < 10) throw new Error('--requests must be an integer ≥ 10');
if (values.engine !== 'pglite' && values.engine !== 'postgres')
  throw new Error('--engine is pglite or postgres');

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-bench-enum-'));
const serverUrl = values.engine === 'postgres' ? benchServerUrl() : null;
const coreName = `tenantry_bench_${randomBytes(5).toString('hex')}`;
if (serverUrl) await createDatabase(serverUrl, coreName);

const env: Record<string, string> = {
  NODE_ENV: 'production',
  SECRET_KEY: randomBytes(32).toString('hex'),
  DATA_DIR: dataDir,
  AUTH_RATE_LIMIT: 'off',
  RATE_LIMIT: 'off',
  LOG_LEVEL: 'silent',
  ...(serverUrl ? { DATABASE_URL: urlForDatabase(serverUrl, coreName) } : {}),
};
const app = await buildApp(loadConfig(env), { logger: false });
try {
  await app.ready();
  const known = 'registered@example.com';
  const registered = await app.inject({
    method: 'POST',
    url: '/api/auth/register',
    payload: { email: known, password: 'a long enough password' },
  });
  if (registered.statusCode !== 201) throw new Error(`register: ${registered.statusCode} ${registered.body}`);

  const rows: string[][] = [];
  for (const url of ['/api/auth/password-reset', '/api/auth/verify/resend']) {
    const timings = { known: [] as number[], unknown: [] as number[] };
    // Warm-up: first requests pay for JIT and connection set-up.
    for (let i = 0; i < 10; i++)
      await app.inject({ method: 'POST', url, payload: { email: `warm${i}@example.com` } });
    for (let i = 0; i < requests; i++) {
      for (const kind of i % 2 === 0 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const)) {
        const email = kind === 'known' ? known : `nobody${i}@example.com`;
        const started = performance.now();
        const res = await app.inject({ method: 'POST', url, payload: { email } });
        timings[kind].push(performance.now() - started);
        if (res.statusCode !== 202) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
      }
    }
    const knownMs = median(timings.known);
    const unknownMs = median(timings.unknown);
    rows.push([url, fixed(knownMs, 2), fixed(unknownMs, 2), fixed(knownMs / unknownMs, 2)]);
  }
  process.stdout.write(
    `account enumeration by timing (${values.engine}, ${requests} requests per case)\n` +
      `${table(['route', 'known ms (median)', 'unknown ms (median)', 'known / unknown'], rows)}\n`,
  );
} finally {
  await app.close();
  if (serverUrl) await dropDatabaseFamily(serverUrl, coreName);
  rmSync(dataDir, { recursive: true, force: true });
}
