import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './server-process.js';

/** True when a `redis-server` binary is on the PATH. */
export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A private Redis server owned by one test: never the machine's shared one on 6379. */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  /** Starts the server (again) on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops the server; resolves once the process has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port, in the foreground as a child of the test, without persistence.
 *
 * @example
 * const redis = await startPrivateRedis();
 * after(() => redis.stop());
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
      ],
      { stdio: 'ignore' },
    );
    const running = child;
    exited = new Promise((resolve) => running.once('exit', () => resolve()));
    const client = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => 100,
    });
    client.on('error', () => undefined);
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          if (client.status === 'wait') await client.connect();
          if ((await client.ping()) === 'PONG') return;
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      client.disconnect();
    }
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    async stop() {
      child?.kill('SIGTERM');
      await exited;
    },
  };
}
