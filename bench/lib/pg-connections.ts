import pg from 'pg';

/**
 * PostgreSQL's own view of the databases named `<family>_…` (a benchmark's tenant databases, not its core
 * database): sessions opened since the server started (`pg_stat_database.sessions`, PostgreSQL 14+) and
 * connections held now (`pg_stat_activity`). Used to report connections opened per request and the peak held for
 * every server under test alike, whatever pool it uses.
 */
export class PgConnectionWatch {
  private readonly client: pg.Client;
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  /** `$1`: a LIKE pattern for the `<name>_…` databases (the tenant databases, not the core one). */
  private readonly params: [string];

  constructor(serverUrl: string, family: string) {
    this.client = new pg.Client({ connectionString: serverUrl, application_name: 'tenantry-bench-watch' });
    this.params = [`${family.replace(/[\\%_]/g, (c) => `\\${c}`)}\\_%`];
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  /**
   * Sessions ever opened to the family's databases (cumulative statistics, read afresh). Backends flush their
   * statistics at most once a second: `settle` waits past that first, for a count that includes the last second.
   */
  async sessions(options: { settle: boolean }): Promise<number> {
    if (options.settle) await new Promise((resolve) => setTimeout(resolve, 1_100));
    await this.client.query('select pg_stat_clear_snapshot()');
    const { rows } = await this.client.query<{ total: string | null }>(
      `select sum(sessions)::text as total from pg_stat_database where datname like $1`,
      this.params,
    );
    return Number(rows[0]?.total ?? 0);
  }

  /** Samples the connections held every `intervalMs` until `stopSampling`; the most seen is the peak. */
  startSampling(intervalMs = 100): void {
    this.peak = 0;
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(async () => {
        const { rows } = await this.client.query<{ held: number }>(
          `select count(*)::int as held from pg_stat_activity where datname like $1`,
          this.params,
        );
        this.peak = Math.max(this.peak, rows[0]?.held ?? 0);
      });
    }, intervalMs);
  }

  async stopSampling(): Promise<number> {
    clearInterval(this.timer);
    await this.sampling;
    return this.peak;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.client.end();
  }
}
