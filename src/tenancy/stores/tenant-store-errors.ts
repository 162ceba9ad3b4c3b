/** A tenant or template database name that is not one this store may create, open or drop. */
export class TenantNamingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TenantNamingError';
  }
}

/**
 * The PostgreSQL role cannot create databases, so no organization could ever be provisioned.
 * Raised by `TenantStore.prepare()` at start-up rather than at the first sign-up.
 */
export class MissingPrivilegeError extends Error {
  constructor(
    readonly role: string,
    readonly placement: string,
  ) {
    super(
      `Role "${role}" on ${placement} lacks the CREATEDB privilege, so tenant databases cannot be created. ` +
        `Grant it (ALTER ROLE "${role}" CREATEDB) or set TENANT_DATABASE_URL to a role that has it.`,
    );
    this.name = 'MissingPrivilegeError';
  }
}

/** `open()` on a tenant database that does not exist (PGlite would otherwise silently initdb an empty one). */
export class TenantDatabaseMissingError extends Error {
  constructor(readonly databaseName: string) {
    super(`Tenant database "${databaseName}" does not exist`);
    this.name = 'TenantDatabaseMissingError';
  }
}
