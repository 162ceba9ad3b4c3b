import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './server-process.js';

const run = promisify(execFile);

/** A throwaway PostgreSQL server of the test's own, on a free port, that the test may stop and start at will. */
export interface PrivateCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly port: number;
  /** Stops the server; `immediate` is a crash (every backend dies at once, no checkpoint). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT to the server and every backend: a server that stops answering but keeps its sockets open. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Stops it (if running) and deletes its directory. */
  destroy(): Promise<void>;
}

/** PostgreSQL's server binaries (initdb, pg_ctl), newest installed version first; null when none is. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

/**
 * initdb + pg_ctl start into a temporary directory. PostgreSQL refuses to run as root, so as root the commands
 * run as the `postgres` OS user (the directory is handed to it). A process exit handler stops and deletes the
 * cluster even if the test never reaches its cleanup.
 */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'tenantry-pg-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  const tool = async (name: string, args: string[]) => {
    const [file, argv] = command(name, args);
    await run(file, argv);
  };
  const pgCtl = (...args: string[]) => tool('pg_ctl', ['-D', data, ...args]);

  const port = await freePort();
  await tool('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c synchronous_commit=on',
    '-c max_connections=200',
  ].join(' ');
  let running = false;
  let frozen: string[] = [];
  const start = async () => {
    await pgCtl('-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start');
    running = true;
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    if (!running) return;
    await pgCtl('-m', mode, '-w', '-t', '60', 'stop');
    running = false;
  };
  const onExit = () => {
    try {
      if (frozen.length > 0) execFileSync('kill', ['-CONT', ...frozen]);
      const [file, argv] = command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      if (running) execFileSync(file, argv);
    } catch {
      // already down
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // Also when the test runner kills the file (a timeout): clean up, then die of the same signal.
  const onSignal = (signal: NodeJS.Signals) => {
    onExit();
    process.kill(process.pid, signal);
  };
  process.once('exit', onExit);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await start();
  } catch (error) {
    onExit();
    throw error;
  }
  const signal = async (name: 'STOP' | 'CONT', pids: string[]) => {
    if (pids.length > 0) await run('kill', [`-${name}`, ...pids]);
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async freeze() {
      const postmaster = readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0] as string;
      // The postmaster first, so it forks no new backend meanwhile; then every child it has.
      await signal('STOP', [postmaster]);
      const { stdout } = await run('pgrep', ['-P', postmaster]).catch(() => ({ stdout: '' }));
      frozen = [postmaster, ...stdout.split('\n').filter((pid) => pid !== '')];
      await signal('STOP', frozen);
    },
    async thaw() {
      await signal('CONT', frozen);
      frozen = [];
    },
    async destroy() {
      process.removeListener('exit', onExit);
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      // A test that failed while the server was frozen: a stopped server cannot be stopped.
      await signal('CONT', frozen).catch(() => undefined);
      frozen = [];
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
