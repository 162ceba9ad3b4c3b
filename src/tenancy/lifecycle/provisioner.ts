import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { Organization, OrganizationUpdate } from '../../db/core-schema.js';
import type { TenantDatabase } from '../../db/tenant-schema.js';
import { AppError } from '../../errors.js';
import { Listeners } from '../../events/listeners.js';
import type {
  OrganizationsRepository,
  StorageOwner,
} from '../../modules/organizations/organizations.repository.js';
import {
  databaseAddress,
  placementColumns,
  placementFromRow,
  sharedPlacement,
  type ServerAddress,
  type TenantPlacement,
} from '../placement/placement.js';
import type { TenantStorage } from '../placement/tenant-storage.js';
import { pickServer } from '../servers/placement-policy.js';
import type { ServerRegistry } from '../servers/server-registry.js';
import type { TenantStore } from '../stores/tenant-store.js';

/** Provisioning steps, in order, as recorded in organizations.provisioning_step once completed. */
export const PROVISIONING_STEPS = ['named', 'database_created', 'owner_added'] as const;
export type ProvisioningStep = (typeof PROVISIONING_STEPS)[number];

/** The environment variable of the crash-injection test hook. */
export const FAIL_AFTER_STEP_ENV = 'TENANTRY_FAIL_AFTER_STEP';

/** Thrown by the crash-injection hook right after a step is recorded, as if the process had died there. */
export class SimulatedCrashError extends Error {
  constructor(readonly step: ProvisioningStep) {
    super(`Simulated crash after provisioning step "${step}" (${FAIL_AFTER_STEP_ENV})`);
    this.name = 'SimulatedCrashError';
  }
}

/** What `reconcile()` did. */
export interface ReconcileReport {
  /** Organizations stuck in `provisioning` that are now `active`. */
  completed: number[];
  /** Organizations stuck in `provisioning` that could not be completed and are now `failed`. */
  failed: number[];
  /** Organizations stuck in `deleting` that are now `deleted`. */
  deleted: number[];
  /**
   * Databases, and shared tenants' schemas (`<database>/<schema>`), dropped because no live organization owns
   * them (unknown, deleted or failed organizations).
   */
  orphansDropped: string[];
  /** Moves stopped before their switch, rolled back (the tenant is where it was). */
  movesRolledBack: number[];
  /** Moves stopped after their switch, finished (the old copy dropped). */
  movesFinished: number[];
}

/** One `provision()` call, settled: what observers (the metrics) hear of it. */
export interface ProvisioningRun {
  orgId: number;
  outcome: 'success' | 'failure';
  /** From the call to its settling (a call joining a run already in flight waits for that run). */
  seconds: number;
}

/** Settles moves left half-done (tenant-mover.ts), before orphans are looked for. */
export interface MoveSettler {
  settle(graceMs: number): Promise<{ rolledBack: number[]; finished: number[] }>;
}

/** The owner's core account (the core users repository). */
export interface CoreOwnerReader {
  findById(id: number): Promise<{ id: number; email: string } | undefined>;
}

/** Writes the owner's row into a new tenant (the tenant users repository). */
export interface TenantOwnerWriter {
  insertOwner(db: Kysely<TenantDatabase>, owner: { email: string; coreUserId: number }): Promise<void>;
}

export interface ProvisionerDeps {
  organizations: OrganizationsRepository;
  storage: TenantStorage;
  coreUsers: CoreOwnerReader;
  tenantUsers: TenantOwnerWriter;
  log: FastifyBaseLogger;
  /**
   * The registered tenant servers new organizations are spread over (tenancy/servers/placement-policy.ts);
   * without it, every organization goes to the storage's own server.
   */
  servers?: ServerRegistry;
  /** Settles half-done moves in reconcile (the tenant mover); none without it. */
  moves?: MoveSettler;
  /** Test hook: throw a SimulatedCrashError right after recording this step. Defaults to $TENANTRY_FAIL_AFTER_STEP. */
  failAfterStep?: string;
}

export interface ReconcileOptions {
  /**
   * Only touch organizations whose row has not changed for this long (default 0: all). Every step updates
   * the row, so a grace period keeps a reconcile run from another process (the CLI, a second server) off
   * provisionings that are still progressing.
   */
  graceMs?: number;
}

/** Statuses whose tenant database must be kept. */
const LIVE_STATUSES = ['provisioning', 'active', 'suspended', 'deleting'] as const;
const MAX_ERROR_LENGTH = 2_000;

