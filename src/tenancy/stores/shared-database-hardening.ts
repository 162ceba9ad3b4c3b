/**
 * What a new shared database grants to no one: its `public` schema, and temporary tables. A tenant's work runs as
 * its own role, which can then create nothing outside its schema (a temporary table would live in a schema of the
 * connection, seen by whichever tenant uses it next). One script for both engines.
 */
export const SHARED_DATABASE_HARDENING =
  'revoke all on schema public from public; ' +
  "do $$ begin execute format('revoke temporary on database %I from public', current_database()); end $$";
