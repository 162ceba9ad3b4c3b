import assert from 'node:assert/strict';
import {
  databaseAddress,
  type DatabaseAddress,
  type ServerAddress,
} from '../../src/tenancy/placement/placement.js';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { movedAway } from '../../src/tenancy/connections/moved-away.js';
import {
  TenantConnectionManager,
  type ConnectionBudget,
  type TenantConnection,
  type TenantConnector,
} from '../../src/tenancy/connections/connection-manager.js';

/**
 * An in-memory connector that records what is open, so the manager's bookkeeping can be checked exactly.
 * (The same manager against a real PostgreSQL server is in test/integration/connection-budget.test.ts.)
 */
class CountingConnector implements TenantConnector {
  open = new Map<string, number>();
  peak = 0;
  opened = 0;
  closed = 0;
  failNext = false;
  last: { broken: boolean } | undefined;

  get total(): number {
    let total = 0;
    for (const count of this.open.values()) total += count;
    return total;
  }

  async connect(database: DatabaseAddress): Promise<TenantConnection> {
    const dbName = database.database;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('connection refused');
    }
    this.open.set(dbName, (this.open.get(dbName) ?? 0) + 1);
    this.opened++;
    this.peak = Math.max(this.peak, this.total);
    const connection = {
      broken: false,
      client: { query: async () => ({ rows: [] }) },
      close: async () => {
        this.open.set(dbName, (this.open.get(dbName) ?? 1) - 1);
        this.closed++;
      },
    };
    this.last = connection;
    return connection;
  }
}

/** A database of the test's one fake server. */
function db(name: string): DatabaseAddress {
  return databaseAddress('postgres://fake:5432' as ServerAddress, name);
}

