import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { freePort, startProcess, waitForHttp } from '../helpers/server-process.js';

let env: TestEnv;
before(async () => {
  env = await createTestEnv();
});
after(() => env.cleanup());

/** The server on a free port of 127.0.0.1, logging at info (the shutdown lines are asserted). */
async function startLoggingServer() {
  const port = await freePort();
  const server = startProcess('src/main.ts', {
    ...env.env,
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'info',
  });
  return { port, server };
}

describe('the server process', () => {
  it('starts, serves requests and docs, and exits cleanly within seconds of SIGTERM', async () => {
    const { port, server } = await startLoggingServer();
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health/ready`, server);
      const docs = await fetch(`http://127.0.0.1:${port}/docs/`);
      assert.equal(docs.status, 200);
      // A request in flight when SIGTERM arrives still completes: its answer has begun (headers in), and its
      // ~1 MB body arrives whole after the signal. (Signalling before the request reached the server raced: the
      // connection could be refused as the listener closed, which says nothing about requests in flight.)
      const inflight = await fetch(`http://127.0.0.1:${port}/redoc/redoc.standalone.js`);
      const started = Date.now();
      server.child.kill('SIGTERM');
      assert.equal(inflight.status, 200);
      assert.ok((await inflight.text()).length > 100_000, 'the whole body arrives');
      assert.equal(await server.exited, 0, server.output());
      assert.ok(Date.now() - started < 10_000, 'exits within 10 s');
      assert.match(server.output(), /shutting down/);
      assert.match(server.output(), /"msg":"stopped"/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('stops gracefully on SIGHUP too (a closed terminal), with exit code 0', async () => {
    const { port, server } = await startLoggingServer();
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health/ready`, server);
      server.child.kill('SIGHUP');
      assert.equal(await server.exited, 0, server.output());
      assert.match(server.output(), /"signal":"SIGHUP".*shutting down/);
      assert.match(server.output(), /"msg":"stopped"/);
    } finally {
      server.child.kill('SIGKILL');
    }
  });

  it('refuses to start on bad configuration, naming the problem', async () => {
    const server = startProcess('src/main.ts', { ...env.env, PORT: 'eighty' });
    assert.equal(await server.exited, 1);
    assert.match(server.output(), /PORT must be an integer between 0 and 65535 \(got "eighty"\)/);
    assert.doesNotMatch(server.output(), /at .*\.ts:\d+/, 'no stack trace');
  });

  it('refuses a second process on the same embedded data directory', async () => {
    const embedded = await createTestEnv({ DATABASE_URL: '' });
    const port = await freePort();
    const first = startProcess('src/main.ts', { ...embedded.env, HOST: '127.0.0.1', PORT: String(port) });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/health`, first);
      const second = startProcess('src/main.ts', {
        ...embedded.env,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
      });
      assert.equal(await second.exited, 1);
      assert.match(second.output(), /another Tenantry process is using this embedded database/);
    } finally {
      first.child.kill('SIGTERM');
      await first.exited;
      await embedded.cleanup();
    }
  });
});

describe('the CLI', () => {
  it('migrate applies the core migrations, then reports nothing to do', async () => {
    const fresh = await createTestEnv();
    try {
      const first = startProcess('bin/tenantry.mjs', fresh.env, ['migrate', '--json']);
      assert.equal(await first.exited, 0, first.output());
      const applied = (JSON.parse(first.output()) as { core: { applied: string[] } }).core.applied;
      assert.ok(applied.includes('2026_11_29_0001_initial'));
      const second = startProcess('bin/tenantry.mjs', fresh.env, ['migrate', '--json']);
      assert.equal(await second.exited, 0, second.output());
      const report = JSON.parse(second.output()) as {
        core: { applied: string[] };
        migrated: number[];
        skipped: number;
      };
      assert.deepEqual(report.core.applied, []);
      assert.deepEqual(report.migrated, []);
    } finally {
      await fresh.cleanup();
    }
  });

  it('answers an unknown command with exit code 2 and a pointer to the help', async () => {
    const run = startProcess('bin/tenantry.mjs', env.env, ['frobnicate']);
    assert.equal(await run.exited, 2);
    assert.match(run.output(), /unknown command 'frobnicate'/);
    assert.match(run.output(), /add --help for usage/);
  });
});