function stepIndex(step: string | null): number {
  return PROVISIONING_STEPS.indexOf(step as ProvisioningStep);
}

/** A 503 like every other: the failed organization is kept (delete it and create again) and may be retried. */
function provisioningFailed(cause: unknown): AppError {
  return new AppError('PROVISIONING_FAILED', undefined, { cause, headers: { 'retry-after': '5' } });
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}

/**
 * Provisions and deprovisions tenant databases as a state machine recorded in the core database, so that
 * a crash at any point can be finished or rolled back by `reconcile()`.
 *
 * provision: `named` (the placement recorded, before anything exists) → `database_created` (a dedicated
 * database copied from the template, or a shared tenant's role and migrated schema) → `owner_added` (the owner as
 * a tenant user, role owner) → status `active`. A failure drops what was made and leaves the organization
 * `failed` with `provisioning_error`; calling `provision()` again retries from a clean slate.
 *
 * @example
 * const provisioner = new Provisioner({ organizations, storage, coreUsers, tenantUsers, log });
 * const org = await provisioner.provision(orgId); // throws AppError('PROVISIONING_FAILED') on failure
 */
export class Provisioner {
  private readonly orgs: OrganizationsRepository;
  private readonly storage: TenantStorage;
  private readonly coreUsers: CoreOwnerReader;
  private readonly tenantUsers: TenantOwnerWriter;
  private readonly log: FastifyBaseLogger;
  private readonly servers: ServerRegistry | undefined;
  private readonly failAfterStep: ProvisioningStep | undefined;
  private readonly moves: MoveSettler | undefined;
  /** Provisionings running in this process, so concurrent calls for one organization share one run. */
  private readonly running = new Map<number, Promise<Organization>>();
  /** Every settled `provision()` call, for observers (src/http/plugins/metrics.ts times them). */
  readonly runs = new Listeners<ProvisioningRun>();

  constructor(deps: ProvisionerDeps) {
    this.orgs = deps.organizations;
    this.storage = deps.storage;
    this.coreUsers = deps.coreUsers;
    this.tenantUsers = deps.tenantUsers;
    this.log = deps.log;
    this.servers = deps.servers;
    this.moves = deps.moves;
    const hook = deps.failAfterStep ?? (process.env[FAIL_AFTER_STEP_ENV] || undefined);
    if (hook !== undefined && stepIndex(hook) < 0) {
      throw new Error(
        `${FAIL_AFTER_STEP_ENV} must be one of ${PROVISIONING_STEPS.join(', ')} (got "${hook}")`,
      );
    }
    this.failAfterStep = hook as ProvisioningStep | undefined;
  }

