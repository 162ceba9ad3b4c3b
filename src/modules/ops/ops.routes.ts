import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { APP_NAME, APP_VERSION } from '../../version.js';

const CheckResult = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('failed')]),
    duration_ms: Type.Number(),
    error: Type.Optional(Type.String()),
  },
  { title: 'CheckResult' },
);

const Readiness = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('unavailable')]),
    checks: Type.Record(Type.String(), CheckResult, { description: 'By check name: `core_database`' }),
  },
  { title: 'Readiness' },
);

const ServiceInfo = Type.Object(
  { name: Type.String(), version: Type.String(), docs: Type.String({ description: 'Path of Swagger UI' }) },
  { title: 'ServiceInfo' },
);
const Health = Type.Object({ status: Type.Literal('healthy') }, { title: 'Health' });

/** `/`, `/health` (liveness) and `/health/ready` (the core database answers). The X-TENANT header is ignored. */
export const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/',
    {
      schema: {
        tags: ['operations'],
        summary: 'Service information',
        operationId: 'getServiceInfo',
        security: [],
        response: { 200: ServiceInfo },
      },
    },
    () => ({ name: APP_NAME, version: APP_VERSION, docs: '/docs' }),
  );

  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process is up',
        operationId: 'getHealth',
        security: [],
        response: { 200: Health },
      },
    },
    () => ({ status: 'healthy' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: the core database answers',
        operationId: 'getReadiness',
        security: [],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const started = performance.now();
      let core: { status: 'ok' | 'failed'; duration_ms: number; error?: string };
      try {
        await app.core.ping();
        core = { status: 'ok', duration_ms: Math.round(performance.now() - started) };
      } catch (error) {
        core = {
          status: 'failed',
          duration_ms: Math.round(performance.now() - started),
          error: error instanceof Error ? error.message : String(error),
        };
      }
      const ready = core.status === 'ok';
      if (!ready) reply.header('retry-after', '5');
      return reply
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ready' : 'unavailable', checks: { core_database: core } });
    },
  );
};
