import type { FastifyInstance } from 'fastify';

/**
 * `X-Worker-Pid` on every response of a node:cluster worker, so an operator (or a test) can tell which worker
 * answered through the shared port. Only registered when WEB_CONCURRENCY is above 1.
 */
export function registerWorkerIdentity(app: FastifyInstance): void {
  const pid = String(process.pid);
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-worker-pid', pid);
  });
}
