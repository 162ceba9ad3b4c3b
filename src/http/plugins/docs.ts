import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { documentRoute, finishDocument } from '../openapi.js';
import { APP_NAME, APP_VERSION } from '../../version.js';
import { namedPlugin } from './named-plugin.js';

const require = createRequire(import.meta.url);

/** The site icon (a "T" on the brand colour), served at /favicon.svg and /favicon.ico and linked by both docs pages. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
  <rect width="32" height="32" rx="6" fill="#1f5f8b"/>
  <path d="M8 8h16v4h-6v13h-4V12H8z" fill="#fff"/>
</svg>
`;

/**
 * ReDoc's sidebar footer shows Redocly's logo from cdn.redoc.ly: an external request the docs CSP blocks (and an
 * offline server cannot make). The bundle is served with that URL replaced by an empty inline image, so nothing is
 * requested and the footer keeps its text link.
 */
const REDOC_CDN_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini.svg';
const EMPTY_IMAGE = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E";

const REDOC_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${APP_NAME} API reference</title>
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <link rel="icon" type="image/svg+xml" href="/favicon.svg" />
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
export const docs = namedPlugin(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: APP_NAME,
          version: APP_VERSION,
          description:
            'Multi-tenant API. Requests without `X-TENANT` run in the core (control-plane) context: accounts and ' +
            "organizations. With `X-TENANT` (an organization id or slug) they run against that organization's own " +
            'database. Every error is `{"detail", "code"}`; match on `code`. The guide: docs/API.md in the repository.',
          license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
        },
        // Relative: requests go to the server that served this document.
        servers: [{ url: '/', description: 'This server' }],
        components: {
          securitySchemes: {
            bearer: {
              type: 'http',
              scheme: 'bearer',
              bearerFormat: 'JWT',
              description:
                'An access token from login, refresh or the owner token exchange. Core tokens work without ' +
                '`X-TENANT` only; tenant tokens only with the `X-TENANT` of their organization.',
            },
            oauth2: {
              type: 'oauth2',
              description: "Swagger UI's Authorize button: the password flow against /api/auth/login.",
              flows: { password: { tokenUrl: '/api/auth/login', scopes: {} } },
            },
          },
        },
      },
      transform: documentRoute,
      transformObject: (documents) => {
        if (!('openapiObject' in documents)) throw new Error('only OpenAPI 3 documents are built');
        return finishDocument(documents.openapiObject);
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      // BaseLayout: the API alone, without the standalone top bar (Swagger's logo and a spec URL box).
      uiConfig: { persistAuthorization: true, layout: 'BaseLayout' },
      theme: {
        title: `${APP_NAME} API`,
        favicon: [
          { filename: 'favicon.svg', rel: 'icon', sizes: 'any', type: 'image/svg+xml', content: FAVICON_SVG },
        ],
      },
    });

    for (const url of ['/favicon.svg', '/favicon.ico']) {
      app.get(url, { schema: { hide: true } }, (_request, reply) =>
        reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON_SVG),
      );
    }

    const redocBundle = require.resolve('redoc/bundles/redoc.standalone.js');
    let redocScript: Promise<string> | undefined;
    app.get('/redoc', { schema: { hide: true } }, (_request, reply) =>
      reply.type('text/html; charset=utf-8').send(REDOC_PAGE),
    );
    app.get('/redoc/redoc.standalone.js', { schema: { hide: true } }, async (_request, reply) => {
      redocScript ??= readFile(redocBundle, 'utf8').then((code) =>
        code.replaceAll(REDOC_CDN_LOGO, EMPTY_IMAGE),
      );
      return reply
        .type('application/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=86400')
        .send(await redocScript);
    });
    app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  },
  { name: 'tenantry-docs' },
);
