import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';

const base = { SECRET_KEY: 'k'.repeat(40), DATA_DIR: '/tmp/tenantry-unit-ops-config' };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('operations settings', () => {
  it('METRICS_TOKEN: unset (or empty) leaves /metrics open; a short one is refused', () => {
    assert.equal(loadConfig(base).metricsToken, null);
    assert.equal(loadConfig({ ...base, METRICS_TOKEN: '' }).metricsToken, null);
    assert.equal(loadConfig({ ...base, METRICS_TOKEN: 't'.repeat(16) }).metricsToken, 't'.repeat(16));
    assert.deepEqual(problemsOf({ METRICS_TOKEN: 'short' }), [
      'METRICS_TOKEN must be at least 16 characters (got 5)',
    ]);
  });

  it('TRUST_PROXY: a boolean, or the proxies as addresses and CIDR ranges', () => {
    assert.equal(loadConfig(base).trustProxy, false);
    assert.equal(loadConfig({ ...base, TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ ...base, TRUST_PROXY: '0' }).trustProxy, false);
    assert.equal(
      loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, 192.168.1.10,fd00::/8' }).trustProxy,
      '10.0.0.0/8,192.168.1.10,fd00::/8',
    );
    for (const bad of ['10.0.0.0/33', '10.0.0.1,lb.internal', 'maybe']) {
      assert.equal(problemsOf({ TRUST_PROXY: bad }).length, 1, bad);
    }
  });

  it('REQUEST_TIMEOUT_MS: 30 s by default, 0 turns it off, nonsense is refused', () => {
    assert.equal(loadConfig(base).requestTimeoutMs, 30_000);
    assert.equal(loadConfig({ ...base, REQUEST_TIMEOUT_MS: '0' }).requestTimeoutMs, 0);
    assert.deepEqual(problemsOf({ REQUEST_TIMEOUT_MS: '5s' }), [
      'REQUEST_TIMEOUT_MS must be an integer between 0 and 600000 (got "5s")',
    ]);
  });

  it('DATABASE_QUERY_TIMEOUT_MS: 10 s by default, 0 turns it off, nonsense is refused', () => {
    assert.equal(loadConfig(base).databaseQueryTimeoutMs, 10_000);
    assert.equal(loadConfig({ ...base, DATABASE_QUERY_TIMEOUT_MS: '0' }).databaseQueryTimeoutMs, 0);
    assert.deepEqual(problemsOf({ DATABASE_QUERY_TIMEOUT_MS: '-1' }), [
      'DATABASE_QUERY_TIMEOUT_MS must be an integer between 0 and 600000 (got "-1")',
    ]);
  });

  it('DATABASE_DDL_TIMEOUT_MS: 60 s by default, 0 turns it off, nonsense is refused', () => {
    assert.equal(loadConfig(base).databaseDdlTimeoutMs, 60_000);
    assert.equal(loadConfig({ ...base, DATABASE_DDL_TIMEOUT_MS: '0' }).databaseDdlTimeoutMs, 0);
    assert.deepEqual(problemsOf({ DATABASE_DDL_TIMEOUT_MS: '1m' }), [
      'DATABASE_DDL_TIMEOUT_MS must be an integer between 0 and 3600000 (got "1m")',
    ]);
  });
});
