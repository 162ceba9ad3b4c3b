import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServerProcess } from './server-process.js';
import { REPO_ROOT } from './server-process.js';
import { spawnHttpServer } from './spawn-http-server.js';

/** Where bench/peers/fastapi_app.py lives: uvicorn runs from there (`fastapi_app:app`). */
export const PEER_DIR = join(REPO_ROOT, 'bench', 'peers');

/**
 * The interpreter that sees the Debian packages (/usr/lib/python3/dist-packages): PEER_PYTHON, else
 * /usr/bin/python3. Not `python3` from PATH, which may be a pyenv or virtualenv interpreter without them.
 */
export function peerPython(): string {
  return process.env.PEER_PYTHON ?? '/usr/bin/python3';
}

export interface FastapiPeerTenant {
  /** The organization id, sent as X-TENANT. */
  readonly id: number | string;
  readonly dbName: string;
}

export interface FastapiPeerOptions {
  port: number;
  /** postgres://user@127.0.0.1:5432/postgres: the database part is replaced per tenant. */
  serverUrl: string;
  tenants: readonly FastapiPeerTenant[];
  /** The tenant user id answered by `GET /api/users/me` in every tenant. */
  userId: number;
  /** Total connection budget over all tenants (PEER_MAX_CONNECTIONS, default 40). */
  maxConnections?: number;
  /** Largest per-tenant pool (PEER_POOL_SIZE, default 4). */
  poolSize?: number;
  /** CPUs for `taskset -c <cpuList>` (e.g. "0"); ignored, with a warning line in logTail(), without taskset. */
  cpuList?: string;
  /** The Python interpreter (default peerPython()). */
  python?: string;
  /** Readiness bound (default 30 s). */
  timeoutMs?: number;
  name?: string;
}

/**
 * Starts bench/peers/fastapi_app.py (FastAPI + asyncpg + uvloop, no auth) under uvicorn on 127.0.0.1:<port>
 * and waits for `/health/ready`. The tenants map is written to a temp file removed when the peer stops.
 * `pid` is the Python process (taskset execs it), for /proc/<pid>/stat CPU accounting.
 */
export async function startFastapiPeer(options: FastapiPeerOptions): Promise<ServerProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-peer-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  try {
    const tenantsFile = join(dir, 'tenants.json');
    writeFileSync(
      tenantsFile,
      JSON.stringify(Object.fromEntries(options.tenants.map((t) => [String(t.id), t.dbName]))),
    );
    const python = options.python ?? peerPython();
    const uvicorn = [
      '-m',
      'uvicorn',
      'fastapi_app:app',
      '--host',
      '127.0.0.1',
      '--port',
      String(options.port),
      '--loop',
      'uvloop',
      // Debian's uvicorn does not pull python3-httptools (0.1.1, older than the >=0.4.0 of uvicorn 0.17's
      // [standard] extra): the pure-Python h11 parser, named so that an httptools installed later changes nothing.
      '--http',
      'h11',
      '--workers',
      '1',
      '--no-access-log',
      '--log-level',
      'warning',
    ];
    const server = await spawnHttpServer({
      name: options.name ?? 'fastapi-peer',
      command: python,
      args: uvicorn,
      cwd: PEER_DIR,
      ...(options.cpuList === undefined ? {} : { cpuList: options.cpuList }),
      env: {
        PEER_TENANTS: tenantsFile,
        PEER_DATABASE_URL: options.serverUrl,
        PEER_USER_ID: String(options.userId),
        PEER_MAX_CONNECTIONS: String(options.maxConnections ?? 40),
        PEER_POOL_SIZE: String(options.poolSize ?? 4),
        PYTHONDONTWRITEBYTECODE: '1',
        PYTHONUNBUFFERED: '1',
      },
      port: options.port,
      readyPath: '/health/ready',
      timeoutMs: options.timeoutMs ?? 30_000,
      stopGraceMs: 5_000,
      afterStop: removeDir,
    });
    return server;
  } catch (error) {
    removeDir(); // spawnHttpServer already removed it if it got that far; force makes this a no-op then
    throw error;
  }
}

/**
 * Checks that the peer's Python packages are importable, before a benchmark relies on them. Resolves with
 * their versions (e.g. `fastapi 0.92.0, …`); rejects with a hint to run scripts/install-bench-peer.sh.
 */
export async function checkFastapiPeer(python = peerPython()): Promise<string> {
  const code =
    'import sys, fastapi, starlette, uvicorn, uvloop, asyncpg; ' +
    "print(', '.join(['python ' + sys.version.split()[0]] + [m.__name__ + ' ' + m.__version__ " +
    'for m in (fastapi, starlette, uvicorn, uvloop, asyncpg)]))';
  try {
    const { stdout } = await promisify(execFile)(python, ['-c', code], { timeout: 15_000 });
    return stdout.trim();
  } catch (error) {
    throw new Error(
      `the FastAPI peer cannot run with ${python} (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); ` +
        'run scripts/install-bench-peer.sh',
      { cause: error },
    );
  }
}