function manager(budget: Partial<ConnectionBudget>) {
  const connector = new CountingConnector();
  return { connector, manager: new TenantConnectionManager(connector, { idleTimeoutMs: 60_000, ...budget }) };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('TenantConnectionManager', () => {
  it('reuses an idle connection instead of opening a new one', async () => {
    const { connector, manager: m } = manager({ maxConnections: 4 });
    for (let i = 0; i < 5; i++) (await m.acquire(db('t1'))).release();
    assert.equal(connector.opened, 1);
    assert.equal(m.stats().idle, 1);
    await m.close();
  });

  it('never exceeds the total or per-tenant budget, whatever the number of tenants, and serves everyone', async () => {
    const { connector, manager: m } = manager({
      maxConnections: 5,
      maxPerTenant: 2,
      acquireTimeoutMs: 10_000,
    });
    let peakPerTenant = 0;
    const work = Array.from({ length: 300 }, async (_, i) => {
      const lease = await m.acquire(db(`t${i % 60}`));
      for (const count of connector.open.values()) peakPerTenant = Math.max(peakPerTenant, count);
      assert.ok(m.stats().connections <= 5);
      await pause(1 + (i % 3));
      lease.release();
    });
    await Promise.all(work);
    assert.ok(connector.peak <= 5, `peak ${connector.peak}`);
    assert.ok(peakPerTenant <= 2, `per tenant ${peakPerTenant}`);
    assert.equal(m.stats().waiters, 0);
    assert.ok(
      m.stats().evictions + connector.closed > 0,
      'room was made by closing other tenants’ connections',
    );
    await m.close();
    assert.equal(connector.total, 0, 'close() closes everything');
  });

  it('lets a shared database (many tenants) hold up to its own cap, above the per-tenant one', async () => {
    const { connector, manager: m } = manager({
      maxConnections: 10,
      maxPerTenant: 2,
      maxPerSharedDatabase: 6,
    });
    const shared = databaseAddress('postgres://fake:5432' as ServerAddress, 'app_shared_1', true);
    const leases = await Promise.all(Array.from({ length: 6 }, () => m.acquire(shared)));
    assert.equal(connector.open.get('app_shared_1'), 6);
    // The seventh waits for one of the six: the cap holds.
    const seventh = m.acquire(shared);
    await pause(20);
    assert.equal(connector.open.get('app_shared_1'), 6);
    leases[0]?.release();
    (await seventh).release();
    const dedicated = await Promise.all([m.acquire(db('t1')), m.acquire(db('t1'))]);
    assert.equal(connector.open.get('t1'), 2, 'a dedicated database keeps the per-tenant cap');
    for (const lease of [...leases.slice(1), ...dedicated]) lease.release();
    await m.close();
  });

  it('bounds the number of open tenants', async () => {
    const { connector, manager: m } = manager({ maxConnections: 10, maxOpenTenants: 2 });
    (await m.acquire(db('a'))).release();
    (await m.acquire(db('b'))).release();
    (await m.acquire(db('c'))).release();
    assert.equal([...connector.open.values()].filter((n) => n > 0).length, 2);
    assert.equal(m.stats().openTenants, 2);
    assert.equal(m.stats().evictions, 1);
    await m.close();
  });

  it('answers 503 with Retry-After past the deadline, and when the queue is full', async () => {
    const { manager: m } = manager({ maxConnections: 1, acquireTimeoutMs: 20, maxWaiters: 1 });
    const held = await m.acquire(db('a'));
    const outcomes = await Promise.allSettled([m.acquire(db('b')), m.acquire(db('c'))]);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      const error: unknown = outcome.status === 'rejected' ? outcome.reason : undefined;
      assert.ok(error instanceof AppError);
      assert.equal(error.statusCode, 503);
      assert.equal(error.headers['retry-after'], '1');
    }
    assert.equal(m.stats().timeouts, 2);
    held.release();
    (await m.acquire(db('b'))).release();
    await m.close();
  });

  it('serves waiting tenants round-robin, so one busy tenant cannot starve another', async () => {
    const { manager: m } = manager({ maxConnections: 1, maxPerTenant: 1, acquireTimeoutMs: 5_000 });
    const first = await m.acquire(db('busy'));
    const order: string[] = [];
    const waits = [
      ...Array.from({ length: 5 }, () =>
        m.acquire(db('busy')).then((l) => (order.push('busy'), l.release())),
      ),
      m.acquire(db('quiet')).then((l) => (order.push('quiet'), l.release())),
    ];
    await pause(5);
    first.release();
    await Promise.all(waits);
    assert.ok(
      order.indexOf('quiet') <= 1,
      `quiet served at position ${order.indexOf('quiet')}: ${order.join(',')}`,
    );
    await m.close();
  });

  it('a tenant with busy connections waits for one of its own rather than closing a warm one', async () => {
    const { connector, manager: m } = manager({ maxConnections: 2, maxPerTenant: 2 });
    (await m.acquire(db('b'))).release(); // b keeps a warm idle connection
    const first = await m.acquire(db('a'));
    const second = m.acquire(db('a'));
    setTimeout(() => first.release(), 5); // back well before the grow delay
    (await second).release();
    assert.equal(connector.opened, 2, 'no reconnect');
    assert.equal(m.stats().evictions, 0, "b's warm connection survived");
    await m.close();
  });

  it('a tenant at its fair share waits for its own, and answers 503 rather than close a warm neighbour', async () => {
    const { connector, manager: m } = manager({ maxConnections: 2, maxPerTenant: 2, acquireTimeoutMs: 50 });
    (await m.acquire(db('b'))).release(); // b: one warm idle connection, its share
    const held = await m.acquire(db('a')); // a: one connection, its share (2 tenants, budget 2)
    await assert.rejects(
      m.acquire(db('a')),
      (error: unknown) => error instanceof AppError && error.statusCode === 503,
    );
    assert.equal(m.stats().evictions, 0);
    assert.equal(connector.open.get('b'), 1, "b's warm connection survived");
    held.release();
    await m.close();
  });

  it('a tenant below its fair share grows at the expense of a tenant above it, and no further', async () => {
    const { connector, manager: m } = manager({ maxConnections: 4, maxPerTenant: 4, acquireTimeoutMs: 50 });
    const grown = await Promise.all([
      m.acquire(db('a')),
      m.acquire(db('a')),
      m.acquire(db('a')),
      m.acquire(db('a')),
    ]);
    for (const lease of grown) lease.release(); // a: 4 idle connections, all of the free budget
    const first = await m.acquire(db('b')); // share is now 2: a is above it
    const second = await m.acquire(db('b'));
    assert.equal(connector.open.get('a'), 2);
    assert.equal(connector.open.get('b'), 2);
    assert.equal(m.stats().evictions, 2);
    // b is at its share: a third request waits for b's own connections instead of closing a's.
    await assert.rejects(
      m.acquire(db('b')),
      (error: unknown) => error instanceof AppError && error.statusCode === 503,
    );
    assert.equal(connector.open.get('a'), 2);
    first.release();
    second.release();
    await m.close();
  });

  it('a busy tenant above its share hands its place to a waiting tenant below it when it releases', async () => {
    const { connector, manager: m } = manager({
      maxConnections: 2,
      maxPerTenant: 2,
      acquireTimeoutMs: 5_000,
    });
    const busy = await Promise.all([m.acquire(db('a')), m.acquire(db('a'))]); // nothing idle to take
    const waiting = m.acquire(db('b'));
    busy[0]?.release();
    (await waiting).release();
    assert.equal(connector.open.get('a'), 1);
    assert.equal(connector.open.get('b'), 1);
    busy[1]?.release();
    await m.close();
  });

  /** `workers` concurrent loops, each acquiring a random tenant's connection `rounds` times. */
  async function randomLoad(m: TenantConnectionManager, tenants: number, workers: number, rounds: number) {
    let served = 0;
    await Promise.all(
      Array.from({ length: workers }, async () => {
        for (let i = 0; i < rounds; i++) {
          const lease = await m.acquire(db(`t${Math.floor(Math.random() * tenants)}`));
          await new Promise((resolve) => setImmediate(resolve));
          lease.release();
          served++;
        }
      }),
    );
    return served;
  }

  it('closes no warm connection once shares settle while the tenants fit the budget', async () => {
    for (const tenants of [10, 40]) {
      const { connector, manager: m } = manager({ maxConnections: 40, maxPerTenant: 4 });
      // Warm-up: every tenant gets connections; early ones grow into free budget and give it back.
      for (let t = 0; t < tenants; t++) (await m.acquire(db(`t${t}`))).release();
      await randomLoad(m, tenants, 50, 40);
      const { opened, closed } = connector;
      const evictions = m.stats().evictions;
      assert.equal(await randomLoad(m, tenants, 50, 100), 5_000);
      assert.equal(connector.opened, opened, `${tenants} tenants: no connection opened once warm`);
      assert.equal(connector.closed, closed, `${tenants} tenants: no connection closed once warm`);
      assert.equal(m.stats().evictions, evictions);
      assert.ok(connector.peak <= 40);
      await m.close();
    }
  });

  it('with more tenants than budget, serves everyone within the budget', async () => {
    const { connector, manager: m } = manager({
      maxConnections: 40,
      maxPerTenant: 4,
      acquireTimeoutMs: 10_000,
    });
    assert.equal(await randomLoad(m, 80, 50, 60), 3_000);
    assert.ok(connector.peak <= 40, `peak ${connector.peak}`);
    assert.equal(m.stats().timeouts, 0);
    await m.close();
  });

  it('discards broken connections and recovers from a failed connect', async () => {
    const { connector, manager: m } = manager({ maxConnections: 2 });
    const broken = await m.acquire(db('a'));
    assert.ok(connector.last);
    connector.last.broken = true; // e.g. the server terminated the backend
    broken.release();
    assert.equal(connector.total, 0, 'a broken connection is closed, not kept idle');
    const lease = await m.acquire(db('a'));
    assert.equal(connector.opened, 2);
    connector.failNext = true;
    await assert.rejects(m.acquire(db('b')), /connection refused/);
    assert.equal(m.stats().connections, 1, 'a failed connect gives its place back');
    lease.release();
    (await m.acquire(db('b'))).release();
    assert.ok(m.stats().connections <= 2);
    await m.close();
  });

  it('closeTenant refuses new work, waits for in-flight work, and closes its connections', async () => {
    const { connector, manager: m } = manager({ maxConnections: 4 });
    const inflight = await m.acquire(db('doomed'));
    const closing = m.closeTenant(db('doomed'));
    await assert.rejects(
      m.acquire(db('doomed')),
      (error: unknown) => error instanceof AppError && error.code === 'TENANT_NOT_FOUND',
    );
    setTimeout(() => inflight.release(), 20);
    await closing;
    assert.equal(connector.open.get('doomed'), 0);
    m.reopen(db('doomed'));
    (await m.acquire(db('doomed'))).release();
    await m.close();
  });

  it('closeTenant for a move answers its own error (503 + Retry-After) to a request arriving meanwhile, not 404', async () => {
    // A request that resolved the tenant before the move and asks for a connection after the switch, while the
    // old copy is being dropped: it must be told to retry (the new copy answers), not that the tenant is gone.
    const { manager: m } = manager({ maxConnections: 4 });
    const inflight = await m.acquire(db('moved'));
    const closing = m.closeTenant(db('moved'), undefined, movedAway);
    await assert.rejects(m.acquire(db('moved')), (error: unknown) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'SERVICE_UNAVAILABLE');
      assert.equal(error.headers['retry-after'], '1');
      return true;
    });
    inflight.release();
    await closing;
    await m.close();
  });

  it('reaps idle connections after the idle timeout', async () => {
    const connector = new CountingConnector();
    const m = new TenantConnectionManager(connector, { idleTimeoutMs: 1 });
    (await m.acquire(db('a'))).release();
    assert.equal(connector.total, 1);
    await pause(1_200); // the reaper runs at least every second
    assert.equal(connector.total, 0);
    assert.equal(m.stats().openTenants, 0);
    await m.close();
  });
});
