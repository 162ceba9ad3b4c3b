import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { onCleanup } from './cleanup.js';
import { startJanitor } from './janitor.js';
import { benchServerUrl, createDatabase, dropDatabaseFamily } from './postgres.js';

export interface BenchRun {
  /** BENCH_DATABASE_URL's server (127.0.0.1 only). */
  serverUrl: string;
  /** `tenantry_bench_<random>`: the run's core database; its tenant databases are named after it. */
  coreName: string;
  /** A fresh temporary DATA_DIR. */
  dataDir: string;
}

/**
 * What every server benchmark starts with: a uniquely named core database (created), a temporary data
 * directory, a janitor that cleans up if this process is killed, and clean-up steps that drop every database of
 * the run and remove the directory on any other ending.
 */
export async function prepareBenchRun(log: (line: string) => void = () => undefined): Promise<BenchRun> {
  const serverUrl = benchServerUrl();
  const coreName = `tenantry_bench_${randomBytes(4).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantry-bench-'));
  startJanitor({ serverUrl, coreName, dataDir });
  onCleanup('remove the data directory', async () => rmSync(dataDir, { recursive: true, force: true }));
  onCleanup('drop the benchmark databases', async () => {
    const dropped = await dropDatabaseFamily(serverUrl, coreName);
    log(`cleanup: dropped ${dropped} databases (${coreName} and ${coreName}_*)`);
  });
  await createDatabase(serverUrl, coreName);
  return { serverUrl, coreName, dataDir };
}

/** The machine, as a results line: CPUs, Node.js version and the load average now. */
export function describeMachine(): string {
  return (
    `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ` +
    `load average ${loadavg()[0]?.toFixed(2)} at start`
  );
}
