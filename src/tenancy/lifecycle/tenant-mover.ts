import type { FastifyBaseLogger } from 'fastify';
import type { MoveStep, Organization, PlacementKind } from '../../db/core-schema.js';
import { AppError } from '../../errors.js';
import type {
  MoveColumns,
  OrganizationsRepository,
} from '../../modules/organizations/organizations.repository.js';
import {
  dedicatedPlacement,
  parseServerAddress,
  placementColumns,
  placementFromRow,
  sharedPlacement,
  type TenantPlacement,
} from '../placement/placement.js';
import { SYSTEM_SOURCE } from '../../modules/audit/audit-event.js';
import type { AuditRecorder } from '../../modules/audit/audit-recorder.js';
import type { ServerDirectory } from '../servers/server-directory.js';
import type { TenantStorage } from '../placement/tenant-storage.js';
import { forgetBindings } from '../connections/schema-binding.js';
import { seal, unseal } from './move-fence.js';
import { copyTenantData } from './tenant-copy.js';

/** Move steps, in order, as recorded in organizations.move_step once done. */
export const MOVE_STEPS = ['frozen', 'sealed', 'copied', 'switched'] as const satisfies readonly MoveStep[];

/** The environment variable of the crash-injection test hook: the step after which a move "dies". */
export const MOVE_CRASH_ENV = 'TENANTRY_MOVE_CRASH_AFTER';

/** Thrown by the crash-injection hook right after a step is recorded, as if the process had died there. */
export class SimulatedMoveCrash extends Error {
  constructor(readonly step: MoveStep) {
    super(`Simulated crash after move step "${step}" (${MOVE_CRASH_ENV})`);
    this.name = 'SimulatedMoveCrash';
  }
}

/** A move that cannot be done as asked (the CLI's usage errors). */
export class MoveRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MoveRefusedError';
  }
}

/** Where to move: another kind, another server, or both (unnamed: as it is now). */
export interface MoveRequest {
  kind?: PlacementKind;
  /** A tenant server name (see placement/tenant-servers.ts); `default` for the zero-configuration one. */
  server?: string;
}

export interface MoveResult {
  id: number;
  from: string;
  to: string;
  rows: number;
  /** Milliseconds the tenant answered 503 (from the freeze to the switch), in this run. */
  unavailableMs: number;
}

/** What reconcile did about moves left half-done. */
export interface SettledMoves {
  /** Moves stopped before the switch: the target dropped, the old copy unsealed and live again. */
  rolledBack: number[];
  /** Moves stopped after the switch: the old copy dropped. */
  finished: number[];
}

export interface TenantMoverDeps {
  organizations: OrganizationsRepository;
  servers: ServerDirectory;
  log: FastifyBaseLogger;
  /** Tells every process the organization changed (the invalidation bus). */
  invalidate(orgId: number, slug?: string): void;
  /** Before a copy is dropped: this process forgets its handles on it (the gateway's close). */
  beforeDrop?: (orgId: number, placement: TenantPlacement) => Promise<void>;
  /** Records `organization.moved` in the transaction of the switch (none without it). */
  audit?: AuditRecorder;
  /** Test hook: throw SimulatedMoveCrash right after recording this step. Defaults to $TENANTRY_MOVE_CRASH_AFTER. */
  crashAfter?: string;
}

function moveColumns(placement: TenantPlacement): MoveColumns {
  return {
    move_placement_kind: placement.kind,
    move_server: placement.address.server,
    move_db_name: placement.address.database,
    move_schema: placement.schema,
  };
}

/** The copy that is not live of a moving organization. */
function otherCopy(org: Organization): TenantPlacement {
  if (org.move_placement_kind === null || org.move_db_name === null || org.move_server === null)
    throw new TypeError(`Organization ${org.id} records no move`);
  const server = parseServerAddress(org.move_server);
  if (org.move_placement_kind === 'dedicated') return dedicatedPlacement(server, org.move_db_name);
  if (org.move_schema === null) throw new TypeError('A shared move copy without a schema');
  return sharedPlacement(server, org.move_db_name, org.move_schema);
}

/** How often a running move touches its row (well under reconcile's grace period of 30 s). */
const HEARTBEAT_MS = 5_000;

function stepIndex(step: MoveStep | null): number {
  return step === null ? -1 : MOVE_STEPS.indexOf(step);
}

