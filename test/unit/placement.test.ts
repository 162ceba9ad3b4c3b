import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  databaseAddress,
  dedicatedPlacement,
  parseServerAddress,
  PGLITE_SERVER,
  placementColumns,
  placementFromRow,
  serverAddressOf,
  sharedPlacement,
  type ServerAddress,
} from '../../src/tenancy/placement/placement.js';
import {
  pgliteSharedName,
  pgliteSharedNumber,
  PostgresTenantNames,
  SharedTenantNames,
} from '../../src/tenancy/placement/placement-names.js';
import { TenantNamingError } from '../../src/tenancy/stores/tenant-store-errors.js';

const SERVER = 'postgres://db.internal:5433' as ServerAddress;

describe('placement', () => {
  it('a server address has no credentials, database or options', () => {
    assert.equal(serverAddressOf('postgres://u:secret@db.internal:5433/app?sslmode=require'), SERVER);
    assert.equal(serverAddressOf('postgresql://localhost/app'), 'postgres://localhost:5432');
    assert.equal(parseServerAddress('pglite'), PGLITE_SERVER);
    assert.equal(parseServerAddress('postgres://db.internal:5433'), SERVER);
    for (const bad of [
      '',
      'postgres://u:p@h:5432',
      'postgres://h:5432/db',
      'mysql://h:3306',
      'postgres://h',
    ]) {
      assert.throws(() => parseServerAddress(bad), TypeError, bad);
    }
  });

  it('dedicated and shared placements have distinct keys; connections are keyed by database', () => {
    const dedicated = dedicatedPlacement(SERVER, 'app_tenant_7');
    const shared7 = sharedPlacement(SERVER, 'app_shared_1', 't_7');
    const shared8 = sharedPlacement(SERVER, 'app_shared_1', 't_8');
    assert.equal(dedicated.schema, null);
    assert.equal(dedicated.address.shared, false);
    assert.equal(shared7.address.shared, true);
    assert.notEqual(shared7.key, shared8.key, 'each shared tenant has its own handle');
    assert.equal(shared7.address.key, shared8.address.key, 'but they share the database connections');
    assert.notEqual(
      databaseAddress(SERVER, 'x').key,
      databaseAddress('postgres://other:5433' as ServerAddress, 'x').key,
      'the same database name on another server is another database',
    );
  });

  it('round-trips through the organization row; rows without a server get the fallback', () => {
    for (const placement of [
      dedicatedPlacement(SERVER, 'app_tenant_7'),
      sharedPlacement(SERVER, 'app_shared_2', 't_9'),
    ]) {
      assert.deepEqual(placementFromRow(placementColumns(placement), PGLITE_SERVER), placement);
    }
    const legacy = {
      placement_kind: 'dedicated' as const,
      placement: null,
      tenant_db_name: '7',
      tenant_schema: null,
    };
    assert.deepEqual(placementFromRow(legacy, PGLITE_SERVER), dedicatedPlacement(PGLITE_SERVER, '7'));
    assert.equal(placementFromRow({ ...legacy, tenant_db_name: null }, PGLITE_SERVER), null, 'not yet named');
    assert.throws(
      () => placementFromRow({ ...legacy, placement_kind: 'shared' }, PGLITE_SERVER),
      TypeError,
      'a shared placement needs a schema',
    );
  });
});

describe('placement names', () => {
  it('names shared databases after the core database, and recognises only its own', () => {
    const names = new PostgresTenantNames('app');
    assert.equal(names.shared(3), 'app_shared_3');
    assert.equal(names.sharedNumber('app_shared_3'), 3);
    for (const other of ['app_shared_0', 'app_shared_03', 'other_shared_3', 'app_tenant_3', 'app_shared_x']) {
      assert.equal(names.sharedNumber(other), null, other);
    }
    assert.equal(
      names.isTenant('app_shared_3'),
      false,
      'a shared database is never a dedicated tenant (orphan)',
    );
    assert.throws(() => names.shared(0), TenantNamingError);
    assert.equal(pgliteSharedName(2), 'shared_2');
    assert.equal(pgliteSharedNumber('shared_2'), 2);
    assert.equal(pgliteSharedNumber('2'), null);
  });

  it('names tenant schemas and roles from ids only', () => {
    const names = new SharedTenantNames('app');
    assert.equal(names.schema(42), 't_42');
    assert.equal(names.role(42), 'app_t_42');
    assert.equal(names.roleForSchema('t_42'), 'app_t_42');
    assert.equal(names.schemaOrgId('t_42'), 42);
    assert.equal(names.roleOrgId('app_t_42'), 42);
    for (const bad of ['t_042', 't_0', 't_x', 'public', 't_99999999999']) {
      assert.equal(names.schemaOrgId(bad), null, bad);
    }
    assert.equal(names.roleOrgId('other_t_42'), null, "another deployment's role");
    assert.throws(() => names.roleForSchema('public'), TenantNamingError);
    assert.throws(() => names.schema(0), TenantNamingError);
    assert.throws(() => new SharedTenantNames('x'.repeat(60)), TenantNamingError);
  });
});
