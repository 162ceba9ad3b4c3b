import { namedPlugin } from './named-plugin.js';

/**
 * `X-Worker-Pid` on every response of a node:cluster worker, so an operator (or a test) can tell which worker
 * answered through the shared port. Only registered when WEB_CONCURRENCY is above 1.
 */
export const workerIdentity = namedPlugin(
  async (app) => {
    const pid = String(process.pid);
    app.addHook('onRequest', async (_request, reply) => {
      reply.header('x-worker-pid', pid);
    });
  },
  { name: 'tenantry-worker-identity' },
);
