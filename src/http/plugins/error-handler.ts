import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERRORS, sqlState, type ErrorBody, type ValidationIssue } from '../../errors.js';
import { namedPlugin } from './named-plugin.js';

/** Fastify's own error codes for bad requests, mapped to our stable codes. */
const FASTIFY_CODES: Record<string, AppError['code']> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  // A path parameter over the router's maxParamLength (Fastify answers 414, which the contract does not know).
  FST_ERR_MAX_PARAM_LENGTH: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

const BAD_INPUT_SQLSTATES = new Set(['22021', '22P05', '22P02', '22003']);

/** Other 4xx statuses plugins answer (@fastify/static: 403 for a NUL in a path), by their generic code. */
const GENERIC_CODES: Partial<Record<number, AppError['code']>> = {
  401: 'NOT_AUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/** Network and server-side failures that mean "the database is unavailable right now", not a bug. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;

export function isUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const { code } = error as NodeJS.ErrnoException;
  if (code && UNAVAILABLE_ERRNOS.has(code)) return true;
  const state = sqlState(error);
  if (state && UNAVAILABLE_SQLSTATE.test(state)) return true;
  // pg's own messages: a connect timeout (pool; a bare client says "timeout expired"), a connection cut while in
  // use, and a client whose connection failed.
  return /timeout exceeded when trying to connect|timeout expired|Connection terminated|not queryable/i.test(
    error.message,
  );
}

function validationIssues(error: FastifyError): ValidationIssue[] {
  return (error.validation ?? []).map((issue) => {
    const { params } = issue;
    const missing = typeof params.missingProperty === 'string' ? `/${params.missingProperty}` : '';
    const extra = typeof params.additionalProperty === 'string' ? `/${params.additionalProperty}` : '';
    return {
      path: `${issue.instancePath}${missing || extra}` || '/',
      message: issue.message ?? 'is invalid',
    };
  });
}

/** Turns any thrown error into the one documented error shape; only true surprises become a logged 500. */
export function toErrorResponse(error: FastifyError | Error): {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
} {
  if (error instanceof AppError)
    return { status: error.statusCode, body: error.toBody(), headers: error.headers };
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const where = fastifyError.validationContext ?? 'request';
    const issues = validationIssues(fastifyError);
    const first = issues[0];
    return {
      status: ERRORS.VALIDATION_ERROR.status,
      body: {
        detail: first ? `Invalid ${where}: ${first.path} ${first.message}` : ERRORS.VALIDATION_ERROR.message,
        code: 'VALIDATION_ERROR',
        errors: issues,
      },
      headers: {},
    };
  }
  const mapped = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined;
  if (mapped)
    return {
      status: ERRORS[mapped].status,
      body: { detail: ERRORS[mapped].message, code: mapped },
      headers: {},
    };
  // Values only bad input produces, whichever field carried them: NUL in text (22021; 22P05 in jsonb), which
  // PostgreSQL cannot store, and numbers it cannot read or hold (22P02, 22003): Ajv's type coercion turns "1e400"
  // into Infinity and lets it through an integer schema with a maximum.
  const state = sqlState(error);
  if (state && BAD_INPUT_SQLSTATES.has(state)) {
    return {
      status: ERRORS.VALIDATION_ERROR.status,
      body: {
        detail: 'Invalid request: a value contains a NUL character or a number out of range',
        code: 'VALIDATION_ERROR',
        errors: [{ path: '/', message: 'contains a NUL character or a number out of range' }],
      },
      headers: {},
    };
  }
  if (fastifyError.statusCode === 429) {
    return { status: 429, body: { detail: ERRORS.RATE_LIMITED.message, code: 'RATE_LIMITED' }, headers: {} };
  }
  if (isUnavailableError(error)) {
    return {
      status: 503,
      body: { detail: ERRORS.SERVICE_UNAVAILABLE.message, code: 'SERVICE_UNAVAILABLE' },
      headers: { 'retry-after': '5' },
    };
  }
  const status = fastifyError.statusCode;
  if (status && status >= 400 && status < 500) {
    // Any other 4xx (416 from a Range header, 406, 414...) is a malformed request: 400, a documented status.
    const code = GENERIC_CODES[status] ?? 'BAD_REQUEST';
    return { status: ERRORS[code].status, body: { detail: ERRORS[code].message, code }, headers: {} };
  }
  return {
    status: 500,
    body: { detail: ERRORS.INTERNAL_ERROR.message, code: 'INTERNAL_ERROR' },
    headers: {},
  };
}

function send(reply: FastifyReply, status: number, body: ErrorBody, headers: Record<string, string>) {
  if (status === 401) reply.header('www-authenticate', 'Bearer');
  return reply.code(status).headers(headers).type('application/json; charset=utf-8').send(body);
}

/**
 * Fastify's `frameworkErrors` option: errors its router raises before any route or hook runs (a malformed
 * percent-encoding, an over-long path parameter), otherwise answered in Fastify's own shape, not ours.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  _request: FastifyRequest,
  reply: FastifyReply,
): void {
  const { status, body, headers } = toErrorResponse(error);
  void send(reply, status, body, headers);
}

/** The error and not-found handlers; register on the root instance. */
export const errorHandling = namedPlugin(
  async (app) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      const { status, body, headers } = toErrorResponse(error);
      if (status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ code: body.code, status }, body.detail);
      return send(reply, status, body, headers);
    });
    app.setNotFoundHandler((request, reply) =>
      send(
        reply,
        404,
        { detail: `No route for ${request.method} ${request.url.split('?')[0]}`, code: 'ROUTE_NOT_FOUND' },
        {},
      ),
    );
  },
  { name: 'tenantry-error-handling' },
);
