/** Exit codes of every command: scripts can tell "failed" from "misused" from "busy". */
export const EXIT = {
  OK: 0,
  /** The command ran and something failed (e.g. a tenant's migration). */
  FAILED: 1,
  /** Bad usage or configuration. */
  USAGE: 2,
  /** Another run holds the lock, or the embedded database is open in another process. */
  BUSY: 3,
  /** The organization named does not exist. */
  NOT_FOUND: 4,
} as const;

/** An error the CLI reports as a one-line message with a specific exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
