import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, parseRateLimit } from '../../src/config.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-config-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const KEY = 'k'.repeat(40);

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ DATA_DIR: tempDir(), SECRET_KEY: KEY, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), SECRET_KEY: KEY });
    assert.equal(config.databaseUrl, null);
    assert.equal(config.algorithm, 'HS256');
    assert.equal(config.accessTokenExpireMinutes, 30);
    assert.equal(config.refreshTokenExpireDays, 14);
    assert.equal(config.verificationTokenExpireHours, 24);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8000);
    assert.equal(config.publicUrl, 'http://localhost:8000');
    assert.equal(config.smtpUrl, null);
    assert.equal(config.redisUrl, null);
    assert.deepEqual(config.corsOrigins, []);
    assert.deepEqual(config.authRateLimit, { max: 5, windowMs: 60_000 });
    assert.deepEqual(config.rateLimit, { max: 100, windowMs: 60_000 });
    assert.equal(config.webConcurrency, 1);
    assert.equal(config.logLevel, 'info');
  });

  it('is frozen', () => {
    const config = loadConfig({ DATA_DIR: tempDir(), SECRET_KEY: KEY });
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      DATA_DIR: tempDir(),
      SECRET_KEY: KEY,
      DATABASE_URL: 'postgres://u:p@db:5432/core',
      ALGORITHM: 'hs512',
      PORT: '9000',
      PUBLIC_URL: 'https://api.example.com/',
      CORS_ORIGINS: 'https://a.example.com, https://b.example.com',
      AUTH_RATE_LIMIT: 'off',
      RATE_LIMIT: '10/second',
      WEB_CONCURRENCY: '4',
      LOG_LEVEL: 'DEBUG',
      SMTP_URL: 'smtp://user:pass@mail:587',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    assert.equal(config.databaseUrl, 'postgres://u:p@db:5432/core');
    assert.equal(config.algorithm, 'HS512');
    assert.equal(config.port, 9000);
    assert.equal(config.publicUrl, 'https://api.example.com');
    assert.deepEqual(config.corsOrigins, ['https://a.example.com', 'https://b.example.com']);
    assert.equal(config.authRateLimit, null);
    assert.deepEqual(config.rateLimit, { max: 10, windowMs: 1000 });
    assert.equal(config.webConcurrency, 4);
    assert.equal(config.logLevel, 'debug');
  });

  it('reports every bad value at once, in words', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      ALGORITHM: 'RS256',
      ACCESS_TOKEN_EXPIRE_MINUTES: '0',
      RATE_LIMIT: 'lots',
    });
    assert.ok(
      problems.includes('PORT must be an integer between 0 and 65535 (got "eighty")'),
      problems.join('\n'),
    );
    assert.ok(problems.some((p) => p.startsWith('ALGORITHM must be one of HS256, HS384, HS512')));
    assert.ok(problems.some((p) => p.startsWith('ACCESS_TOKEN_EXPIRE_MINUTES must be an integer between 1')));
    assert.ok(problems.some((p) => p.startsWith('RATE_LIMIT must look like "5/minute"')));
    assert.equal(problems.length, 4);
  });

  it('rejects URLs of the wrong kind', () => {
    const problems = problemsOf({ DATABASE_URL: 'mysql://x', REDIS_URL: 'nope' });
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /^DATABASE_URL must be a URL starting with postgres:/);
  });

  it('refuses several workers on the embedded engine', () => {
    const problems = problemsOf({ WEB_CONCURRENCY: '2' });
    assert.match(problems[0] ?? '', /WEB_CONCURRENCY above 1 needs DATABASE_URL/);
  });

  it('requires a strong SECRET_KEY in production', () => {
    const missing = problemsOf({ NODE_ENV: 'production', SECRET_KEY: '' });
    assert.match(missing[0] ?? '', /SECRET_KEY is required in production/);
    const short = problemsOf({ NODE_ENV: 'production', SECRET_KEY: 'short' });
    assert.match(short[0] ?? '', /SECRET_KEY must be at least 32 characters \(got 5\)/);
  });

  it("reads the embedded engine's shared_buffers in MiB, 16 by default", () => {
    assert.equal(loadConfig({ DATA_DIR: tempDir(), SECRET_KEY: KEY }).pglite.sharedBuffersMb, 16);
    const config = loadConfig({ DATA_DIR: tempDir(), SECRET_KEY: KEY, PGLITE_SHARED_BUFFERS_MB: '64' });
    assert.equal(config.pglite.sharedBuffersMb, 64);
    for (const bad of ['0', '16MB', '2048']) {
      assert.deepEqual(problemsOf({ PGLITE_SHARED_BUFFERS_MB: bad }), [
        `PGLITE_SHARED_BUFFERS_MB must be an integer between 1 and 1024 (got "${bad}")`,
      ]);
    }
  });

  it('generates a development key once and keeps it in DATA_DIR', () => {
    const dataDir = join(tempDir(), 'nested');
    const first = loadConfig({ DATA_DIR: dataDir });
    assert.ok(first.secretKey.length >= 32);
    assert.ok(existsSync(join(dataDir, 'secret_key')));
    assert.equal(readFileSync(join(dataDir, 'secret_key'), 'utf8').trim(), first.secretKey);
    const second = loadConfig({ DATA_DIR: dataDir });
    assert.equal(second.secretKey, first.secretKey);
  });
});

describe('parseRateLimit', () => {
  it('parses counts per window and off', () => {
    assert.deepEqual(parseRateLimit('5/minute'), { max: 5, windowMs: 60_000 });
    assert.deepEqual(parseRateLimit(' 1000 / hour '), { max: 1000, windowMs: 3_600_000 });
    assert.equal(parseRateLimit('OFF'), null);
    assert.equal(parseRateLimit('0/minute'), undefined);
    assert.equal(parseRateLimit('5 per minute'), undefined);
  });
});
