import { AppError } from '../../errors.js';
import type { DatabaseAddress, ServerAddress } from '../placement/placement.js';

/** The query surface Kysely's PostgresDialect needs from a connection (a `pg.Client` has it). */
export interface QueryClient {
  query(...args: unknown[]): Promise<unknown>;
}

/** One physical connection to one tenant database. */
export interface TenantConnection {
  readonly client: QueryClient;
  /** True once the connection has failed (server gone, backend terminated): it is closed, never reused. */
  readonly broken: boolean;
  close(): Promise<void>;
}

/** Opens physical connections; one implementation per engine (a PostgreSQL client, or a PGlite instance). */
export interface TenantConnector {
  connect(database: DatabaseAddress): Promise<TenantConnection>;
}

/** Hard limits. They hold whatever the number of tenants: connections are counted, not pools. */
export interface ConnectionBudget {
  /** Connections open to tenant databases, all tenants together (including ones being opened). */
  maxConnections: number;
  /** Connections open to any one tenant database. */
  maxPerTenant: number;
  /** Connections open to any one shared database (its tenants together). */
  maxPerSharedDatabase: number;
  /**
   * Connections open to any one tenant server, all its databases together (several servers: each has its own
   * `max_connections`). At most `maxConnections`, which still bounds them all together.
   */
  maxPerServer: number;
  /** Tenant databases with at least one open connection. */
  maxOpenTenants: number;
  /** An idle connection is closed after this long. */
  idleTimeoutMs: number;
  /** How long a request may wait for a connection before 503 with Retry-After. */
  acquireTimeoutMs: number;
  /** Most requests waiting at once, all tenants together; beyond it requests answer 503 at once. */
  maxWaiters: number;
}

export const DEFAULT_BUDGET: ConnectionBudget = {
  maxConnections: 40,
  maxPerTenant: 4,
  maxPerSharedDatabase: 10,
  maxPerServer: 40,
  maxOpenTenants: 40,
  idleTimeoutMs: 60_000,
  acquireTimeoutMs: 5_000,
  maxWaiters: 1_000,
};

/** A checked-out connection; `release()` exactly once. */
export interface ConnectionLease {
  readonly client: QueryClient;
  release(): void;
}

interface IdleConnection {
  connection: TenantConnection;
  idleSince: number;
}

interface Waiter {
  resolve(lease: ConnectionLease): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

/** Connections of one tenant database. */
interface TenantSlot {
  readonly address: DatabaseAddress;
  /** Most connections this database may hold (per tenant, or per shared database). */
  readonly max: number;
  idle: IdleConnection[];
  inUse: number;
  opening: number;
  waiters: Waiter[];
  lastUsed: number;
  /**
   * Set while the database is being dropped: no new connection may be handed out, and an acquisition gets this
   * error (404 for a deleted tenant; 503 + Retry-After for a moved one, whose request may retry on its new copy).
   */
  closing: (() => AppError) | null;
  /** Connections of this tenant still being closed (closeTenant waits for them before a drop). */
  closes: Set<Promise<void>>;
  /** Places in the budget being freed (a close in progress) on this tenant's behalf. */
  promised: number;
}

export interface ConnectionStats {
  openTenants: number;
  connections: number;
  inUse: number;
  idle: number;
  waiters: number;
  evictions: number;
  timeouts: number;
  opened: number;
}

function busyError(): AppError {
  return new AppError('SERVICE_UNAVAILABLE', 'Tenant database is busy, try again shortly', {
    headers: { 'retry-after': '1' },
  });
}

/**
 * Hands out connections to tenant databases under hard budgets: total connections, connections per tenant and
 * tenants open at once.
 *
 * Fair share, no thrash: a tenant's share is the budget divided by the tenants that hold or want connections
 * (at least 1, at most `maxPerTenant`). A tenant grows into free budget, or at the expense of a tenant above its
 * share; a tenant at its share waits for one of its own connections (typically well under a millisecond) instead
 * of closing a neighbour's warm one, because reconnecting costs milliseconds of server CPU. A tenant with no
 * connection at all is never left out: it takes an idle connection of a tenant above its share, or, when every
 * tenant is at its share (more tenants than budget), the least recently used idle one. So while the tenants fit
 * the budget, no warm connection is closed once the shares have settled. Waiters are served round-robin across
 * tenants (one busy tenant cannot starve the others) and past a deadline answer 503 with Retry-After. Idle
 * connections are reaped.
 *
 * @example
 * const lease = await manager.acquire(placement.address);
 * try { await lease.client.query('select 1'); } finally { lease.release(); }
 */
export class TenantConnectionManager {
  private readonly slots = new Map<string, TenantSlot>();
  /** Tenants with waiters, in the order they are served next (round-robin). */
  private readonly waitOrder = new Map<string, TenantSlot>();
  private readonly budget: ConnectionBudget;
  /** Connections open, being opened, or being closed: what the database may see. */
  private open = 0;
  /** `open` per tenant server. */
  private readonly serverOpen = new Map<ServerAddress, number>();
  private closing = 0;
  private waiting = 0;
  private evictions = 0;
  private timeouts = 0;
  private opened = 0;
  private closed = false;
  private readonly reaper: NodeJS.Timeout;

