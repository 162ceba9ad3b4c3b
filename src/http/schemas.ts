import { Type } from 'typebox';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/passwords.js';
import type { ErrorCode } from '../errors.js';

/** Shared TypeBox schemas: validation, TypeScript types and the OpenAPI document from one source. */

/** One problem of a 422 answer: where (a JSON pointer into the request part) and what. */
export const ValidationIssue = Type.Object(
  { path: Type.String(), message: Type.String() },
  { title: 'ValidationIssue' },
);

/**
 * The error answer of a route at one status, with the codes it can return there (an enum). Every error shares the
 * `Error` component in the OpenAPI document; see src/http/openapi.ts.
 */
export function ErrorResponseOf(codes: readonly ErrorCode[]) {
  return Type.Object(
    {
      detail: Type.String({ description: 'For people; may change' }),
      code: Type.Unsafe<ErrorCode>({ type: 'string', enum: [...codes], description: 'Stable: match on it' }),
      errors: Type.Optional(Type.Array(ValidationIssue, { description: 'Validation errors (422) only' })),
    },
    { title: 'Error' },
  );
}

/** An email as typed by a person: trimmed and lower-cased by the service, which also checks its shape. */
export const EmailInput = Type.String({
  minLength: 3,
  maxLength: 320,
  description: 'Email (case-insensitive)',
});
export const PasswordInput = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH });
/** Any non-empty password up to the maximum: login must not reveal the password policy of old accounts. */
export const LoginPasswordInput = Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH });
export const OpaqueToken = Type.String({ minLength: 1, maxLength: 512 });

export const Message = Type.Object({ message: Type.String() }, { title: 'Message' });

/** The error answers a route gives itself, by status: the OpenAPI document adds those every route shares. */
export function errorResponses(codes: Partial<Record<number, readonly ErrorCode[]>>) {
  return Object.fromEntries(
    Object.entries(codes).map(([status, list]) => [status, ErrorResponseOf(list ?? [])]),
  );
}

/** Either a bearer token or Swagger UI's OAuth2 password flow (which posts to /api/auth/login). */
export const BEARER_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { oauth2: [] }];

/**
 * Names a schema where it is declared, as `Type.Object(…, { title })` would: the title makes it a named component
 * of the OpenAPI document (see src/http/openapi.ts). Returns the same schema.
 *
 * @example
 * const Organization = named('Organization', Type.Object({ id: Type.Integer() }));
 */
export function named<T extends object>(title: string, schema: T): T {
  return Object.assign(schema, { title });
}

/** `security` of a route anyone may call. */
export const PUBLIC: Record<string, string[]>[] = [];

/**
 * Headers of tenant-only routes. They need a tenant, which X-TENANT names unless the host selects it (tenant
 * subdomains, custom domains): the tenant-context hook answers 400 TENANT_REQUIRED when neither does, so the
 * header is optional in the schema (required, it would refuse host-routed requests with 422).
 */
export const TENANT_HEADER_REQUIRED = Type.Object({
  'x-tenant': Type.Optional(
    Type.String({
      description:
        'Organization id or slug; required unless the host selects the tenant (400 TENANT_REQUIRED)',
    }),
  ),
});
