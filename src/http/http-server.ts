import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ERRORS, type ErrorBody, type ErrorCode } from '../errors.js';

/** Node's own parser and timeout errors, by the code it reports them with. */
const CLIENT_ERROR_CODES: Record<string, ErrorCode> = {
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
};

/** How often Node looks for requests over their deadline, at most (its default is 30 s). */
const MAX_CHECK_INTERVAL_MS = 1_000;

/**
 * Options for Node's HTTP server so that `REQUEST_TIMEOUT_MS` holds for real. Node enforces `requestTimeout`
 * and `headersTimeout` only when it checks its connections, every `connectionsCheckingInterval` (30 s by
 * default), so a slow client was cut between 30 and 60 s (plus the 60 s `headersTimeout` default, which is
 * computed from `requestTimeout` only when that is given at creation: Fastify sets it afterwards). Both
 * deadlines are the setting, checked at a quarter of it (at most every second): a request is cut within
 * 1.25× the setting.
 */
export function httpServerOptions(requestTimeoutMs: number): ServerOptions {
  if (requestTimeoutMs === 0) return {};
  return {
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(MAX_CHECK_INTERVAL_MS, Math.floor(requestTimeoutMs / 4)),
    ),
  };
}

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP layer refuses before Fastify sees a request (a request not
 * received within REQUEST_TIMEOUT_MS: 408; headers over Node's 16 kB limit: 431; anything it cannot parse: 400)
 * answered in the documented `{detail, code}` shape instead of Fastify's own, then the socket is closed.
 */
export function clientErrorHandler(
  this: FastifyInstance,
  error: NodeJS.ErrnoException,
  socket: Socket,
): void {
  // A reset connection, or one already answered and closed: nobody is listening.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code: ErrorCode = (error.code ? CLIENT_ERROR_CODES[error.code] : undefined) ?? 'BAD_REQUEST';
  const { status, message } = ERRORS[code];
  const body = JSON.stringify({ detail: message, code } satisfies ErrorBody);
  this.log.debug({ err: error, code }, 'client error');
  // A response already under way cannot take another status line: only close then (as Node itself does).
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}
