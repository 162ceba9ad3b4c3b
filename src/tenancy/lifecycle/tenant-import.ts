import type { FastifyBaseLogger } from 'fastify';
import type { Organization, PlacementKind } from '../../db/core-schema.js';
import type { OrganizationsRepository } from '../../modules/organizations/organizations.repository.js';
import type { TenantUsersRepository } from '../../modules/tenant-users/tenant-users.repository.js';
import { latestTenantMigration, tenantMigrationModules } from '../fleet/tenant-migrations.js';
import { placementFromRow, type TenantPlacement } from '../placement/placement.js';
import type { TenantStorage } from '../placement/tenant-storage.js';
import type { Provisioner } from './provisioner.js';
import { exportTenant, loadExport, readExportHeader, type ExportHeader } from './tenant-export.js';

/** An export this build cannot restore (a newer schema, an unknown migration). */
export class ImportRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportRefusedError';
  }
}

export interface TenantTransferDeps {
  organizations: OrganizationsRepository;
  provisioner: Provisioner;
  storage: TenantStorage;
  tenantUsers: TenantUsersRepository;
  log: FastifyBaseLogger;
}

export interface ImportOptions {
  name: string;
  owner: { id: number; email: string };
  slug?: string;
  placement: PlacementKind;
}

export interface ImportResult {
  organization: Organization;
  rows: number;
  schemaVersion: string;
}

/** Checks that this build knows the export's schema version; throws ImportRefusedError otherwise. */
export async function assertImportable(header: ExportHeader): Promise<void> {
  const known = Object.keys(await tenantMigrationModules()).sort();
  if (known.includes(header.schemaVersion)) return;
  const latest = known[known.length - 1] as string;
  if (header.schemaVersion > latest)
    throw new ImportRefusedError(
      `The export is at tenant schema ${header.schemaVersion}, newer than this build knows (${latest}): ` +
        'import it with a newer Tenantry',
    );
  throw new ImportRefusedError(
    `The export's tenant schema ${header.schemaVersion} is not a migration of this build`,
  );
}

/**
 * Exports and imports tenants (tenant-export.ts holds the file format; tenant-copy.ts the row copy moves use too).
 *
 * Import: the file's schema version is checked first; a new organization is created and provisioned like any
 * other (its placement as asked, its owner as the owner-linked tenant user); the schema is brought down to the
 * export's version when it is older (the tenant migrations' own `down`), the rows and sequences are loaded in one
 * transaction with the owner link remapped (TenantUsersRepository.linkImportedOwner), and the schema is migrated
 * up again. A failure after the organization exists leaves it active without the export's rows: delete it and
 * import again.
 *
 * @example
 * const { organization } = await transfer.importFile('acme.tenant.jsonl', { name: 'Acme', owner, placement: 'shared' });
 */
export class TenantTransfer {
  constructor(private readonly deps: TenantTransferDeps) {}

  /** Writes an active organization's data to `file` (which must not exist). Returns the rows written. */
  async exportTo(org: Organization, file: string): Promise<number> {
    const placement = this.placement(org);
    const db = this.deps.storage.handle(placement);
    const { version } = await this.migrateCurrent(placement, org.id);
    return exportTenant(db, file, {
      schemaVersion: version,
      engine: this.deps.storage.store.engine,
      organization: { id: org.id, slug: org.slug, name: org.name },
    });
  }

  async importFile(file: string, options: ImportOptions): Promise<ImportResult> {
    const header = await readExportHeader(file);
    await assertImportable(header);
    const inserted = await this.deps.organizations.insertWithSlug(
      options.owner.id,
      options.name,
      options.slug,
      {
        placement: options.placement,
      },
    );
    const organization = await this.deps.provisioner.provision(inserted.id);
    const placement = this.placement(organization);
    const { storage } = this.deps;
    const latest = await latestTenantMigration();
    if (header.schemaVersion !== latest)
      await storage.rollback(placement, organization.id, header.schemaVersion);
    const rows = await storage
      .handle(placement)
      .transaction()
      .execute(async (trx) => {
        const loaded = await loadExport(trx, file);
        await this.deps.tenantUsers.linkImportedOwner(trx, {
          email: options.owner.email,
          coreUserId: options.owner.id,
        });
        return loaded;
      });
    if (header.schemaVersion !== latest) await this.migrateCurrent(placement, organization.id);
    this.deps.log.info(
      { orgId: organization.id, rows, schemaVersion: header.schemaVersion },
      'tenant imported from an export',
    );
    return { organization, rows, schemaVersion: header.schemaVersion };
  }

  private migrateCurrent(placement: TenantPlacement, orgId: number) {
    const { storage } = this.deps;
    return storage.migrateOpen(placement, orgId, storage.handle(placement)).then((version) => ({ version }));
  }

  private placement(org: Organization): TenantPlacement {
    const placement = placementFromRow(org, this.deps.storage.store.server);
    if (!placement) throw new ImportRefusedError(`Organization ${org.id} has no storage yet`);
    return placement;
  }
}