  /**
   * Runs the remaining steps for an organization row already inserted with status 'provisioning' (or
   * 'failed' for a retry), then marks it active. Returns the updated row. Idempotent: safe to call again
   * after a crash at any step; an active (or suspended) organization is returned unchanged.
   *
   * @throws AppError TENANT_NOT_FOUND (no such row), CONFLICT (deleting/deleted, or it changed status
   * meanwhile), PROVISIONING_FAILED (the organization is now `failed`; the cause is attached and recorded).
   */
  async provision(orgId: number): Promise<Organization> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const organization = await this.joinOrStart(orgId);
      this.runs.emit({ orgId, outcome: 'success', seconds: seconds() });
      return organization;
    } catch (error) {
      this.runs.emit({ orgId, outcome: 'failure', seconds: seconds() });
      throw error;
    }
  }

  private joinOrStart(orgId: number): Promise<Organization> {
    const inFlight = this.running.get(orgId);
    if (inFlight) return inFlight;
    const run = this.runProvision(orgId).finally(() => this.running.delete(orgId));
    this.running.set(orgId, run);
    return run;
  }

  /**
   * status → 'deleting', drop the tenant's storage, status → 'deleted' + deleted_at. Idempotent. Callers
   * close their connections to it first via `onBeforeDrop` (the store also closes the handles it opened).
   */
  async deprovision(
    orgId: number,
    onBeforeDrop?: (placement: TenantPlacement) => Promise<void>,
  ): Promise<void> {
    await this.running.get(orgId)?.catch(() => undefined);
    const org = await this.load(orgId);
    if (org.status === 'deleted') return;
    await this.orgs.markDeleting(orgId);
    // Nothing exists before a placement is recorded (`named`), so a row without one has nothing to drop.
    const placement = this.placementOf(org);
    if (placement) {
      await onBeforeDrop?.(placement);
      await this.storage.drop(placement, orgId);
    }
    await this.orgs.markDeleted(orgId);
    this.log.info({ orgId, placement: placement?.key }, 'tenant deprovisioned');
  }

  /**
   * Finishes or rolls back every organization stuck in 'provisioning' or 'deleting', and drops databases
   * the core does not know about (or that belong to deleted or failed organizations). Run at start-up
   * and by a CLI command.
   *
   * - `provisioning`, any step: the remaining steps are run (all idempotent) → `active`; if that fails the
   *   database is dropped and the organization becomes `failed` (retry with `provision()`).
   * - `deleting`: the drop is finished → `deleted`.
   * - `failed` with a database left over (the drop after the failure did not happen): dropped, step back
   *   to `named`, so a retry starts clean.
   * - a database no live organization names (unknown id, `deleted`, `failed`): dropped.
   * - a move left half-done (with `moves`): rolled back before its switch, finished after it.
   */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      completed: [],
      failed: [],
      deleted: [],
      orphansDropped: [],
      movesRolledBack: [],
      movesFinished: [],
    };
    const graceMs = options.graceMs ?? 0;
    // First: a half-done move holds two copies, and settling it leaves exactly one.
    if (this.moves) {
      const settled = await this.moves.settle(graceMs);
      report.movesRolledBack = settled.rolledBack;
      report.movesFinished = settled.finished;
    }
    const stuck = await this.orgs.listStuck(graceMs);
    for (const { id, status } of stuck) {
      if (status === 'deleting') {
        try {
          await this.deprovision(id);
          report.deleted.push(id);
        } catch (error) {
          this.log.error({ err: error, orgId: id }, 'could not finish deleting a tenant; will retry');
        }
        continue;
      }
      try {
        await this.provision(id);
        report.completed.push(id);
      } catch (error) {
        if (error instanceof SimulatedCrashError) throw error;
        if (error instanceof AppError && error.code === 'PROVISIONING_FAILED') report.failed.push(id);
        else this.log.error({ err: error, orgId: id }, 'could not reconcile a provisioning tenant');
      }
    }
    report.orphansDropped = await this.dropOrphans(graceMs);
    this.log.info(report, 'tenants reconciled');
    return report;
  }

  private async runProvision(orgId: number): Promise<Organization> {
    let org = await this.load(orgId);
    if (org.status === 'active' || org.status === 'suspended') return org;
    if (org.status === 'failed') {
      try {
        org = await this.restart(org);
      } catch (error) {
        // Still `failed`, as before the retry.
        if (error instanceof AppError) throw error;
        throw provisioningFailed(error);
      }
    } else if (org.status !== 'provisioning') {
      throw new AppError('CONFLICT', `Organization ${orgId} is ${org.status}`);
    }
    try {
      return await this.runSteps(org);
    } catch (error) {
      if (error instanceof SimulatedCrashError) throw error;
      if (error instanceof AppError && error.code === 'CONFLICT') throw error;
      await this.fail(orgId, error);
      throw provisioningFailed(error);
    }
  }

  private async runSteps(initial: Organization): Promise<Organization> {
    let org = initial;
    const existing = this.placementOf(org);
    const done = existing === null ? -1 : stepIndex(org.provisioning_step);
    // Placed before anything exists, so every tenant database or schema has a core row naming it (orphans).
    if (existing === null) org = await this.name(org);
    const placement = this.placementOf(org) as TenantPlacement;
    let created: string | null = null;
    if (done < 1) {
      created = await this.storage.create(placement, org.id);
      org = await this.record(org.id, 'database_created');
    }
    let version: string;
    if (done < 2) {
      version = await this.addOwner(org, placement, created);
      org = await this.record(org.id, 'owner_added');
    } else {
      ({ version } = await this.storage.migrate(placement, org.id));
    }
    const active = await this.orgs.activate(org.id, version);
    if (!active) throw await this.conflict(org.id);
    this.log.info({ orgId: org.id, placement: placement.key }, 'tenant provisioned');
    return active;
  }

  /**
   * Step `named`: chooses the server (the placement policy over the registered servers) and the placement (of the
   * kind the row asks for) and records them in one transaction.
   */
  private async name(org: Organization): Promise<Organization> {
    const fallback = this.storage.store.server;
    // Read before the transaction: servers change rarely, and a drain racing a placement may lose by one tenant.
    const servers = this.servers ? await this.servers.list() : null;
    const named = await this.orgs.recordPlacement(
      org.id,
      (tenants) => (servers ? pickServer(servers, tenants, fallback).address : fallback),
      (sharedTenants, server) =>
        placementColumns(this.storage.place(org.id, org.placement_kind, sharedTenants, server)),
    );
    if (!named) throw await this.conflict(org.id);
    if (this.failAfterStep === 'named') throw new SimulatedCrashError('named');
    return named;
  }

  private placementOf(org: Organization): TenantPlacement | null {
    return placementFromRow(org, this.storage.store.server);
  }

  /** Records a completed step (only while still provisioning), then fires the crash hook if armed. */
  private async record(
    orgId: number,
    step: ProvisioningStep,
    extra: OrganizationUpdate = {},
  ): Promise<Organization> {
    const org = await this.orgs.recordStep(orgId, step, extra);
    if (!org) throw await this.conflict(orgId);
    if (this.failAfterStep === step) throw new SimulatedCrashError(step);
    return org;
  }

  /**
   * Ensures the tenant schema is current (unless `created` says it was just migrated to that version) and the
   * owner is a tenant user (role owner, no password), on one handle.
   */
  private async addOwner(
    org: Organization,
    placement: TenantPlacement,
    created: string | null,
  ): Promise<string> {
    const owner = await this.coreUsers.findById(org.owner_id);
    if (!owner) throw new Error(`The owner ${org.owner_id} of organization ${org.id} does not exist`);
    return this.storage.withTenant(placement, async (db) => {
      const version = created ?? (await this.storage.migrateOpen(placement, org.id, db));
      await this.tenantUsers.insertOwner(db, { email: owner.email, coreUserId: owner.id });
      return version;
    });
  }

  /** A failed organization being retried: drop whatever is left, then provisioning from `named`. */
  private async restart(org: Organization): Promise<Organization> {
    const placement = this.placementOf(org);
    if (placement) await this.storage.drop(placement, org.id);
    const restarted = await this.orgs.retry(org.id, placement ? 'named' : null);
    if (!restarted) throw await this.conflict(org.id);
    return restarted;
  }

  /**
   * Rolls a failed provisioning back: drops the database (best effort) and marks the organization
   * `failed`. If the drop fails the step stays, and reconcile() drops the database later.
   */
  private async fail(orgId: number, error: unknown): Promise<void> {
    this.log.error({ err: error, orgId }, 'tenant provisioning failed');
    let message = errorText(error);
    try {
      const org = await this.load(orgId);
      let step = org.provisioning_step;
      const placement = this.placementOf(org);
      if (placement) {
        try {
          await this.storage.drop(placement, orgId);
          step = 'named';
        } catch (dropError) {
          message = `${message}; rollback failed: ${errorText(dropError)}`.slice(0, MAX_ERROR_LENGTH);
        }
      }
      await this.orgs.markFailed(orgId, message, step);
    } catch (recordError) {
      // The core itself is failing: the row stays `provisioning` and reconcile() settles it later.
      this.log.error({ err: recordError, orgId }, 'could not record the provisioning failure');
    }
  }

  /**
   * Drops dedicated databases and shared tenants' schemas that no live organization names, on every server;
   * returns them. An added server that cannot be reached is logged and skipped (the next reconcile sweeps it);
   * the configured server failing fails the reconcile, as with a single server.
   */
  private async dropOrphans(graceMs: number): Promise<string[]> {
    const dropped: string[] = [];
    for (const store of await this.storage.stores.all()) {
      try {
        dropped.push(...(await this.dropOrphanDatabases(store, graceMs)));
        for (const database of await store.listSharedDatabases()) {
          dropped.push(...(await this.dropOrphanSchemas(store.server, database, graceMs)));
        }
      } catch (error) {
        if (store === this.storage.store) throw error;
        this.log.error({ err: error, server: store.server }, 'could not sweep a tenant server for orphans');
      }
    }
    return dropped;
  }

  /**
   * Drops dedicated tenant databases of one server that no live organization names. The databases are listed
   * before the rows are read: a database is always named in the core before it is created, so one that appears
   * meanwhile is not in the list, and one in the list has its row visible. A database a live organization names
   * is kept whichever server its row records: a copy on another server is a move in progress (or its leftover),
   * which the move's own recorded state settles; dropping it here could race the move.
   */
  private async dropOrphanDatabases(store: TenantStore, graceMs: number): Promise<string[]> {
    const existing = await store.list();
    if (existing.length === 0) return [];
    const rows = await this.orgs.ownersOfDatabases(existing, graceMs);
    const keep = this.liveRows(rows, (row) => row.tenant_db_name);
    for (const row of rows) {
      if (row.move_step !== null && row.move_placement_kind === 'dedicated' && row.move_db_name)
        keep.add(row.move_db_name);
    }
    const dropped: string[] = [];
    for (const name of existing) {
      if (keep.has(name)) continue;
      try {
        await store.drop(name);
        dropped.push(name);
        this.log.warn(
          { database: name, server: store.server },
          'dropped a tenant database no live organization owns',
        );
      } catch (error) {
        this.log.error({ err: error, database: name }, 'could not drop an orphan tenant database');
      }
    }
    await this.restartFailed(rows.filter((row) => dropped.includes(row.tenant_db_name ?? '')));
    return dropped;
  }

  /**
   * Drops shared tenants' schemas (and roles) in one shared database that no live organization places there;
   * listed before the rows are read, as for databases. Then the tenant roles left without a live tenant.
   */
  private async dropOrphanSchemas(
    server: ServerAddress,
    database: string,
    graceMs: number,
  ): Promise<string[]> {
    const schemas = this.storage.schemas;
    const address = databaseAddress(server, database, true);
    const existing = await schemas.listSchemas(address);
    const roles = await schemas.listRoles(address);
    const ids = [...new Set([...existing.map((s) => s.orgId), ...roles.map((r) => r.orgId)])];
    if (ids.length === 0) return [];
    const rows = await this.orgs.sharedOwners(ids, server, graceMs);
    const keep = this.liveRows(rows, (row) => `${row.tenant_db_name}/${row.tenant_schema}`);
    // A move in progress keeps both copies until it is settled (tenant-mover.ts).
    for (const row of rows) {
      if (row.move_step !== null && row.move_placement_kind === 'shared')
        keep.add(`${row.move_db_name}/${row.move_schema}`);
    }
    const liveIds = new Set(
      rows
        .filter((row) => row.move_step !== null || keep.has(`${row.tenant_db_name}/${row.tenant_schema}`))
        .map((r) => r.id),
    );
    const dropped: string[] = [];
    for (const { orgId, schema } of existing) {
      if (keep.has(`${database}/${schema}`)) continue;
      const placement = sharedPlacement(server, database, schema);
      try {
        await schemas.drop(placement, orgId);
        dropped.push(`${database}/${schema}`);
        this.log.warn({ database, schema }, 'dropped a shared tenant schema no live organization owns');
      } catch (error) {
        this.log.error({ err: error, database, schema }, 'could not drop an orphan tenant schema');
      }
    }
    // Roles of no live tenant (their schema is gone): ones still owning objects elsewhere are dropped with those.
    for (const { orgId, role } of roles) {
      if (!liveIds.has(orgId) && (await schemas.dropRole(address, role))) {
        this.log.warn({ role }, 'dropped a tenant role no live organization owns');
      }
    }
    await this.restartFailed(
      rows.filter((row) => dropped.includes(`${row.tenant_db_name}/${row.tenant_schema}`)),
    );
    return dropped;
  }

  /** The storage keys (by `keyOf`) of rows that are live, or busy in this process, or changed within the grace. */
  private liveRows(rows: StorageOwner[], keyOf: (row: StorageOwner) => string | null): Set<string> {
    const keep = new Set<string>();
    for (const row of rows) {
      const key = keyOf(row);
      const busy = this.running.has(row.id) || row.recent;
      if (key && (busy || (LIVE_STATUSES as readonly string[]).includes(row.status))) keep.add(key);
    }
    return keep;
  }

  /** Failed organizations whose storage was just dropped: retries start from `named`. */
  private async restartFailed(rows: StorageOwner[]): Promise<void> {
    await this.orgs.resetFailedToNamed(rows.filter((row) => row.status === 'failed').map((row) => row.id));
  }

  private async load(orgId: number): Promise<Organization> {
    const org = await this.orgs.findById(orgId);
    if (!org) throw new AppError('TENANT_NOT_FOUND', `Organization ${orgId} not found`);
    return org;
  }

  private async conflict(orgId: number): Promise<AppError> {
    const org = await this.load(orgId);
    return new AppError('CONFLICT', `Organization ${orgId} is ${org.status}, no longer provisioning`);
  }
}
