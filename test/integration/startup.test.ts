import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { productionWarnings } from '../../src/config-warnings.js';
import { freePort, startProcess, waitForHttp } from '../helpers/server-process.js';
import { NEEDS_POSTGRES, TEST_SERVER_URL } from '../helpers/test-env.js';

/** A private DATA_DIR for one spawned server, removed afterwards. */
async function withDataDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-startup-'));
  try {
    return await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SECRET_KEY = randomBytes(32).toString('hex');

describe('unsafe production defaults are named at start', () => {
  const production = { NODE_ENV: 'production', SECRET_KEY, DATA_DIR: tmpdir() };

  it('one warning each for mail to files, a localhost PUBLIC_URL and an open /metrics; none once they are set', () => {
    const warnings = productionWarnings(loadConfig(production));
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings[0] ?? '', /^SMTP_URL is not set/);
    assert.match(warnings[1] ?? '', /^PUBLIC_URL is http:\/\/localhost:8000/);
    assert.match(warnings[2] ?? '', /^METRICS_TOKEN is not set/);
    const configured = loadConfig({
      ...production,
      SMTP_URL: 'smtp://mail.example.com:587',
      PUBLIC_URL: 'https://api.example.com',
      METRICS_TOKEN: 'a-long-enough-metrics-token',
    });
    assert.deepEqual(productionWarnings(configured), []);
    assert.deepEqual(productionWarnings(loadConfig({ ...production, NODE_ENV: 'development' })), []);
    assert.equal(
      productionWarnings(loadConfig({ ...production, PUBLIC_URL: 'http://127.0.0.1:8000' })).length,
      3,
    );
  });

  it('the server process logs each warning once at start', async () => {
    await withDataDir(async (dir) => {
      const port = await freePort();
      const server = startProcess('src/main.ts', {
        ...production,
        DATA_DIR: dir,
        HOST: '127.0.0.1',
        PORT: String(port),
        LOG_LEVEL: 'info',
      });
      try {
        await waitForHttp(`http://127.0.0.1:${port}/health`, server, 60_000);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
      // Read after exit: log lines reach stdout in batches, and all of them by the time the process has exited.
      const warnings = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter((entry) => entry.level === 40)
        .map((entry) => entry.msg);
      for (const variable of ['SMTP_URL', 'PUBLIC_URL', 'METRICS_TOKEN']) {
        assert.equal(
          warnings.filter((msg) => msg.startsWith(`${variable} is`)).length,
          1,
          `${variable}: ${warnings.join('\n')}`,
        );
      }
    });
  });
});

describe('database connection failures at start: one line with cause and fix, exit 1', () => {
  async function failedStart(databaseUrl: string): Promise<string> {
    return withDataDir(async (dir) => {
      const server = startProcess('src/main.ts', {
        NODE_ENV: 'test',
        SECRET_KEY,
        DATA_DIR: dir,
        DATABASE_URL: databaseUrl,
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        LOG_LEVEL: 'info',
      });
      const code = await server.exited;
      const output = server.output().trim();
      assert.equal(code, 1, output);
      assert.equal(output.split('\n').length, 1, `one line:\n${output}`);
      assert.doesNotMatch(output, /\n\s+at |MigrationError|node_modules/, 'no stack trace');
      return output;
    });
  }

  it('a closed port: connection refused, start the server or fix DATABASE_URL', async () => {
    const port = await freePort();
    const output = await failedStart(`postgres://postgres@127.0.0.1:${port}/tenantry`);
    assert.match(
      output,
      new RegExp(`cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`),
    );
    assert.match(output, /DATABASE_URL/);
  });

  // These two need a PostgreSQL server to refuse them: the one named for the tests (skipped without one).
  const server = TEST_SERVER_URL === null ? null : new URL(TEST_SERVER_URL);
  const at = (user: string, database: string) =>
    `postgres://${user}@${server?.hostname}:${server?.port || '5432'}/${database}`;
  const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('a missing database: says how to create it', { skip: NEEDS_POSTGRES }, async () => {
    const name = `tenantry_missing_${randomBytes(4).toString('hex')}`;
    const user = decodeURIComponent(server?.username || 'postgres');
    const output = await failedStart(at(`${user}:not-printed`, name));
    const where = `${server?.hostname}:${server?.port || '5432'}`;
    assert.match(output, new RegExp(`database "${name}" does not exist on ${escaped(where)}`));
    assert.match(
      output,
      new RegExp(escaped(`createdb -h ${server?.hostname} -p ${server?.port || '5432'} -U ${user} ${name}`)),
    );
    assert.doesNotMatch(output, /not-printed/, 'never the password');
  });

  it('a role the server does not know: names the role and the fix', { skip: NEEDS_POSTGRES }, async () => {
    const role = `nosuchrole_${randomBytes(4).toString('hex')}`;
    const output = await failedStart(at(`${role}:pw`, 'postgres'));
    assert.match(output, new RegExp(`refused (the password of )?role "${role}"`));
  });
});
