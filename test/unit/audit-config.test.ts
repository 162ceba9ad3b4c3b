import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import {
  AUDIT_ACTIONS,
  CORE_AUDIT_ACTIONS,
  planeOf,
  TENANT_AUDIT_ACTIONS,
} from '../../src/modules/audit/audit-actions.js';

const dir = mkdtempSync(join(tmpdir(), 'tenantry-audit-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const base = { DATA_DIR: dir, SECRET_KEY: 'k'.repeat(40) };

describe('AUDIT_RETENTION_DAYS', () => {
  it('defaults to 365 and takes a whole number of days', () => {
    assert.equal(loadConfig(base).auditRetentionDays, 365);
    assert.equal(loadConfig({ ...base, AUDIT_RETENTION_DAYS: '30' }).auditRetentionDays, 30);
  });

  it('refuses anything else at start, naming the variable', () => {
    for (const value of ['0', '-1', '1.5', 'forever', '36501']) {
      assert.throws(
        () => loadConfig({ ...base, AUDIT_RETENTION_DAYS: value }),
        (error: unknown) =>
          error instanceof ConfigError && error.problems.some((p) => p.includes('AUDIT_RETENTION_DAYS')),
        value,
      );
    }
  });
});

describe('audit actions', () => {
  it('are the contract’s, each recorded in exactly one plane', () => {
    assert.equal(TENANT_AUDIT_ACTIONS.length, 13);
    assert.equal(CORE_AUDIT_ACTIONS.length, 13);
    assert.equal(new Set(AUDIT_ACTIONS).size, 26);
    assert.ok(TENANT_AUDIT_ACTIONS.every((a) => planeOf(a) === 'tenant'));
    assert.ok(CORE_AUDIT_ACTIONS.every((a) => planeOf(a) === 'core'));
  });
});
