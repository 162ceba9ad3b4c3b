import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, startProcess, waitForHttp, type RunningProcess } from './server-process.js';
import { createTestEnv, type TestEnv } from './test-env.js';

export interface LiveServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  env: TestEnv;
  process: RunningProcess;
  /** The development mail outbox (`DATA_DIR/mail`). */
  mailDir: string;
  /**
   * The `Link:` of the newest readable outbox copy (`.txt`) addressed to `to` whose link contains `path`, waiting
   * for the server's background sender to write it (up to `timeoutMs`).
   */
  linkFromOutbox(to: string, path: string, timeoutMs?: number): Promise<string>;
  /** SIGTERM, wait for the exit, drop the env. */
  stop(): Promise<void>;
}

/**
 * The real server (`src/main.ts`) as a child process on a free port, on the engine under test, with the file mail
 * outbox: what a user gets from `npm start`.
 *
 * @example
 * const server = await startLiveServer();
 * after(() => server.stop());
 * await fetch(`${server.baseUrl}/health`);
 */
export async function startLiveServer(overrides: Record<string, string> = {}): Promise<LiveServer> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = await createTestEnv({
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: baseUrl,
    ...overrides,
  });
  const running = startProcess('src/main.ts', env.env);
  try {
    await waitForHttp(`${baseUrl}/health/ready`, running, 120_000);
  } catch (error) {
    running.child.kill('SIGKILL');
    await env.cleanup();
    throw error;
  }
  const mailDir = join(env.config.dataDir, 'mail');
  return {
    baseUrl,
    env,
    process: running,
    mailDir,
    async linkFromOutbox(to, path, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const files = (await readdir(mailDir).catch(() => [] as string[]))
          .filter((file) => file.endsWith('.txt'))
          .sort()
          .reverse();
        for (const file of files) {
          const text = await readFile(join(mailDir, file), 'utf8');
          const lines = text.split('\n');
          if (!lines.includes(`To: ${to}`)) continue;
          const link = lines.find((line) => line.startsWith('Link: '))?.slice('Link: '.length);
          if (link?.includes(path)) return link;
        }
        if (Date.now() > deadline) throw new Error(`no mail to ${to} with a ${path} link in ${mailDir}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGTERM');
      await running.exited;
      await env.cleanup();
    },
  };
}
