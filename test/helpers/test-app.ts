import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from '../../src/app.js';
import { createTestEnv, type TestEnv } from './test-env.js';

export interface TestApp extends TestEnv {
  app: FastifyInstance;
  /** Closes the app, then drops what the env created. */
  close(): Promise<void>;
}

/**
 * Builds the real application on a private database of the engine under test.
 *
 * @example
 * const t = await createTestApp();
 * after(() => t.close());
 * const res = await t.app.inject({ method: 'GET', url: '/health' });
 */
export async function createTestApp(
  overrides: Record<string, string> = {},
  options: Omit<BuildOptions, 'logger'> & {
    beforeReady?: (app: FastifyInstance) => void;
    engine?: 'pglite' | 'postgres';
  } = {},
): Promise<TestApp> {
  const env = await createTestEnv(overrides, options.engine ? { engine: options.engine } : {});
  let app: FastifyInstance;
  try {
    app = await buildApp(env.config, { ...options, logger: false });
    options.beforeReady?.(app);
    await app.ready();
  } catch (error) {
    await env.cleanup();
    throw error;
  }
  return {
    ...env,
    app,
    async close() {
      await app.close();
      await env.cleanup();
    },
  };
}
