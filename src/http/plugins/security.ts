import cors from '@fastify/cors';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { corsOriginMatchers } from '../cors-origins.js';
import { namedPlugin } from './named-plugin.js';

/** JSON answers never load anything: the strictest policy, which also forbids framing them. */
export const API_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Swagger UI (/docs) and ReDoc (/redoc) load only scripts served by this server, but both style elements inline
 * (React style attributes, styled-components), use data: images, and ReDoc runs its search index in a blob:
 * Web Worker (child-src for browsers without worker-src). No upgrade-insecure-requests: the docs must also
 * work over plain HTTP on a private address, where it would rewrite every asset URL to an https one that fails.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
  "worker-src 'self' blob:",
  "child-src 'self' blob:",
].join('; ');

const DOCS_PATH = /^\/(docs|redoc)(\/|\?|$)/;

/**
 * The headers helmet 8 sends by default (HSTS, nosniff, frame options, referrer policy, cross-origin policies, …),
 * written out once: the same on every answer, so nothing is computed per request.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
});
const API_HEADERS = Object.freeze({ ...SECURITY_HEADERS, 'content-security-policy': API_CSP });
const DOCS_HEADERS = Object.freeze({ ...SECURITY_HEADERS, 'content-security-policy': DOCS_CSP });

/** One synchronous hook (an async one costs a promise per request) setting the precomputed headers. */
function securityHeaders(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  reply.headers(DOCS_PATH.test(request.url) ? DOCS_HEADERS : API_HEADERS);
  done();
}

/** Headers a browser client may read from a cross-origin response. */
const EXPOSED_HEADERS = [
  'x-request-id',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
];

/**
 * Security headers on every response (SECURITY_HEADERS), a Content-Security-Policy chosen per path (see API_CSP
 * and DOCS_CSP), and CORS for
 * the origins in `CORS_ORIGINS` only. Without CORS_ORIGINS no CORS header is ever sent, so browsers keep the
 * API same-origin. Register on the root instance, before the routes.
 */
export const security = namedPlugin<{ corsOrigins: readonly string[] }>(
  async (app, { corsOrigins }) => {
    app.addHook('onRequest', securityHeaders);
    if (corsOrigins.length === 0) return;
    await app.register(cors, {
      // Always a list, even of one: a single string would be sent to every origin instead of being matched.
      // '*' in the list allows any origin (without credentials, which this API does not use); wildcard entries
      // (`https://*.example.com`, the tenants' subdomains) become anchored patterns.
      origin: corsOriginMatchers(corsOrigins),
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-tenant', 'x-request-id'],
      exposedHeaders: EXPOSED_HEADERS,
      credentials: false,
      maxAge: 600,
    });
  },
  { name: 'tenantry-security' },
);
