import { Type, type Static } from 'typebox';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../auth/passwords.js';

/** Shared TypeBox schemas: validation, TypeScript types and the OpenAPI document from one source. */

export const ErrorResponse = Type.Object(
  {
    detail: Type.String(),
    code: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'ErrorResponse', description: 'Every error answer' },
);

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

export const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  refresh_token: Type.String(),
});
export type TokenResponse = Static<typeof TokenResponse>;

export const Message = Type.Object({ message: Type.String() });

export const CoreUser = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  is_owner: Type.Boolean(),
  is_verified: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

export const TenantUser = Type.Object({
  id: Type.Integer(),
  email: Type.String(),
  role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]),
  is_active: Type.Boolean(),
  created_at: Type.String({ format: 'date-time' }),
});

/** Error answers a route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponse]));
}

/** Either a bearer token or Swagger UI's OAuth2 password flow (which posts to /api/auth/login). */
export const BEARER_SECURITY: Record<string, string[]>[] = [{ bearer: [] }, { oauth2: [] }];