  constructor(
    private readonly connector: TenantConnector,
    budget: Partial<ConnectionBudget> = {},
  ) {
    // A budget without a per-server limit (a single server) is bounded by the total alone.
    this.budget = { ...DEFAULT_BUDGET, maxPerServer: Infinity, ...budget };
    if (this.budget.maxPerServer > this.budget.maxConnections)
      this.budget.maxPerServer = this.budget.maxConnections;
    if (this.budget.maxPerTenant > this.budget.maxConnections)
      this.budget.maxPerTenant = this.budget.maxConnections;
    if (this.budget.maxPerSharedDatabase > this.budget.maxConnections)
      this.budget.maxPerSharedDatabase = this.budget.maxConnections;
    this.reaper = setInterval(
      () => this.reapIdle(),
      Math.max(1_000, Math.min(this.budget.idleTimeoutMs / 2, 30_000)),
    );
    this.reaper.unref();
  }

  /** Checks out a connection to a tenant database, opening one if the budget allows, else waiting for one. */
  acquire(database: DatabaseAddress): Promise<ConnectionLease> {
    if (this.closed) return Promise.reject(new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down'));
    const slot = this.slot(database);
    if (slot.closing) return Promise.reject(slot.closing());
    slot.lastUsed = Date.now();

    for (let idle = slot.idle.pop(); idle; idle = slot.idle.pop()) {
      // Connections the server dropped while they sat idle (a restart, pg_terminate_backend) are closed, never
      // handed out: their first query would fail with "not queryable" instead of reaching the database.
      if (idle.connection.broken) {
        this.discard(slot, idle.connection);
        // Discarding may have forgotten an emptied slot: start again with a fresh one.
        if (slot.idle.length === 0) return this.acquire(database);
        continue;
      }
      slot.inUse++;
      return Promise.resolve(this.lease(slot, idle.connection));
    }
    if (this.canOpen(slot)) return this.openFor(slot);
    // The budget is full. A tenant below its fair share makes room by closing an idle connection of a tenant
    // above it (a tenant with none: of anyone, if need be), and is served when that close completes; a tenant at
    // its share waits for one of its own.
    const promise = this.enqueue(slot);
    if (slot.promised === 0 && this.count(slot) < this.shareOf(slot)) this.evictIdle(slot);
    return promise;
  }

  private slot(database: DatabaseAddress): TenantSlot {
    let slot = this.slots.get(database.key);
    if (!slot) {
      slot = {
        address: database,
        max: database.shared ? this.budget.maxPerSharedDatabase : this.budget.maxPerTenant,
        idle: [],
        inUse: 0,
        opening: 0,
        waiters: [],
        lastUsed: Date.now(),
        closing: null,
        closes: new Set(),
        promised: 0,
      };
      this.slots.set(database.key, slot);
    }
    return slot;
  }

  private count(slot: TenantSlot): number {
    return slot.idle.length + slot.inUse + slot.opening;
  }

  private openTenants(): number {
    let open = 0;
    for (const slot of this.slots.values()) if (this.count(slot) > 0) open++;
    return open;
  }

  /**
   * Connections each tenant may count on: the budget split evenly over the tenants that hold or want
   * connections, at least 1 and at most `maxPerTenant`.
   */
  fairShare(): number {
    return Math.min(this.budget.maxPerTenant, this.evenSplit());
  }

  /** The budget split evenly over the databases that hold or want connections (at least 1). */
  private evenSplit(): number {
    let demanding = 0;
    for (const slot of this.slots.values()) if (this.count(slot) > 0 || slot.waiters.length > 0) demanding++;
    return Math.max(1, Math.floor(this.budget.maxConnections / Math.max(1, demanding)));
  }

  /** The fair share of one database, capped by its own limit (a shared database serves many tenants). */
  private shareOf(slot: TenantSlot): number {
    return Math.min(slot.max, this.evenSplit());
  }

  private withinTenantLimit(slot: TenantSlot): boolean {
    return this.count(slot) < slot.max;
  }

  /** Connections open (or opening, or closing) to the server of `slot`. */
  private serverCount(slot: TenantSlot): number {
    return this.serverOpen.get(slot.address.server) ?? 0;
  }

  private countOpen(slot: TenantSlot, delta: 1 | -1): void {
    this.open += delta;
    const server = slot.address.server;
    const count = (this.serverOpen.get(server) ?? 0) + delta;
    if (count === 0) this.serverOpen.delete(server);
    else this.serverOpen.set(server, count);
  }

  /** Whether a place freed on `from`'s server can serve `to`: same server, or `to`'s server below its limit. */
  private placeServes(from: TenantSlot, to: TenantSlot): boolean {
    return from.address.server === to.address.server || this.serverCount(to) < this.budget.maxPerServer;
  }

  private canOpen(slot: TenantSlot): boolean {
    if (!this.withinTenantLimit(slot) || this.open >= this.budget.maxConnections) return false;
    if (this.serverCount(slot) >= this.budget.maxPerServer) return false;
    return this.count(slot) > 0 || this.openTenants() < this.budget.maxOpenTenants;
  }

  /**
   * Starts closing an idle connection of another tenant on behalf of `beneficiary`, which is served as soon as
   * the close completes; false if there is no victim. Victims are tenants above their fair share, least recently
   * used first; a beneficiary with no connection at all may also take the least recently used idle connection of
   * a tenant at its share (there are more tenants than budget). The closing connection keeps its place in the
   * budget until it is closed, so the database never sees more connections than the budget, not even for the
   * moment a backend takes to exit.
   */
  private evictIdle(beneficiary: TenantSlot): boolean {
    const cold = this.count(beneficiary) === 0;
    let victim: TenantSlot | undefined;
    let victimAbove = false;
    for (const slot of this.slots.values()) {
      if (slot === beneficiary || slot.idle.length === 0 || !this.placeServes(slot, beneficiary)) continue;
      const above = this.count(slot) > this.shareOf(slot);
      if (!above && !cold) continue;
      // Above-share victims first, then the least recently used.
      if (!victim || (above && !victimAbove) || (above === victimAbove && slot.lastUsed < victim.lastUsed)) {
        victim = slot;
        victimAbove = above;
      }
    }
    const idle = victim?.idle.shift();
    if (!victim || !idle) return false;
    this.evictions++;
    this.discard(victim, idle.connection, beneficiary);
    return true;
  }

  /** Whether any tenant holds more connections than its fair share (so a tenant below it can be made room for). */
  private anyAboveShare(): boolean {
    for (const slot of this.slots.values()) if (this.count(slot) > this.shareOf(slot)) return true;
    return false;
  }

  private async openFor(slot: TenantSlot): Promise<ConnectionLease> {
    // Counted before the await: the budget covers connections still being opened.
    this.countOpen(slot, 1);
    slot.opening++;
    let connection: TenantConnection;
    try {
      connection = await this.connector.connect(slot.address);
    } catch (error) {
      slot.opening--;
      this.countOpen(slot, -1);
      this.forgetIfEmpty(slot);
      this.dispatch();
      throw error;
    }
    slot.opening--;
    this.opened++;
    if (slot.closing || this.closed) {
      this.discard(slot, connection);
      throw slot.closing ? slot.closing() : new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down');
    }
    slot.inUse++;
    return this.lease(slot, connection);
  }

  private lease(slot: TenantSlot, connection: TenantConnection): ConnectionLease {
    let released = false;
    return {
      client: connection.client,
      release: () => {
        if (released) return;
        released = true;
        this.release(slot, connection);
      },
    };
  }

  private release(slot: TenantSlot, connection: TenantConnection): void {
    slot.inUse--;
    slot.lastUsed = Date.now();
    if (connection.broken || slot.closing || this.closed) {
      this.discard(slot, connection);
      this.dispatch();
      return;
    }
    if (this.waiting === 0) {
      slot.idle.push({ connection, idleSince: Date.now() });
      return;
    }
    // Counted with this connection, which is still open.
    const above = this.count(slot) + 1 > this.shareOf(slot);
    // A waiting tenant with no connection at all comes first (no tenant starves behind busy ones): this
    // connection's place goes to it when this tenant is above its share, or when no tenant is (more tenants than
    // budget). Then this tenant's own waiters get the connection as is (no reconnect). Then, if this tenant is
    // above its share, a waiting tenant below it gets the place, round-robin.
    const starving = this.starvingTenant(slot);
    if (starving && (above || !this.anyAboveShare())) {
      this.discard(slot, connection, starving);
      return;
    }
    const waiter = this.nextWaiterOf(slot);
    if (waiter) {
      slot.inUse++;
      waiter.resolve(this.lease(slot, connection));
      return;
    }
    if (above) {
      for (const next of this.waitOrder.values()) {
        if (
          next !== slot &&
          this.count(next) < this.shareOf(next) &&
          next.promised === 0 &&
          this.placeServes(slot, next)
        ) {
          this.discard(slot, connection, next);
          return;
        }
      }
    }
    slot.idle.push({ connection, idleSince: Date.now() });
  }

  /** The first tenant in round-robin order that waits with no connection and no place promised to it. */
  private starvingTenant(except: TenantSlot): TenantSlot | undefined {
    for (const next of this.waitOrder.values()) {
      if (next !== except && this.count(next) === 0 && next.promised === 0 && this.placeServes(except, next))
        return next;
    }
    return undefined;
  }

  /**
   * Closes a connection already taken out of its slot. It keeps its place in the budget until it is closed;
   * then that place goes to `beneficiary` (if it still waits), and the rest of the waiters are dispatched.
   */
  private discard(slot: TenantSlot, connection: TenantConnection, beneficiary?: TenantSlot): void {
    this.closing++;
    if (beneficiary) beneficiary.promised++;
    this.forgetIfEmpty(slot);
    const closed = connection
      .close()
      .catch(() => undefined)
      .finally(() => {
        this.closing--;
        this.countOpen(slot, -1);
        slot.closes.delete(closed);
        if (beneficiary) {
          beneficiary.promised--;
          if (beneficiary.waiters.length > 0 && this.canOpen(beneficiary)) this.serveOne(beneficiary);
        }
        this.dispatch();
      });
    slot.closes.add(closed);
  }

  private forgetIfEmpty(slot: TenantSlot): void {
    if (this.count(slot) === 0 && slot.waiters.length === 0 && !slot.closing)
      this.slots.delete(slot.address.key);
  }

  private enqueue(slot: TenantSlot): Promise<ConnectionLease> {
    if (this.waiting >= this.budget.maxWaiters) {
      this.timeouts++;
      return Promise.reject(busyError());
    }
    return new Promise<ConnectionLease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const index = slot.waiters.indexOf(waiter);
          if (index === -1) return;
          slot.waiters.splice(index, 1);
          this.waiting--;
          if (slot.waiters.length === 0) this.waitOrder.delete(slot.address.key);
          this.timeouts++;
          this.forgetIfEmpty(slot);
          reject(busyError());
        }, this.budget.acquireTimeoutMs),
      };
      slot.waiters.push(waiter);
      this.waiting++;
      if (!this.waitOrder.has(slot.address.key)) this.waitOrder.set(slot.address.key, slot);
    });
  }

  private nextWaiterOf(slot: TenantSlot): Waiter | undefined {
    const waiter = slot.waiters.shift();
    if (!waiter) return undefined;
    clearTimeout(waiter.timer);
    this.waiting--;
    // Served: move this tenant to the back of the round-robin order.
    this.waitOrder.delete(slot.address.key);
    if (slot.waiters.length > 0) this.waitOrder.set(slot.address.key, slot);
    return waiter;
  }

  /** Opens a connection for the next waiter of `slot` (the caller checked the budget allows it). */
  private serveOne(slot: TenantSlot): void {
    const waiter = this.nextWaiterOf(slot);
    if (!waiter) return;
    this.openFor(slot).then(
      (lease) => waiter.resolve(lease),
      (error: unknown) => waiter.reject(error),
    );
  }

  /**
   * Opens connections for waiting tenants, round-robin, while the budget allows; a waiting tenant below its fair
   * share (and with no place on its way) has an idle connection of a tenant above it closed for it.
   */
  private dispatch(): void {
    let progressed = true;
    while (progressed && this.waiting > 0) {
      progressed = false;
      for (const slot of [...this.waitOrder.values()]) {
        if (slot.waiters.length === 0) continue;
        if (this.canOpen(slot)) {
          this.serveOne(slot);
          progressed = true;
          break;
        }
        if (slot.promised === 0 && this.count(slot) < this.shareOf(slot)) this.evictIdle(slot);
      }
    }
  }

  private reapIdle(): void {
    const cutoff = Date.now() - this.budget.idleTimeoutMs;
    for (const slot of [...this.slots.values()]) {
      const keep = slot.idle.filter((idle) => idle.idleSince > cutoff);
      const expired = slot.idle.filter((idle) => idle.idleSince <= cutoff);
      slot.idle = keep;
      for (const idle of expired) this.discard(slot, idle.connection);
      this.forgetIfEmpty(slot);
    }
  }

  /**
   * Refuses new connections to a tenant database, waits (up to `timeoutMs`) for the ones in use to come back,
   * and closes them all: done before the database is dropped. `reopen` lifts the refusal (a failed drop).
   */
  async closeTenant(
    database: DatabaseAddress,
    timeoutMs = 10_000,
    /** What requests waiting for, or asking for, a connection meanwhile get: 404 for a deleted tenant, 503 for a moved one. */
    waiterError: () => AppError = () => new AppError('TENANT_NOT_FOUND'),
  ): Promise<void> {
    const slot = this.slots.get(database.key);
    if (!slot) return;
    slot.closing = waiterError;
    for (const waiter of slot.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      this.waiting--;
      waiter.reject(waiterError());
    }
    this.waitOrder.delete(database.key);
    for (const idle of slot.idle.splice(0)) this.discard(slot, idle.connection);
    const deadline = Date.now() + timeoutMs;
    while ((slot.inUse > 0 || slot.opening > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(slot.closes);
    this.dispatch();
  }

  /** Lets a tenant database be used again after closeTenant (for example when its drop failed). */
  reopen(database: DatabaseAddress): void {
    const slot = this.slots.get(database.key);
    if (!slot) return;
    slot.closing = null;
    this.forgetIfEmpty(slot);
  }

  /** Connections open (or being opened or closed) per tenant server, for `servers list` and metrics. */
  serverConnections(): Map<ServerAddress, number> {
    return new Map(this.serverOpen);
  }

  stats(): ConnectionStats {
    let inUse = 0;
    let idle = 0;
    for (const slot of this.slots.values()) {
      inUse += slot.inUse;
      idle += slot.idle.length;
    }
    return {
      openTenants: this.openTenants(),
      connections: this.open,
      inUse,
      idle,
      waiters: this.waiting,
      evictions: this.evictions,
      timeouts: this.timeouts,
      opened: this.opened,
    };
  }

  /** Closes every idle connection now and the others as they are released; new acquisitions are refused. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    for (const slot of this.slots.values()) {
      for (const waiter of slot.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(new AppError('SERVICE_UNAVAILABLE', 'Server is shutting down'));
      }
      for (const idle of slot.idle.splice(0)) this.discard(slot, idle.connection);
    }
    this.waiting = 0;
    this.waitOrder.clear();
    const deadline = Date.now() + timeoutMs;
    while (this.open > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
