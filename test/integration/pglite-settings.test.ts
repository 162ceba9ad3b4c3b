import { databaseAddress, PGLITE_SERVER } from '../../src/tenancy/placement/placement.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { runChildProcessJob, siblingModule } from '../../src/db/child-process-job.js';
import { openCoreDb } from '../../src/db/core-database.js';
import { pgliteConnector } from '../../src/tenancy/connections/connectors.js';
import { PgliteTenantStore } from '../../src/tenancy/stores/pglite-tenant-store.js';
import { silentLogger } from '../helpers/core-fixtures.js';

// Whatever TEST_ENGINE says: these settings exist only on the embedded engine.
const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-pglite-settings-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** Not the default (16), so that the value read back can only come from the setting. */
const settings = { sharedBuffersMb: 8 };

describe('embedded engine settings (PGLITE_SHARED_BUFFERS_MB)', () => {
  it('start the core database, created in a child process, with the configured shared_buffers', async () => {
    const core = await openCoreDb({
      databaseUrl: null,
      dataDir,
      databaseQueryTimeoutMs: 0,
      pglite: settings,
    });
    try {
      const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(core.db);
      assert.equal(rows[0]?.shared_buffers, '8MB');
    } finally {
      await core.close();
    }
  });

  it('start tenant databases (store handles and request connections) with it too', async () => {
    const store = new PgliteTenantStore({ dataDir, settings, log: silentLogger() });
    try {
      await store.prepare();
      const name = store.databaseName(1);
      await store.create(name);
      const handle = await store.open(name);
      try {
        const { rows } = await sql<{ shared_buffers: string }>`show shared_buffers`.execute(handle.db);
        assert.equal(rows[0]?.shared_buffers, '8MB');
        // The copy is a migrated database.
        const users = await handle.db.selectFrom('tenant_users').select('id').execute();
        assert.deepEqual(users, []);
      } finally {
        await handle.close();
      }
      const connection = await pgliteConnector(dataDir, settings).connect(
        databaseAddress(PGLITE_SERVER, name),
      );
      try {
        const result = (await connection.client.query('show shared_buffers')) as {
          rows: { shared_buffers: string }[];
        };
        assert.equal(result.rows[0]?.shared_buffers, '8MB');
      } finally {
        await connection.close();
      }
    } finally {
      await store.close();
    }
  });

  it('a child process job that fails rejects with its error output', async () => {
    // initdb into a directory whose parent does not exist: the child fails, the parent hears why.
    const entry = siblingModule(
      new URL('../../src/db/child-process-job.ts', import.meta.url).href,
      'pglite-initdb.child',
    );
    await assert.rejects(
      runChildProcessJob(entry, { dataDir: join(dataDir, 'missing', 'db'), settings }),
      /pglite-initdb\.child\.ts failed \(exit code 1\): [\s\S]*ENOENT/,
    );
  });
});
