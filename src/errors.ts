/**
 * The one registry of API errors: a stable code, its HTTP status and the default human message.
 * Clients match on `code`; `detail` is for people and may be refined per call.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: 'Malformed request' },
  INVALID_JSON: { status: 400, message: 'Request body is not valid JSON' },
  TENANT_INVALID: { status: 400, message: 'X-TENANT must be an organization id or slug' },
  TENANT_REQUIRED: { status: 400, message: 'This route needs an X-TENANT header' },
  TENANT_NOT_ALLOWED: { status: 400, message: 'This route does not take an X-TENANT header' },
  TENANT_CONFLICT: {
    status: 400,
    message: 'X-TENANT names another organization than the host the request was sent to',
  },
  TOKEN_EXPIRED: { status: 400, message: 'Token has expired' },
  NOT_AUTHENTICATED: { status: 401, message: 'Not authenticated' },
  TOKEN_INVALID: { status: 401, message: 'Could not validate credentials' },
  INVALID_CREDENTIALS: { status: 401, message: 'Incorrect email or password' },
  REFRESH_TOKEN_INVALID: { status: 401, message: 'Invalid or expired refresh token' },
  FORBIDDEN: { status: 403, message: 'Not allowed' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'Email not verified' },
  NOT_OWNER: { status: 403, message: 'Only owners can create organizations' },
  TENANT_SUSPENDED: { status: 403, message: 'Organization is suspended' },
  SIGNUP_DISABLED: { status: 403, message: 'Sign-up is disabled for this organization' },
  USER_INACTIVE: { status: 403, message: 'User is inactive' },
  QUOTA_EXCEEDED: { status: 403, message: 'Organization quota reached: delete one to create another' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  ROUTE_NOT_FOUND: { status: 404, message: 'Route not found' },
  TENANT_NOT_FOUND: { status: 404, message: 'Organization not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  CONFLICT: { status: 409, message: 'Conflict' },
  EMAIL_TAKEN: { status: 409, message: 'Email already registered' },
  SLUG_TAKEN: { status: 409, message: 'Slug already taken' },
  DOMAIN_TAKEN: { status: 409, message: 'Domain already attached to an organization' },
  LAST_OWNER: { status: 409, message: 'The last owner cannot be demoted, deactivated or deleted' },
  OWNER_PROTECTED: {
    status: 409,
    message: "The organization's owner cannot be demoted, deactivated or deleted inside the tenant",
  },
  ALREADY_MEMBER: { status: 409, message: 'A user with this email already belongs to this organization' },
  INVITATION_NOT_PENDING: { status: 409, message: 'The invitation is no longer pending' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body is too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported content type' },
  VALIDATION_ERROR: { status: 422, message: 'Request validation failed' },
  HEADERS_TOO_LARGE: { status: 431, message: 'Request headers are too large' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  INTERNAL_ERROR: { status: 500, message: 'Internal server error' },
  PROVISIONING_FAILED: { status: 503, message: 'Tenant database could not be provisioned' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A dependency is unavailable, try again shortly' },
  TENANT_NOT_READY: { status: 503, message: 'Organization is still being provisioned' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ValidationIssue {
  path: string;
  message: string;
}

/** The JSON body of every error response. */
export interface ErrorBody {
  detail: string;
  code: string;
  errors?: ValidationIssue[];
}

/**
 * An error the API answers on purpose. Throw it anywhere below a route; the error handler turns it into
 * `{detail, code}` with the registered status.
 *
 * @example
 * throw new AppError('EMAIL_TAKEN', 'Email already registered in this tenant');
 */
export class AppError extends Error {
  readonly statusCode: number;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    detail?: string,
    options: {
      headers?: Record<string, string>;
      cause?: unknown;
      errors?: ValidationIssue[];
      status?: number;
    } = {},
  ) {
    super(detail ?? ERRORS[code].message, { cause: options.cause });
    this.name = 'AppError';
    // A few codes are answered with another status where the contract says so (an unknown email token is 404).
    this.statusCode = options.status ?? ERRORS[code].status;
    this.headers = options.headers ?? {};
    this.errors = options.errors;
  }

  readonly errors: ValidationIssue[] | undefined;

  toBody(): ErrorBody {
    return this.errors
      ? { detail: this.message, code: this.code, errors: this.errors }
      : { detail: this.message, code: this.code };
  }
}

/** SQLSTATE codes we map to API answers; matched by code, never by driver error class. */
export const SQLSTATE = {
  UNIQUE_VIOLATION: '23505',
  FOREIGN_KEY_VIOLATION: '23503',
  UNDEFINED_TABLE: '42P01',
  DUPLICATE_DATABASE: '42P04',
  INVALID_CATALOG_NAME: '3D000',
  INSUFFICIENT_PRIVILEGE: '42501',
  TOO_MANY_CONNECTIONS: '53300',
  CANNOT_CONNECT_NOW: '57P03',
  ADMIN_SHUTDOWN: '57P01',
} as const;

/** The SQLSTATE of a database error, if it carries one. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') {
    return /^[0-9A-Z]{5}$/.test(error.code) ? error.code : undefined;
  }
  return undefined;
}

/** True for a unique-constraint violation (SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === SQLSTATE.UNIQUE_VIOLATION;
}
