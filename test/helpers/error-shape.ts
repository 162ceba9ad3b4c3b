import type { LightMyRequestResponse } from 'fastify';
import { ERRORS, type ErrorCode } from '../../src/errors.js';

/** The statuses docs/API.md lists ("Status codes"), and the success statuses of its tables. */
export const DOCUMENTED_ERROR_STATUSES = new Set([400, 401, 403, 404, 409, 413, 415, 422, 429, 503]);

/** Codes answered with another status than their registered one, where docs/API.md says so. */
const DOCUMENTED_OVERRIDES: Record<string, number[]> = {
  // GET/POST /api/auth/verify: an unknown email token is 404 TOKEN_INVALID.
  TOKEN_INVALID: [404],
};

/**
 * Why an error answer breaks the contract, or null when it keeps it: a documented status, JSON
 * `{detail: string, code: string, errors?: [{path, message}]}` and nothing else, a registered code whose status
 * is the one answered, `WWW-Authenticate: Bearer` on 401 and `Retry-After` on 429 and 503.
 */
export function errorShapeProblem(res: LightMyRequestResponse, method = 'GET'): string | null {
  const status = res.statusCode;
  if (status >= 500 && status !== 503) return `status ${status}`;
  if (!DOCUMENTED_ERROR_STATUSES.has(status)) return `undocumented status ${status}`;
  if (status === 401 && res.headers['www-authenticate'] !== 'Bearer') return '401 without WWW-Authenticate';
  if ((status === 429 || status === 503) && !res.headers['retry-after'])
    return `${status} without Retry-After`;
  if (method === 'HEAD') return res.body === '' ? null : 'HEAD answer with a body';
  if (!String(res.headers['content-type']).startsWith('application/json'))
    return `content-type ${String(res.headers['content-type'])}`;
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return `body is not JSON: ${res.body.slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body is not an object';
  const { detail, code, errors, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) return `extra keys ${Object.keys(rest).join(', ')}`;
  if (typeof detail !== 'string' || detail === '') return 'detail is not a non-empty string';
  if (typeof code !== 'string') return 'code is not a string';
  if (!(code in ERRORS)) return `unregistered code ${code}`;
  const registered = ERRORS[code as ErrorCode].status;
  if (registered !== status && !DOCUMENTED_OVERRIDES[code]?.includes(status))
    return `code ${code} is registered with ${registered}, answered with ${status}`;
  if (errors !== undefined) {
    if (!Array.isArray(errors) || errors.length === 0) return 'errors is not a non-empty array';
    for (const issue of errors as unknown[]) {
      const { path, message, ...more } = (issue ?? {}) as Record<string, unknown>;
      if (typeof path !== 'string' || typeof message !== 'string' || Object.keys(more).length > 0)
        return `malformed errors entry ${JSON.stringify(issue)}`;
    }
  }
  if (status === 422 && errors === undefined) return '422 without errors';
  if (/\bat .+:\d+:\d+\)?/.test(res.body) || /node_modules|\/src\//.test(res.body))
    return 'a stack trace or a source path in the body';
  return null;
}
