import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Route `onSend` hook for answers that carry tokens: RFC 6749 §5.1 requires `Cache-Control: no-store` and
 * `Pragma: no-cache`, so no browser, proxy or CDN keeps a copy of a token.
 *
 * @example
 * app.post('/auth/login', { onSend: noStore, ... }, handler);
 */
export async function noStore(_request: FastifyRequest, reply: FastifyReply): Promise<void> {
  reply.header('cache-control', 'no-store');
  reply.header('pragma', 'no-cache');
}