/**
 * Moves a tenant to another placement kind (dedicated ↔ shared) or tenant server, as a state machine recorded on
 * its core row so that a crash at any step is rolled back or finished (`settle`, run by reconcile) or resumed:
 *
 * 1. `frozen`: the target is named on the row (`move_*`); every process answers 503 + Retry-After for the tenant
 *    (the resolver reads the step, the invalidation bus tells the other processes at once).
 * 2. `sealed`: the live copy refuses writes (move-fence.ts), after waiting for the writes in flight; a request
 *    that resolved the tenant before the freeze cannot write any more.
 * 3. `copied`: the target is created at the same schema version and every row and sequence copied into it.
 * 4. `switched`: one UPDATE makes the target the tenant's placement and names the old copy in `move_*`; the
 *    tenant answers again, from the target.
 * 5. the old copy is dropped and the move state cleared.
 *
 * `move_*` always names the copy that is not live, so settling a crashed move is dropping that copy: before the
 * switch that is the target (the old copy, sealed since, holds every acknowledged write: it is unsealed),
 * after it the old copy. Either way exactly one copy is left and it answers.
 *
 * @example
 * const result = await mover.move(org.id, { kind: 'dedicated' });
 */
export class TenantMover {
  private readonly crashAfter: MoveStep | undefined;
  /** Organizations this process is moving right now: settle leaves them alone. */
  private readonly running = new Set<number>();

  constructor(private readonly deps: TenantMoverDeps) {
    const hook = deps.crashAfter ?? (process.env[MOVE_CRASH_ENV] || undefined);
    if (hook !== undefined && !(MOVE_STEPS as readonly string[]).includes(hook)) {
      throw new Error(`${MOVE_CRASH_ENV} must be one of ${MOVE_STEPS.join(', ')} (got "${hook}")`);
    }
    this.crashAfter = hook as MoveStep | undefined;
  }

  /** Moves an active organization; throws MoveRefusedError when it is where asked already, or moving. */
  async move(orgId: number, request: MoveRequest): Promise<MoveResult> {
    const org = await this.load(orgId);
    if (org.status !== 'active')
      throw new MoveRefusedError(`Organization ${orgId} is ${org.status}; only active ones move`);
    if (org.move_step !== null)
      throw new MoveRefusedError(
        `Organization ${orgId} is being moved (step ${org.move_step}): finish it with --resume`,
      );
    const source = this.live(org);
    const sourceServer = await this.deps.servers.nameOf(source.address.server);
    const serverName = request.server ?? sourceServer;
    const targetServer = await this.deps.servers.addressOf(serverName);
    const targetStorage = this.deps.servers.storage;
    const kind = request.kind ?? source.kind;
    if (kind === source.kind && serverName === sourceServer)
      throw new MoveRefusedError(`Organization ${orgId} is ${kind} on server ${serverName} already`);
    // The target is made at the latest tenant migration: the source gets there first (usually a no-op).
    await this.migrate(source, orgId);
    const began = performance.now();
    const frozen = await this.deps.organizations.beginMoveTo(orgId, targetServer, (counts) =>
      moveColumns(targetStorage.place(orgId, kind, counts, targetServer)),
    );
    if (!frozen) throw new MoveRefusedError(`Organization ${orgId} changed meanwhile; try again`);
    this.deps.invalidate(orgId, org.slug);
    this.crashHook('frozen');
    return this.runFrom(frozen, began);
  }

  /** Carries a move left half-done forward from its recorded step. */
  async resume(orgId: number): Promise<MoveResult> {
    const org = await this.load(orgId);
    if (org.move_step === null) throw new MoveRefusedError(`Organization ${orgId} is not being moved`);
    return this.runFrom(org, performance.now());
  }

  /**
   * Settles every move left half-done (untouched for `graceMs`): rolled back before the switch, finished after
   * it. Run by reconcile.
   */
  async settle(graceMs: number): Promise<SettledMoves> {
    const settled: SettledMoves = { rolledBack: [], finished: [] };
    for (const org of await this.deps.organizations.listMoving(graceMs)) {
      if (this.running.has(org.id)) continue;
      try {
        if (org.move_step === 'switched') {
          await this.finish(org);
          settled.finished.push(org.id);
        } else {
          await this.rollback(org);
          settled.rolledBack.push(org.id);
        }
      } catch (error) {
        this.deps.log.error({ err: error, orgId: org.id }, 'could not settle a tenant move; will retry');
      }
    }
    return settled;
  }

  /**
   * Runs the remaining steps, touching the row every few seconds meanwhile: reconcile in any process settles
   * only moves untouched for its grace period, so a long copy is never rolled back under the mover's feet.
   */
  private async runFrom(initial: Organization, began: number): Promise<MoveResult> {
    if (this.running.has(initial.id))
      throw new MoveRefusedError(`Organization ${initial.id} is being moved by this process`);
    this.running.add(initial.id);
    const heartbeat = setInterval(() => {
      this.deps.organizations.touchMove(initial.id).catch((error: unknown) => {
        this.deps.log.warn({ err: error, orgId: initial.id }, 'could not record a move heartbeat');
      });
    }, HEARTBEAT_MS);
    try {
      return await this.runSteps(initial, began);
    } finally {
      clearInterval(heartbeat);
      this.running.delete(initial.id);
    }
  }

