import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  TenantConnectionManager,
  type TenantConnection,
  type TenantConnector,
} from '../../src/tenancy/connections/connection-manager.js';
import {
  databaseAddress,
  type DatabaseAddress,
  type ServerAddress,
} from '../../src/tenancy/placement/placement.js';

/** Counts open connections per server; a server in `down` refuses connections as a stopped one does. */
class ServersConnector implements TenantConnector {
  readonly open = new Map<string, number>();
  readonly peak = new Map<string, number>();
  readonly down = new Set<string>();

  async connect(database: DatabaseAddress): Promise<TenantConnection> {
    await new Promise((resolve) => setImmediate(resolve));
    const server = database.server;
    if (this.down.has(server))
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const now = (this.open.get(server) ?? 0) + 1;
    this.open.set(server, now);
    this.peak.set(server, Math.max(now, this.peak.get(server) ?? 0));
    return {
      broken: false,
      client: { query: async () => ({ rows: [] }) },
      close: async () => void this.open.set(server, (this.open.get(server) ?? 1) - 1),
    };
  }
}

const A = 'postgres://a:5432' as ServerAddress;
const B = 'postgres://b:5432' as ServerAddress;

describe('TenantConnectionManager across tenant servers', () => {
  it('holds each server to maxPerServer while another server still gets connections', async () => {
    const connector = new ServersConnector();
    const manager = new TenantConnectionManager(connector, {
      maxConnections: 10,
      maxPerTenant: 4,
      maxPerServer: 3,
      acquireTimeoutMs: 200,
      idleTimeoutMs: 60_000,
    });
    try {
      // Four tenants of server A want a connection each: three get one, the fourth waits.
      const onA = await Promise.all(['t1', 't2', 't3'].map((t) => manager.acquire(databaseAddress(A, t))));
      const waiting = manager.acquire(databaseAddress(A, 't4'));
      // Server B is not held up by A's limit.
      const onB = await Promise.all(['t5', 't6'].map((t) => manager.acquire(databaseAddress(B, t))));
      assert.equal(connector.open.get(A), 3);
      assert.equal(connector.open.get(B), 2);
      // A connection of A coming back serves A's waiter (the place is A's).
      onA[0]?.release();
      (await waiting).release();
      assert.equal(connector.peak.get(A), 3);
      assert.deepEqual(
        [...manager.serverConnections().entries()].sort(),
        [
          [A, 3],
          [B, 2],
        ].sort(),
      );
      for (const lease of [...onA.slice(1), ...onB]) lease.release();
    } finally {
      await manager.close();
    }
  });

  it('a server that refuses connections fails only its own tenants', async () => {
    const connector = new ServersConnector();
    const manager = new TenantConnectionManager(connector, { maxConnections: 4, idleTimeoutMs: 60_000 });
    try {
      connector.down.add(A);
      await assert.rejects(manager.acquire(databaseAddress(A, 't1')), /ECONNREFUSED/);
      const lease = await manager.acquire(databaseAddress(B, 't2'));
      lease.release();
      // The failed attempt gave its place back.
      assert.equal(manager.stats().connections, 1);
    } finally {
      await manager.close();
    }
  });

  it('without maxPerServer, one server may use the whole budget (the single-server setup)', async () => {
    const connector = new ServersConnector();
    const manager = new TenantConnectionManager(connector, { maxConnections: 5, idleTimeoutMs: 60_000 });
    try {
      const leases = await Promise.all(
        [1, 2, 3, 4, 5].map((i) => manager.acquire(databaseAddress(A, `t${i}`))),
      );
      assert.equal(connector.open.get(A), 5);
      for (const lease of leases) lease.release();
    } finally {
      await manager.close();
    }
  });
});
