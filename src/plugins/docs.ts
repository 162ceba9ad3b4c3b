import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { APP_NAME, APP_VERSION } from '../version.js';

const require = createRequire(import.meta.url);

const REDOC_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${APP_NAME} API reference</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
  </head>
  <body>
    <redoc spec-url="/openapi.json"></redoc>
    <script src="/redoc/redoc.standalone.js"></script>
  </body>
</html>
`;

/**
 * OpenAPI document generated from the routes' TypeBox schemas, Swagger UI at /docs and ReDoc at /redoc.
 * Every asset is served from installed packages, so the docs work with no internet access.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: APP_NAME,
        version: APP_VERSION,
        description:
          'Multi-tenant API. Requests without `X-TENANT` run in the core (control-plane) context; ' +
          "with `X-TENANT` (an organization id or slug) they run against that organization's own database.",
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          oauth2: {
            type: 'oauth2',
            flows: { password: { tokenUrl: '/api/auth/login', scopes: {} } },
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: true } });

  const redocBundle = require.resolve('redoc/bundles/redoc.standalone.js');
  let redocScript: Promise<Buffer> | undefined;
  app.get('/redoc', { schema: { hide: true } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(REDOC_PAGE),
  );
  app.get('/redoc/redoc.standalone.js', { schema: { hide: true } }, async (_request, reply) => {
    redocScript ??= readFile(redocBundle);
    return reply
      .type('application/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=86400')
      .send(await redocScript);
  });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
}