  private async runSteps(initial: Organization, began: number): Promise<MoveResult> {
    let org = initial;
    const from = this.live(org).key;
    let rows = 0;
    if (stepIndex(org.move_step) < 1) {
      await seal(this.storage.handle(this.live(org)));
      org = await this.step(org, 'frozen', 'sealed');
    }
    if (stepIndex(org.move_step) < 2) {
      const source = this.live(org);
      const target = otherCopy(org);
      const targetStorage = this.storage;
      await targetStorage.create(target, org.id);
      await this.migrate(target, org.id);
      rows = await copyTenantData(this.storage.handle(source), targetStorage.handle(target));
      org = await this.step(org, 'sealed', 'copied');
    }
    if (stepIndex(org.move_step) < 3) {
      const source = this.live(org);
      const target = otherCopy(org);
      const switched = await this.deps.organizations.switchPlacement(
        org.id,
        placementColumns(target),
        moveColumns(source),
        async (trx, moved) => {
          // An operator's command (or reconcile finishing one): no user is the actor.
          await this.deps.audit?.core(
            SYSTEM_SOURCE,
            {
              action: 'organization.moved',
              target: { type: 'organization', id: moved.id },
              organizationId: moved.id,
              ownerUserId: moved.owner_id,
              detail: { from: source.key, to: target.key },
            },
            trx,
          );
        },
      );
      if (!switched) throw await this.changed(org.id);
      org = switched;
      this.deps.invalidate(org.id, org.slug);
      this.crashHook('switched');
    }
    const unavailableMs = Math.round(performance.now() - began);
    const to = this.live(org).key;
    await this.finish(org);
    this.deps.log.info({ orgId: org.id, from, to, rows, unavailableMs }, 'tenant moved');
    return { id: org.id, from, to, rows, unavailableMs };
  }

  /** After the switch: drops the old copy, clears the move. */
  private async finish(org: Organization): Promise<void> {
    const old = otherCopy(org);
    await this.drop(org.id, old);
    await this.deps.organizations.endMove(org.id);
    this.deps.invalidate(org.id, org.slug);
  }

  /** Before the switch: drops the target, unseals the live copy, clears the move. */
  private async rollback(org: Organization): Promise<void> {
    await this.drop(org.id, otherCopy(org));
    const live = this.live(org);
    await unseal(this.storage.handle(live));
    await this.deps.organizations.endMove(org.id);
    this.deps.invalidate(org.id, org.slug);
    this.deps.log.warn({ orgId: org.id, step: org.move_step }, 'tenant move rolled back');
  }

  /** To the latest tenant migration, through the connection manager (which may hold an embedded database open). */
  private async migrate(placement: TenantPlacement, orgId: number): Promise<void> {
    const storage = this.storage;
    await storage.migrateOpen(placement, orgId, storage.handle(placement));
  }

  private async drop(orgId: number, placement: TenantPlacement): Promise<void> {
    await this.deps.beforeDrop?.(orgId, placement);
    await this.storage.dropClosingConnections(placement, orgId);
    // Should the tenant come back to this schema, connections bound to the dropped role bind afresh.
    if (placement.schema !== null) forgetBindings(placement.schema);
  }

  private async step(org: Organization, from: MoveStep, to: MoveStep): Promise<Organization> {
    const next = await this.deps.organizations.recordMoveStep(org.id, from, to);
    if (!next) throw await this.changed(org.id);
    this.crashHook(to);
    return next;
  }

  private crashHook(step: MoveStep): void {
    if (this.crashAfter === step) throw new SimulatedMoveCrash(step);
  }

  private live(org: Organization): TenantPlacement {
    // Rows from before servers were recorded name none: the default server stands in (as for the resolver).
    const fallback = this.deps.servers.storage.store.server;
    const placement = placementFromRow(org, fallback);
    if (!placement) throw new MoveRefusedError(`Organization ${org.id} has no storage yet`);
    return placement;
  }

  /** One storage for every server: it sends each operation to the store of the placement's server. */
  private get storage(): TenantStorage {
    return this.deps.servers.storage;
  }

  private async load(orgId: number): Promise<Organization> {
    const org = await this.deps.organizations.findById(orgId);
    if (!org || org.status === 'deleted')
      throw new AppError('TENANT_NOT_FOUND', `Organization ${orgId} not found`);
    return org;
  }

  private async changed(orgId: number): Promise<Error> {
    const org = await this.load(orgId);
    return new MoveRefusedError(
      `Organization ${orgId} changed meanwhile (move step ${org.move_step ?? 'none'})`,
    );
  }
}
