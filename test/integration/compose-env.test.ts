import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { composeEnvironment, interpolate } from '../helpers/compose-file.js';
import { freshGet, freshRequest } from '../helpers/http-fresh.js';
import { freePort, REPO_ROOT, waitForHttp, type RunningProcess } from '../helpers/server-process.js';
import { startSmtpListener, type SmtpListener } from '../helpers/smtp-listener.js';
import { createTestEnv, NEEDS_POSTGRES, type TestEnv } from '../helpers/test-env.js';

// Skipped (saying why) unless a PostgreSQL server is named; a named server that does not answer fails.
const skip = NEEDS_POSTGRES;

/** Runs a command from the repository root; resolves with its exit code and output. */
function run(command: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output })),
  );
}

/** The compiled server, with plain Node: no tsx, exactly what the image's CMD runs. */
function startCompiled(env: Record<string, string>): RunningProcess {
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, output: () => output, exited };
}

/** The exec-form command of the Dockerfile's HEALTHCHECK. */
function dockerHealthcheck(): string[] {
  const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const match = /^HEALTHCHECK .*?CMD (\[.*\])\s*$/m.exec(dockerfile);
  assert.ok(match?.[1], 'the Dockerfile has an exec-form HEALTHCHECK');
  return JSON.parse(match[1]) as string[];
}

describe('the compiled server with docker-compose.yml’s environment', { skip }, () => {
  let env: TestEnv;
  let smtp: SmtpListener;
  let server: RunningProcess;
  let base: string;
  let serverEnv: Record<string, string>;
  // A loopback address of this run's own: the compose file trusts no proxy, so this is the rate-limit key.
  const client = `127.${randomInt(1, 255)}.${randomInt(256)}.${randomInt(1, 255)}`;

  before(async () => {
    const build = await run('npm', ['run', 'build']);
    assert.equal(build.code, 0, `npm run build:\n${build.output}`);

    env = await createTestEnv({}, { engine: 'postgres' });
    smtp = await startSmtpListener();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;

    const compose = composeEnvironment(join(REPO_ROOT, 'docker-compose.yml'), 'app');
    // What a user puts in .env; everything else takes the compose file's defaults.
    const dotenv = { SECRET_KEY: randomBytes(36).toString('base64') };
    // Compose service hosts, replaced by what this machine runs.
    const services: Record<string, (url: URL) => string> = {
      postgres: () => env.env.DATABASE_URL as string,
      redis: (url) => `redis://127.0.0.1:${url.port || '6379'}${url.pathname}`,
      mailpit: () => smtp.url,
    };
    serverEnv = {};
    for (const [name, value] of Object.entries(compose)) {
      let resolved = interpolate(value, dotenv);
      if (/^[a-z]+:\/\//.test(resolved)) {
        const url = new URL(resolved);
        const substitute = services[url.hostname];
        if (substitute) resolved = substitute(url);
      }
      serverEnv[name] = resolved;
    }
    for (const [name, value] of Object.entries(serverEnv)) {
      assert.doesNotMatch(
        value,
        /\/\/(?:[^@/]*@)?(postgres|redis|mailpit)[:/]/,
        `${name} still names a compose service`,
      );
    }
    assert.equal(serverEnv.NODE_ENV, 'production');
    assert.equal(serverEnv.PORT, '8000');
    // The port is free on this machine; DATA_DIR is the image's /app/data.
    Object.assign(serverEnv, { PORT: String(port), DATA_DIR: env.env.DATA_DIR as string });

    server = startCompiled(serverEnv);
    await waitForHttp(`${base}/health/ready`, server, 60_000);
  });

  after(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await smtp?.close();
    await env?.cleanup();
  });

  it('starts in production mode on PostgreSQL, Redis and SMTP, with the workers the file asks for', async () => {
    assert.ok(Number(serverEnv.WEB_CONCURRENCY) >= 2);
    const res = await freshGet(`${base}/health`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['x-worker-pid']), /^\d+$/);
    // Log lines reach stdout in batches, at least every 250 ms (see bufferedStdout).
    for (let waited = 0; !/"engine":"postgres"/.test(server.output()) && waited < 3_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(server.output(), /"engine":"postgres"/);
    assert.doesNotMatch(server.output(), /redis unavailable/i);
  });

  it('serves the docs and the OpenAPI document from the compiled build', async () => {
    for (const path of ['/docs/', '/redoc', '/redoc/redoc.standalone.js', '/openapi.json', '/metrics']) {
      const res = await freshGet(`${base}${path}`);
      assert.equal(res.status, 200, path);
    }
  });

  it('sends email through SMTP_URL', async () => {
    const email = `compose-${randomBytes(4).toString('hex')}@example.com`;
    const res = await freshRequest(`${base}/api/auth/register`, {
      method: 'POST',
      json: { email, password: 'correct horse battery' },
      localAddress: client,
    });
    assert.equal(res.status, 201, res.body);
    const message = await smtp.waitForMessage((m) => m.envelope.to.includes(email), 30_000);
    assert.match(message.raw, /api\/auth\/verify\?token=/);
  });

  it('passes the Dockerfile’s HEALTHCHECK command', async () => {
    const [command, ...args] = dockerHealthcheck();
    assert.equal(command, 'node');
    const check = await run(process.execPath, args, { PORT: serverEnv.PORT as string });
    assert.equal(check.code, 0, check.output);
  });

  it('stops on SIGTERM within 10 s, with status 0', async () => {
    const started = Date.now();
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    assert.ok(Date.now() - started < 10_000);
  });
});
