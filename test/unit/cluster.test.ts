import { availableParallelism } from 'node:os';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isReconcilingWorker, workerShare } from '../../src/cluster.js';
import { loadConfig } from '../../src/config.js';

const base = {
  NODE_ENV: 'test',
  SECRET_KEY: 'x'.repeat(32),
  DATA_DIR: '/tmp/tenantry-unit-cluster',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unit',
};

describe('workerShare', () => {
  it('splits the tenant connection budgets evenly, so the workers together stay within them', () => {
    const config = loadConfig({
      ...base,
      WEB_CONCURRENCY: '4',
      TENANT_MAX_CONNECTIONS: '42',
      TENANT_MAX_CONNECTIONS_PER_TENANT: '8',
      TENANT_MAX_OPEN: '20',
    });
    const share = workerShare(config).tenantConnections;
    assert.equal(share.maxConnections, 10);
    assert.equal(share.maxPerTenant, 2);
    assert.equal(share.maxOpenTenants, 5);
    assert.ok(share.maxConnections * 4 <= config.tenantConnections.maxConnections);
    // Everything else is the configuration as given, still frozen.
    assert.equal(share.idleTimeoutMs, config.tenantConnections.idleTimeoutMs);
    assert.equal(workerShare(config).databaseUrl, config.databaseUrl);
    assert.ok(Object.isFrozen(workerShare(config)) && Object.isFrozen(share));
  });

  it('gives every worker at least one connection', () => {
    const config = loadConfig({ ...base, WEB_CONCURRENCY: '8', TENANT_MAX_CONNECTIONS: '3' });
    assert.equal(workerShare(config).tenantConnections.maxConnections, 1);
    assert.equal(workerShare(config).tenantConnections.maxPerTenant, 1);
  });

  it('shares out the argon2 computations at once (PASSWORD_HASH_CONCURRENCY, one per CPU by default)', () => {
    const config = loadConfig({ ...base, WEB_CONCURRENCY: '2', PASSWORD_HASH_CONCURRENCY: '6' });
    assert.equal(config.passwordHashConcurrency, 6);
    assert.equal(workerShare(config).passwordHashConcurrency, 3);
    assert.equal(
      workerShare(loadConfig({ ...base, WEB_CONCURRENCY: '4' }), 4).passwordHashConcurrency >= 1,
      true,
    );
    assert.equal(loadConfig(base).passwordHashConcurrency, availableParallelism());
    assert.throws(() => loadConfig({ ...base, PASSWORD_HASH_CONCURRENCY: '0' }), /PASSWORD_HASH_CONCURRENCY/);
  });

  it('leaves a single process its whole budget', () => {
    const config = loadConfig({ ...base, TENANT_MAX_CONNECTIONS: '40' });
    assert.equal(workerShare(config).tenantConnections.maxConnections, 40);
  });
});

describe('isReconcilingWorker', () => {
  it('is true only where the primary asked for it', () => {
    assert.equal(isReconcilingWorker({ TENANTRY_WORKER_RECONCILE: '1' }), true);
    assert.equal(isReconcilingWorker({ TENANTRY_WORKER_RECONCILE: '0' }), false);
    assert.equal(isReconcilingWorker({}), false);
  });
});
