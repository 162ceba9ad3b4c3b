import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freshGet } from '../helpers/http-fresh.js';
import { total, parsePrometheusText } from '../helpers/prometheus-text.js';
import { freePort, startProcess, waitForHttp, type RunningProcess } from '../helpers/server-process.js';
import { createTestEnv, NEEDS_POSTGRES, type TestEnv } from '../helpers/test-env.js';

// Several processes need one shared database: PostgreSQL in both runs. Skipped (saying why) unless a PostgreSQL
// server is named (TEST_DATABASE_URL or TEST_POSTGRES_URL); a named server that does not answer fails.
const skip = NEEDS_POSTGRES;

const METRICS_TOKEN = randomBytes(20).toString('hex');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WEB_CONCURRENCY=2: worker processes sharing the port', { skip }, () => {
  let env: TestEnv;
  let server: RunningProcess;
  let base: string;
  const startPids = new Set<number>();
  let currentPids: number[] = [];

  async function workerPid(): Promise<number> {
    const res = await freshGet(`${base}/health`);
    assert.equal(res.status, 200);
    return Number(res.headers['x-worker-pid']);
  }

  before(async () => {
    env = await createTestEnv({}, { engine: 'postgres' });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = startProcess('src/main.ts', {
      ...env.env,
      WEB_CONCURRENCY: '2',
      TENANT_MAX_CONNECTIONS: '7',
      METRICS_TOKEN,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    await waitForHttp(`${base}/health/ready`, server, 60_000);
    // The first worker answers before the second has started: wait for the primary to say both listen.
    const deadline = Date.now() + 60_000;
    while (!/all workers listening/.test(server.output())) {
      assert.ok(Date.now() < deadline, `both workers listening within 60 s:\n${server.output()}`);
      await sleep(100);
    }
  });

  after(async () => {
    server?.child.kill('SIGKILL');
    for (const pid of [...startPids, ...currentPids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await server?.exited;
    await env?.cleanup();
  });

  it('two workers answer, /metrics sums both, and they split the connection budget', async () => {
    let requests = 0;
    while (startPids.size < 2 && requests < 50) {
      startPids.add(await workerPid());
      requests += 1;
    }
    assert.equal(startPids.size, 2, `two worker pids answered (${[...startPids].join(', ')})`);
    assert.ok(![...startPids].includes(server.child.pid ?? -1), 'the primary serves nothing itself');

    const metrics = await freshGet(`${base}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    assert.equal(metrics.status, 200, metrics.body);
    const { samples } = parsePrometheusText(metrics.body);
    // Whichever worker answered the scrape, it reports every worker's requests.
    assert.equal(
      total(samples, 'tenantry_http_requests_total', { route: '/health', status_code: '200' }),
      requests,
    );
    // TENANT_MAX_CONNECTIONS=7 over two workers: 3 each, never more than the budget together.
    assert.equal(total(samples, 'tenantry_tenant_connections_max'), 6);
  });

  it('replaces a worker killed with SIGKILL, and keeps answering meanwhile', async () => {
    const [victim, survivor] = [...startPids] as [number, number];
    process.kill(victim, 'SIGKILL');
    const seen = new Set<number>();
    let failures = 0;
    let replacement: number | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && replacement === undefined) {
      try {
        const pid = await workerPid();
        seen.add(pid);
        if (!startPids.has(pid)) replacement = pid;
      } catch {
        failures += 1;
      }
      await sleep(100);
    }
    assert.ok(replacement !== undefined, `a new worker answered within 30 s:\n${server.output()}`);
    assert.ok(seen.has(survivor), 'the surviving worker kept answering');
    assert.ok(!seen.has(victim), 'the killed worker never answered again');
    assert.ok(failures <= 1, `${failures} failed requests after the kill`);
    assert.match(server.output(), /worker died, replacing it/);
    assert.equal(alive(victim), false);
    currentPids = [survivor, replacement];
  });

  it('stops the primary and every worker on SIGTERM within 10 s, with status 0', async () => {
    const started = Date.now();
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.ok(Date.now() - started < 10_000, 'within 10 s');
    for (const pid of currentPids) assert.equal(alive(pid), false, `worker ${pid} is gone`);
    assert.match(server.output(), /all workers stopped/);
  });
});

describe('WEB_CONCURRENCY on the embedded engine', () => {
  it('is refused above 1, with a message naming the problem', async () => {
    const embedded = await createTestEnv({ DATABASE_URL: '' });
    try {
      const run = startProcess('src/main.ts', { ...embedded.env, WEB_CONCURRENCY: '2' });
      assert.equal(await run.exited, 1);
      assert.match(run.output(), /WEB_CONCURRENCY above 1 needs DATABASE_URL/);
    } finally {
      await embedded.cleanup();
    }
  });
});
